"""A question that names its paper ("How does Mixtral route tokens to experts?") is answered by
the sentence that says what it asks, not by every sentence that carries the name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag_papers.qa.evidence import content_terms, rank_support

if TYPE_CHECKING:
    from rag_papers.qa.pipeline import Pipeline

SENTENCES = [
    "We introduce Mixtral, a sparse mixture of experts.",
    "Mixtral has the same architecture as Mistral, with eight experts per layer.",
    "Mixtral was trained with a context of 32k tokens.",
    "Mixtral outperforms Llama 2 while using fewer active experts.",
    "Mixtral reads 32k tokens of context.",
    "For every token, a router network selects two experts.",
]


def _embedded(skip: frozenset[str]) -> set[int]:
    asked: list[list[str]] = []

    def embed(texts: list[str]) -> list[list[float]]:
        asked.append(texts)
        return [[1.0, 0.0] for _ in texts]

    claim = content_terms("How does Mixtral route tokens to experts?")
    sups = rank_support(claim, [1.0, 0.0], SENTENCES, embed, lambda t: 1.0, skip=skip)
    assert [s.coverage for s in sorted(sups, key=lambda s: s.index)][0] > 0  # name still counts
    return {SENTENCES.index(t) for batch in asked for t in batch}


def test_the_best_sentences_without_the_papers_own_name_are_embedded_too() -> None:
    router = len(SENTENCES) - 1
    assert router not in _embedded(frozenset())  # four Mixtral sentences fill the shortlist
    with_name_skipped = _embedded(frozenset({"mixtral"}))
    assert router in with_name_skipped
    assert _embedded(frozenset()) <= with_name_skipped  # nothing embedded before is dropped


def test_a_named_paper_is_quoted_for_what_the_question_asks(sample_pipeline: Pipeline) -> None:
    ans = sample_pipeline.run(
        "What is special about CodeT5's pretraining compared with earlier code models?"
    )
    assert [c.title for c in ans.citations][:1] == [
        "CodeT5: Identifier-aware Unified Pre-trained Encoder-Decoder Models for Code "
        "Understanding and Generation"
    ]
    assert "identifier-aware pre-training task" in ans.text


def test_the_objective_a_question_names_is_quoted(sample_pipeline: Pipeline) -> None:
    ans = sample_pipeline.run(
        "What is UL2's Mixture-of-Denoisers objective, and how does the 20B UL2 model perform?"
    )
    assert "propose Mixture-of-Denoisers (MoD), a pre-training objective" in ans.text
