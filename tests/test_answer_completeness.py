"""A one-paper answer says what the paper brings and how well it works; a comparison of two
papers says the same of each. Each case is an answer that once quoted only the paper's setting."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from rag_papers.qa.roles import completed, is_contribution, states_result

if TYPE_CHECKING:
    from rag_papers.qa.pipeline import Pipeline


@dataclass(frozen=True)
class Line:
    sentence: str


SETTING = Line("In supervised learning, adaptation is addressed by pre-training and fine-tuning.")
PROPOSAL = Line("We propose Learning-to-Modulate, which modulates a frozen model.")
RESULT = Line("Our method achieves state-of-the-art performance on Continual-World.")
GOAL = Line("The goal is to reduce costly in-domain data while achieving good performance.")


@pytest.mark.parametrize(
    "sentence",
    [
        RESULT.sentence,
        "Extensive experiments on five datasets demonstrate the effectiveness of our approach.",
        "It decodes 2.3x faster than the baseline.",
        "ReFT significantly outperforms SFT on GSM8K.",
        "We find that SoS pretraining increases search accuracy by 25%.",
    ],
)
def test_a_result_is_how_well_the_papers_work_does(sentence: str) -> None:
    assert states_result(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        GOAL.sentence,
        SETTING.sentence,
        "We release the code and the data.",
        "Recent works have shown strong results on reasoning benchmarks.",
        "To achieve the above analysis, we trace attention heads.",
    ],
)
def test_goals_settings_and_releases_are_no_results(sentence: str) -> None:
    assert not states_result(sentence)


def test_a_setting_alone_is_completed_by_the_proposal_and_the_result() -> None:
    ranked = [SETTING, GOAL, PROPOSAL, RESULT]
    assert is_contribution(PROPOSAL.sentence) and not is_contribution(SETTING.sentence)
    assert completed([SETTING], ranked, cap=4) == [SETTING, PROPOSAL, RESULT]
    assert completed([SETTING], ranked, cap=2) == [SETTING, PROPOSAL]  # never past the cap
    assert completed([PROPOSAL, RESULT], ranked, cap=4) == [PROPOSAL, RESULT]  # nothing missing
    assert completed([SETTING], [SETTING, GOAL], cap=4) == [SETTING]  # none to add


def _sentences(entry: str) -> int:
    return len(re.findall(r"\[\d+\]\.", entry))


def test_a_lookup_answer_states_the_papers_result(sample_pipeline: Pipeline) -> None:
    ans = sample_pipeline.run(
        "How can an agent pre-trained on many control tasks learn new tasks without losing "
        "the skills it had?"
    )
    assert [c.title for c in ans.citations] == ["Learning to Modulate pre-trained Models in RL"]
    assert "we propose a novel method, Learning-to-Modulate (L2M)" in ans.text
    assert "state-of-the-art performance on the Continual-World benchmark" in ans.text
    assert _sentences(ans.text) <= 4


def test_a_comparison_of_two_says_how_each_works(mamba_pipeline: Pipeline) -> None:
    compared = mamba_pipeline.run(
        "How do MoE-Mamba and BlackMamba differ in the way they combine Mamba with mixture of "
        "experts?"
    )
    assert [c.title.split(":")[0] for c in compared.citations] == ["BlackMamba", "MoE-Mamba"]
    entries = compared.text.split("\n\n")
    moe = next(e for e in entries if e.startswith("MoE-Mamba:"))
    assert "they should be combined with MoE" in moe  # what MoE-Mamba proposes, not only results
    assert max(map(_sentences, entries)) in (3, 4)
    listed = mamba_pipeline.run(
        "Which papers combine Mamba state space models with mixture of experts?"
    )
    entries = listed.text.split("\n\n")
    assert len(entries) >= 3 and max(map(_sentences, entries)) <= 2  # a longer list stays short
