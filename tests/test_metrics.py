"""The evaluation metrics on hand-computed cases (definitions: eval/README.md)."""

from __future__ import annotations

import math

import pytest

from rag_papers.evaluation import metrics as m


# -- ranking ----------------------------------------------------------------------------
def test_ranking_metrics_with_one_gold_paper_missing_from_the_ranking() -> None:
    ranked = ["a", "b", "c", "d", "e"]
    gold = ["c", "x"]  # x was never retrieved
    assert m.hit_at_k(ranked, gold, 1) == 0.0
    assert m.hit_at_k(ranked, gold, 3) == 1.0
    assert m.recall_at_k(ranked, gold, 1) == 0.0
    assert m.recall_at_k(ranked, gold, 3) == 0.5
    assert m.recall_at_k(ranked, gold, 10) == 0.5
    assert m.reciprocal_rank(ranked, gold) == pytest.approx(1 / 3)
    # DCG = 1/log2(3+1) = 0.5; ideal DCG with two gold papers = 1 + 1/log2(3)
    assert m.ndcg_at_k(ranked, gold, 10) == pytest.approx(0.5 / (1 + 1 / math.log2(3)))


def test_ranking_metrics_when_every_gold_paper_is_on_top() -> None:
    ranked = ["g1", "g2", "z"]
    assert m.ndcg_at_k(ranked, ["g1", "g2"], 10) == pytest.approx(1.0)
    assert m.reciprocal_rank(ranked, ["g2"]) == 0.5
    assert m.ndcg_at_k(ranked, ["g2"], 10) == pytest.approx(1 / math.log2(3))
    assert m.reciprocal_rank(ranked, ["nope"]) == 0.0
    assert m.ndcg_at_k(ranked, ["nope"], 10) == 0.0


def test_ndcg_ideal_is_capped_at_k() -> None:
    # Three gold papers but k = 2: a ranking with two gold on top is ideal.
    assert m.ndcg_at_k(["g1", "g2", "g3"], ["g1", "g2", "g3"], 2) == pytest.approx(1.0)


def test_metrics_are_undefined_without_gold_papers_and_means_skip_them() -> None:
    row = m.retrieval_metrics(["a", "b"], [])
    assert set(row) == {
        "hit@1",
        "hit@3",
        "hit@5",
        "hit@10",
        "recall@1",
        "recall@3",
        "recall@5",
        "recall@10",
        "mrr",
        "ndcg@10",
    }
    assert all(v is None for v in row.values())
    assert m.mean([1.0, None, 0.0]) == 0.5
    assert m.mean([None, None]) is None


def test_tied_scores_put_gold_last_in_its_tie_group() -> None:
    ranked = ["a", "b", "c"]
    scores = [0.5, 0.5, 0.3]
    assert m.break_ties(ranked, scores, ["a"]) == ["b", "a", "c"]
    assert m.reciprocal_rank(m.break_ties(ranked, scores, ["a"]), ["a"]) == 0.5
    assert m.reciprocal_rank(ranked, ["a"]) == 1.0  # as ranked, without the tie rule
    # Untied gold keeps its place; two gold papers in one group keep their order.
    assert m.break_ties(ranked, scores, ["c"]) == ["a", "b", "c"]
    assert m.break_ties(ranked, scores, ["a", "b"]) == ["a", "b", "c"]
    # RRF sums that are equal up to float rounding are one tie.
    rrf = [1 / 61 + 1 / 64, 1 / 64 + 1 / 61]
    assert m.break_ties(["g", "n"], rrf, ["g"]) == ["n", "g"]


def test_duplicate_ids_count_once_at_their_first_rank() -> None:
    ranked = ["a", "a", "b"]
    assert m.reciprocal_rank(ranked, ["b"]) == 0.5
    assert m.recall_at_k(ranked, ["b"], 2) == 1.0
    assert m.gold_ranks(ranked, ["b", "x"]) == {"b": 2, "x": None}


