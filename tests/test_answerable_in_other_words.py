"""Answerable questions that were refused: each asks in other words than the abstract, names
a thing only as an example or a kind, or asks for "numbers" without naming a quantity. Each
case is a spent held-out question (v12) the extractive answer once abstained on."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from rag_papers.qa.evidence import text_terms
from rag_papers.qa.mentions import brings_name, named_as_kind
from rag_papers.types import RetrievedPaper

if TYPE_CHECKING:
    from rag_papers.qa.pipeline import Pipeline


def cited(pipeline: Pipeline, question: str) -> tuple[list[str], str]:
    """The titles an answer cites (it must answer) and its text."""
    ans = pipeline.run(question)
    assert not ans.abstained, ans.text
    return [c.title for c in ans.citations], ans.text


def test_a_name_followed_by_style_describes_a_kind() -> None:
    asked = "Why might Bradley-Terry style reward models be a poor fit?"
    assert named_as_kind("Bradley-Terry", asked)
    assert named_as_kind("BERT", "Do BERT-like encoders help?")
    assert not named_as_kind("BERT", "How was BERT pretrained?")
    assert not named_as_kind("GPT-4", "How was BERT pretrained?")  # never named


def test_a_name_the_question_uses_as_a_kind_does_not_rule_out_the_paper(
    sample_pipeline: Pipeline,
) -> None:
    """The SPPO abstract names Bradley-Terry only as an example ("models like the
    Bradley-Terry model"); the question names it as a kind of reward model, so it is no
    reason to refuse the paper."""
    titles, _ = cited(
        sample_pipeline,
        "Why might Bradley-Terry style reward models be a poor fit for real human preferences, "
        "and is there an alignment method that treats fine-tuning as a game between two players?",
    )
    assert titles == ["Self-Play Preference Optimization for Language Model Alignment"]


def test_asking_for_numbers_is_answered_by_the_numbers_the_paper_states(
    sample_pipeline: Pipeline,
) -> None:
    titles, text = cited(
        sample_pipeline,
        "What numbers does TokenFlow report for multimodal understanding against LLaVA-1.5 13B, "
        "for reconstruction FID, and on GenEval?",
    )
    assert titles[0].startswith("TokenFlow: Unified Image Tokenizer")
    assert "7.2%" in text


def test_an_example_the_collection_never_names_is_no_reason_to_refuse(
    sample_pipeline: Pipeline,
) -> None:
    """The sample never mentions VGG or AlexNet: they are the question's examples of CNN
    embeddings, and the IMAGINATOR abstract answers the rest."""
    titles, _ = cited(
        sample_pipeline,
        "Do CNN image embeddings such as VGG or AlexNet preserve word-style analogies like king "
        "and queen, and is there a joint image-text embedding in which the words anchor the "
        "visual side?",
    )
    assert titles[0].startswith("IMAGINATOR")


def test_a_name_the_collection_never_uses_still_refuses_when_it_is_the_subject(
    sample_pipeline: Pipeline,
) -> None:
    asked = "How does QuibbleNet compare to models such as BERT?"
    composer = sample_pipeline.composer
    papers = composer.analyse(asked, sample_pipeline.retriever.retrieve(asked, k=5))
    assert composer.answerability.hard_reason(asked, papers) == (
        "the collection never mentions QuibbleNet"
    )
    assert sample_pipeline.run(asked).abstained


def test_a_list_about_a_name_cites_the_paper_whose_abstract_names_it_throughout(
    sample_pipeline: Pipeline,
) -> None:
    """Baidu-ULTR's paper has no "Baidu" in its title, but its abstract introduces Baidu-ULTR and names it four
    times: it is one of the papers built on Baidu's search engine."""
    abstract = "We introduce the Baidu-ULTR dataset. Baidu-ULTR provides rich user feedback."
    assert brings_name("Baidu", abstract)
    assert not brings_name("Baidu", "We compare with Baidu. Baidu's engine is a baseline.")
    titles, _ = cited(
        sample_pipeline,
        "Which papers are built on Baidu's web search engine, and what does each contribute?",
    )
    assert set(titles) == {
        "Pre-trained Language Model based Ranking in Baidu Search",
        "A Large Scale Search Dataset for Unbiased Learning to Rank",
    }


def test_a_comparison_of_two_papers_it_names_is_answered(mamba_pipeline: Pipeline) -> None:
    titles, text = cited(
        mamba_pipeline,
        "DenseMamba and MambaMixer both modify state space models. How do their changes differ?",
    )
    assert [t.split(":")[0] for t in titles] == ["DenseMamba", "MambaMixer"]
    assert "DenseSSM" in text and "weighted averaging" in text


S2 = RetrievedPaper(
    "s2",
    "When Do We Not Need Larger Vision Models?",
    "In this work, we discuss the point beyond which larger vision models are not necessary. "
    "First, we demonstrate the power of Scaling on Scales (S$^2$), whereby a pre-trained and "
    "frozen smaller vision model, run over multiple image scales, can outperform larger models "
    "on classification, segmentation and depth estimation.",
    0.033,
    dense_rank=1,
    bm25_rank=1,
)
GRIFFIN = RetrievedPaper(
    "griffin",
    "Griffin: Mixing Gated Linear Recurrences with Local Attention for Efficient Language Models",
    "We propose Hawk, an RNN with gated linear recurrences, and Griffin, a hybrid model that "
    "mixes gated linear recurrences with local attention. Griffin matches the performance of "
    "Llama-2 despite being trained on over 6 times fewer tokens. We scale Griffin up to 14B "
    "parameters, and explain how to shard our models for efficient distributed training.",
    0.032,
    dense_rank=2,
    bm25_rank=2,
)


def test_a_name_written_with_a_latex_superscript_is_the_name_the_question_writes(
    sample_pipeline: Pipeline,
) -> None:
    assert "s2" in text_terms(S2.abstract)
    asked = "What is Scaling on Scales (S2), and when does it remove the need for a bigger vision model?"
    composer = sample_pipeline.composer
    papers = composer.analyse(asked, [S2, GRIFFIN])
    assert [pe.paper.paper_id for pe in composer.choice.about_names(asked, papers)] == ["s2"]
    text = composer.compose(asked, [S2, GRIFFIN])
    assert "Scaling on Scales" in text and "[1]" in text and "[2]" not in text


def test_up_to_what_size_does_not_need_the_word_size(sample_pipeline: Pipeline) -> None:
    asked = (
        "How much less training data did the hybrid model mixing gated linear recurrences with "
        "local attention need to match Llama-2, and up to what size was it scaled?"
    )
    text = sample_pipeline.composer.compose(
        asked, [replace(GRIFFIN, dense_rank=1, bm25_rank=1), replace(S2, dense_rank=2, bm25_rank=2)]
    )
    assert "6 times fewer tokens [1]" in text and "[2]" not in text
