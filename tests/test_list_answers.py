"""Which papers an answer cites (qa/choice.Chooser.choose): lists, comparisons and the one
paper of a lookup."""

from __future__ import annotations

from rag_papers.qa.naming import in_title, stated_count
from rag_papers.qa.pipeline import Pipeline


def test_a_name_in_capitals_is_in_a_title_only_as_written() -> None:
    assert not in_title("MIMIC", "mimic", "Mimic before Reconstruct: Enhancing Masked Autoencoders")
    assert in_title("MIMIC", "mimic", "Clinical Notes from MIMIC-III Summarised")
    assert in_title("Mamba", "mamba", "MoE-Mamba: Efficient Selective State Space Models")
    assert not in_title("Mamba", "mamba", "Jamba: A Hybrid Transformer Model")


def test_the_number_of_papers_a_question_states() -> None:
    assert stated_count("Two papers use hashtags in quite different ways: what does each do?") == 2
    assert stated_count("Which three recent works prune LLMs?") == 3
    assert stated_count("Which papers use hashtags?") is None
    assert stated_count("How do the two stages of training differ?") is None
    assert stated_count("Compare the two approaches to colouring grayscale video") is None


def test_a_comparison_of_a_named_and_a_described_paper_cites_both(
    sample_pipeline: Pipeline,
) -> None:
    ans = sample_pipeline.run(
        "Compare how M2TRec and the contrastive cold-start recommender with adaptive feature"
        " fusion cope with items that have no interaction history."
    )
    titles = [c.title for c in ans.citations]
    assert any(t.startswith("M2TRec") for t in titles), ans.text
    assert any(t.startswith("Contrastive Learning for Cold Start") for t in titles), ans.text


def test_a_question_about_two_papers_cites_two(sample_pipeline: Pipeline) -> None:
    ans = sample_pipeline.run(
        "Two papers use hashtags on social media in quite different ways — what does each do"
        " with them?"
    )
    assert len(ans.citations) == 2, ans.text
    assert all("Hashtag" in c.title for c in ans.citations), ans.text


def test_a_lookup_near_tie_goes_to_the_paper_about_the_question(sample_pipeline: Pipeline) -> None:
    """FinalMLP and DIN share the question's words almost equally (relevance 0.884 vs 0.885);
    FinalMLP is the one whose abstract is about it (dense similarity 0.48 vs 0.44). The answer
    had cited DIN, or abstained on its weak evidence."""
    ans = sample_pipeline.run(
        "In ad click prediction, can two plain feed-forward networks run side by side rival the"
        " fancier dual-branch architectures that add an explicit interaction network?"
    )
    assert [c.title.split(":")[0] for c in ans.citations] == ["FinalMLP"], ans.text


def test_a_title_head_that_is_also_a_word_names_its_paper_when_written_as_a_name() -> None:
    """ "What does ReGAL do …?" names "ReGAL: Refactoring Programs …" though "regal" is an English
    word; the weighing of evidence had refused it. "Scaling: …" still names no paper."""
    from types import SimpleNamespace

    from rag_papers.qa.naming import Names

    def paper(title: str) -> SimpleNamespace:
        return SimpleNamespace(paper=SimpleNamespace(title=title))

    regal = paper("ReGAL: Refactoring Programs to Discover Generalizable Abstractions")
    scaling = paper("Scaling: Laws for Everything")
    names = Names(stats=None)  # type: ignore[arg-type]  # titled() reads no statistics
    assert names.titled("What does ReGAL do to help LLMs write programs?", [regal]) == [regal]
    assert names.titled("Is a regal bearing learnable?", [regal]) == []
    assert names.titled("Scaling: what do the laws say?", [scaling]) == []
