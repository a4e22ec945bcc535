"""The abstention model (qa/abstain.py), its fitting script, and near-miss questions on the
real sample index."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from rag_papers.qa.abstain import (
    ABSTAIN_PROBABILITY,
    Signals,
    ranks_with_fallback,
    unanswered_probability,
)
from rag_papers.qa.citations import CANNOT_ANSWER

ROOT = Path(__file__).resolve().parents[1]


def _load_fit_script() -> ModuleType:
    """eval/ is a folder of scripts, not a package: load fit_abstention.py by path."""
    spec = importlib.util.spec_from_file_location(
        "eval_fit_abstention", ROOT / "eval" / "fit_abstention.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


STRONG = Signals(coverage=0.7, dense=0.65, dense_rank=1, bm25_rank=1)


@pytest.mark.parametrize(
    "weaker",
    [
        Signals(coverage=0.3, dense=0.65, dense_rank=1, bm25_rank=1),  # fewer question terms
        Signals(coverage=0.7, dense=0.40, dense_rank=1, bm25_rank=1),  # not about the question
        Signals(coverage=0.7, dense=0.65, dense_rank=None, bm25_rank=1),  # words alone found it
        Signals(coverage=0.7, dense=0.65, dense_rank=1, bm25_rank=9),
    ],
)
def test_each_weaker_signal_raises_the_probability_of_no_answer(weaker: Signals) -> None:
    assert unanswered_probability(weaker) > unanswered_probability(STRONG)


def test_the_top_paper_of_a_list_question_may_cover_less_of_it() -> None:
    """One of several papers a list asks for covers less of the question than the one paper
    of a lookup: the same signals weigh less against answering a list."""
    signals = Signals(coverage=0.4, dense=0.5, dense_rank=2, bm25_rank=1)
    as_list = Signals(coverage=0.4, dense=0.5, dense_rank=2, bm25_rank=1, is_list=True)
    assert unanswered_probability(as_list) < unanswered_probability(signals)


def test_a_paper_that_both_retrievers_rank_first_and_matches_well_is_answered() -> None:
    assert unanswered_probability(STRONG) < ABSTAIN_PROBABILITY
    passing = Signals(coverage=0.25, dense=0.38, dense_rank=None, bm25_rank=2)
    assert unanswered_probability(passing) >= ABSTAIN_PROBABILITY


def test_with_one_retriever_its_rank_stands_in_for_the_other() -> None:
    assert ranks_with_fallback(None, 3, has_dense=False, has_bm25=True) == (3, 3)
    assert ranks_with_fallback(4, None, has_dense=True, has_bm25=False) == (4, 4)
    # both ran: a paper one of them missed keeps its missing rank
    assert ranks_with_fallback(None, 3, has_dense=True, has_bm25=True) == (None, 3)


def test_fitted_weights_in_raw_units_give_the_standardised_model_probabilities() -> None:
    fit_script = _load_fit_script()
    rng = np.random.default_rng(0)
    x = np.c_[rng.uniform(0, 1, 200), rng.uniform(0, 50, 200)]  # features on different scales
    y = (x[:, 1] / 50 - x[:, 0] > 0.1).astype(float)  # separable by a line
    mean, sd = x.mean(0), x.std(0)
    w = fit_script.fit((x - mean) / sd, y)
    raw, bias = fit_script.in_own_units(w, mean, sd)
    standardised = 1 / (1 + np.exp(-(np.c_[(x - mean) / sd, np.ones(len(x))] @ w)))
    own_units = 1 / (1 + np.exp(-(x @ raw + bias)))
    assert np.allclose(standardised, own_units)
    assert raw[0] < 0 < raw[1]  # low first feature and high second one mean label 1
    assert ((own_units >= 0.5) == (y == 1)).mean() > 0.9


@pytest.mark.parametrize(
    "question",
    [
        # the words match a paper that mentions them in passing; the topic is not covered
        "Can transformer models do knowledge tracing, that is, predict whether a student will"
        " answer the next exercise correctly?",
        "How much CO2 does training a large language model emit, and how should it be measured?",
        # a video-recognition paper ranked tenth by meaning: sign language is not its topic
        "Are there pretrained video transformers adapted for continuous sign language recognition?",
    ],
)
def test_near_miss_topics_abstain_on_the_weighed_evidence(sample_pipeline, question: str) -> None:
    composer = sample_pipeline.composer
    contexts = sample_pipeline.retriever.retrieve(question, k=sample_pipeline.settings.k)
    papers = composer.analyse(question, contexts)
    # only the weighing can refuse it
    assert composer.answerability.hard_reason(question, papers) is None
    assert composer.answerability.floor_reason(question, papers) is None
    probability = unanswered_probability(composer.answerability.signals(question, papers))
    assert probability >= ABSTAIN_PROBABILITY
    ans = sample_pipeline.run(question)
    assert ans.abstained and ans.text == CANNOT_ANSWER and not ans.citations