def test_percentile_interpolates_like_numpy() -> None:
    assert m.percentile([4.0, 1.0, 3.0, 2.0], 50) == pytest.approx(2.5)
    assert m.percentile([1.0, 2.0, 3.0, 4.0], 95) == pytest.approx(3.85)
    assert m.percentile([7.0], 95) == 7.0
    assert m.percentile([], 50) is None


# -- abstention and answer rate ---------------------------------------------------------
def test_abstention_precision_recall_f1() -> None:
    abstained = [True, False, True, False]
    answerable = [False, False, True, True]
    # one correct abstention (q1), one wrong abstention (q3), one missed (q2)
    assert m.abstention_prf(abstained, answerable) == {
        "abstention_precision": 0.5,
        "abstention_recall": 0.5,
        "abstention_f1": 0.5,
    }
    assert m.abstention_prf([True, True], [False, False])["abstention_f1"] == 1.0
    assert m.abstention_prf([False, True], [False, True]) == {
        "abstention_precision": 0.0,
        "abstention_recall": 0.0,
        "abstention_f1": 0.0,
    }


def test_abstention_metrics_are_undefined_not_zero_when_they_cannot_be_computed() -> None:
    never = m.abstention_prf([False, False], [False, True])
    assert never["abstention_precision"] is None  # nothing abstained
    assert never["abstention_recall"] == 0.0
    assert never["abstention_f1"] is None
    assert m.abstention_prf([True], [True])["abstention_recall"] is None  # no unanswerable question


def test_answer_rate_counts_only_answerable_questions() -> None:
    assert m.answer_rate([False, True, True], [True, True, False]) == 0.5
    assert m.answer_rate([True], [False]) is None


# -- citations --------------------------------------------------------------------------
def test_citation_validity_precision_recall() -> None:
    assert m.citation_validity([1, 2, 7], n_sources=5) == pytest.approx(2 / 3)
    assert m.citation_validity([0, 6], n_sources=5) == 0.0
    assert m.citation_validity([], n_sources=5) is None
    assert m.citation_precision(["p1", "p2", "p1"], ["p1"]) == 0.5
    assert m.citation_precision([], ["p1"]) is None
    assert m.citation_recall(["p1"], ["p1", "p3"]) == 0.5
    assert m.citation_recall(["p1"], []) is None


# -- answer facts -----------------------------------------------------------------------
ANSWER = (
    "Our framework produces a comprehensive archive with over 24 million unique image-text pairs "
    "from over 6 million articles [1]. The models achieve state-of-the-art performance across 40 tasks, "
    "with a 6.56% average improvement in zero-shot classification, all while using 10x less compute [1]."
)


@pytest.mark.parametrize(
    "fact",
    [
        "over 24 million unique image-text pairs from over 6 million articles",
        "state-of-the-art across 40 tasks",
        "6.56% average zero-shot improvement",
        "10x less compute",
        "six alignment tasks",  # stated below as a word
    ],
)
def test_fact_matcher_positive_cases(fact: str) -> None:
    answer = ANSWER + " It is evaluated on six alignment tasks [2]."
    assert m.match_fact(fact, answer).matched, m.match_fact(fact, answer)


@pytest.mark.parametrize(
    ("fact", "why"),
    [
        ("over 25 million unique image-text pairs", "a different figure"),
        ("6.56% average zero-shot improvement (29.8% dermatology)", "a figure the answer lacks"),
        ("six alignment tasks and four reasoning tasks", "four is not stated"),
        ("Seismic organizes inverted lists into blocks", "another paper's content"),
        ("uses a frozen image encoder", "two of three terms is not enough for a short fact"),
    ],
)
def test_fact_matcher_negative_cases(fact: str, why: str) -> None:
    answer = (
        ANSWER + " Image classification accuracy of the encoder improves with six alignment tasks."
    )
    assert not m.match_fact(fact, answer).matched, why


