"""One retrieved paper's evidence for a question: its sentences ranked for the question, and
how relevant the paper is as an entry of a list or as the one paper of a lookup."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag_papers.qa.evidence import Support
    from rag_papers.types import RetrievedPaper

# Relevance of a paper = its best sentence + COVERAGE_WEIGHT x the question terms its title and
# abstract contain + FUSION_WEIGHT x its fused retrieval score scaled to about 1 at rank one.
COVERAGE_WEIGHT = 0.5
FUSION_WEIGHT = 0.2
TITLE_WEIGHT = 0.3  # ... + TITLE_WEIGHT x the share of its title's terms the question uses
# The one paper of a lookup: relevance + DENSE_WEIGHT x its dense similarity as a share of the
# best retrieved paper's. It breaks near ties between papers that share the question's words
# toward the one about its meaning (FinalMLP over DIN for "two plain feed-forward networks side
# by side"); lists keep plain relevance (with it, lists cited more papers that do not answer).
DENSE_WEIGHT = 0.2


@dataclass
class Scored:
    support: Support
    score: float  # support adjusted by the sentence's role

    @property
    def sentence(self) -> str:
        return self.support.sentence


@dataclass
class PaperEvidence:
    """One retrieved paper's sentences ranked for the question, and how well it answers."""

    rank: int  # retrieval rank, from 1
    paper: RetrievedPaper
    sentences: list[Scored] = field(default_factory=list)
    paper_coverage: float = 0.0  # question terms found in title + abstract (IDF-weighted)
    title_match: float = 0.0  # share of the title's terms the question uses (it names the paper)
    raw_best: float = 0.0  # the best sentence's support for the whole question, unadjusted
    terms: set[str] = field(default_factory=set)  # stemmed terms of its title and abstract
    dense_share: float = 0.0  # its dense similarity / the best of the retrieved papers (0: none)

    @property
    def best(self) -> float:
        return self.sentences[0].score if self.sentences else 0.0

    @property
    def relevance(self) -> float:
        fused = 60.0 * self.paper.score  # RRF with k=60: about 2 for rank one in both lists
        return (
            self.best
            + COVERAGE_WEIGHT * self.paper_coverage
            + FUSION_WEIGHT * fused
            + TITLE_WEIGHT * self.title_match
        )

    @property
    def lookup_relevance(self) -> float:
        """How well it answers as the one paper of a lookup or numeric question."""
        return self.relevance + DENSE_WEIGHT * self.dense_share


def best_dense(papers: list[PaperEvidence]) -> float:
    """The best dense similarity of any retrieved paper to the question. BM25-only retrieval
    gives none: the best sentence cosine stands in."""
    scored = [pe.paper.dense_score for pe in papers if pe.paper.dense_score is not None]
    if scored:
        return max(scored)
    return max((s.support.cosine for pe in papers for s in pe.sentences), default=0.0)


__all__ = ["PaperEvidence", "Scored", "best_dense"]