def test_fact_matcher_ignores_digits_inside_names_and_citation_markers() -> None:
    match = m.match_fact(
        "14x smaller embeddings on ImageNet-1K", "Embeddings are 14x smaller on ImageNet [1]."
    )
    assert match.missing_numbers == []
    assert m.match_fact(
        "the 1 trillion token corpus", "A corpus of tokens [1]."
    ).missing_numbers == ["1"]


def test_fact_matcher_uses_embeddings_only_between_the_thresholds() -> None:
    calls: list[list[str]] = []

    def embed(close: bool):  # a stand-in for the embedding model: fixed vectors, records its calls
        def fn(texts: list[str]) -> list[list[float]]:
            calls.append(texts)
            return [[1.0, 0.0], [0.9, 0.1] if close else [0.2, 1.0]]

        return fn

    fact = "pocket encoder aligned with ligand representations via contrastive training"
    answer = "The pocket encoder learns ligand representations from a large corpus."  # 3/7 terms
    near = m.match_fact(fact, answer, embed=embed(True))
    far = m.match_fact(fact, answer, embed=embed(False))
    assert 0.4 <= near.term_overlap < 0.7
    assert near.matched and near.cosine is not None and near.cosine > 0.75
    assert not far.matched
    calls.clear()
    assert not m.match_fact("Seismic latency", answer, embed=embed(True)).matched  # overlap too low
    assert calls == []
    assert m.fact_coverage([near, far]) == 0.5
    assert m.fact_coverage([]) is None


# -- summaries --------------------------------------------------------------------------
def _row(**kw: object) -> dict[str, object]:
    base = {
        "type": "lookup",
        "answerable": True,
        "has_gold": True,
        "abstained": False,
        "error": None,
        "citation_validity": 1.0,
        "citation_precision": 1.0,
        "citation_recall": 1.0,
        "fact_coverage": 0.5,
        "latency_s": 1.0,
        "ttft_s": 0.1,
        "tokens_prompt": 100,
        "tokens_completion": 10,
        "cost_usd": 0.001,
        "faithfulness": None,
        "citation_support": None,
    }
    return {**base, **kw}


def test_answer_summary_reports_not_measured_instead_of_zero() -> None:
    rows = [
        _row(),
        _row(abstained=True, fact_coverage=0.0, citation_validity=None),
        _row(error="boom"),
    ]
    out = m.summarize_answers(rows, not_judged="not measured: no judge LLM configured")
    assert out["n"] == 2 and out["n_errors"] == 1
    assert out["answer_rate"] == 0.5
    assert out["fact_coverage"] == 0.25 and out["fact_coverage_answered"] == 0.5
    assert out["faithfulness"] is None
    assert out["not_measured"]["faithfulness"] == "not measured: no judge LLM configured"
    assert out["not_measured"]["abstention_recall"].startswith("undefined")
    assert out["tokens_prompt"] == 200 and out["cost_usd"] == pytest.approx(0.002)
    assert m.summarize_answers([_row(cost_usd=None)])["cost_usd"] is None


def test_compare_to_baselines_picks_the_best_baseline_per_metric() -> None:
    ours = {"n": 3, "recall@5": 0.9, "latency_p50_s": 0.05}
    base = {
        "bm25": {"recall@5": 0.8, "latency_p50_s": 0.01},
        "dense": {"recall@5": 0.85, "latency_p50_s": 0.02},
    }
    cmp = m.compare_to_baselines(ours, base)
    assert cmp["recall@5"] == {
        "baseline": "dense",
        "baseline_value": 0.85,
        "delta": pytest.approx(0.05),
    }
    assert cmp["latency_p50_s"]["baseline"] == "bm25"  # lower is better
    assert "n" not in cmp


def test_cost_uses_prices_per_million_tokens() -> None:
    assert m.cost_usd(1_000_000, 500_000, (0.15, 0.60)) == pytest.approx(0.45)
    assert m.cost_usd(10, 10, None) is None
