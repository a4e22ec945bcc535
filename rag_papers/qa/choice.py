"""Which retrieved papers an extractive answer cites: the one paper of a lookup or numeric
question, or for a list every paper close enough to the best, the papers a comparison names,
and for "which papers combine A with B" only papers that have both."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag_papers.qa.evidence import content_terms, coverage
from rag_papers.qa.mentions import (
    abbreviated,
    brings_name,
    combined_sides,
    mentioned_in_passing,
)
from rag_papers.qa.naming import Names, in_title, own_names, stated_count
from rag_papers.qa.shape import question_shape, strip_context

if TYPE_CHECKING:
    from rag_papers.qa.paper_evidence import PaperEvidence
    from rag_papers.qa.support import Evidence

# A list cites the papers within this share of the best paper's relevance (0.85 cut relevant
# papers: dev citation recall 0.924 -> 0.949, precision 0.924 -> 0.911).
LIST_RATIO = 0.78
# "Which papers combine A with B": a paper covers a side when it has this IDF-weighted share of
# its terms (or its acronym, SSM for "state space models").
FACET_COVER = 0.6
FACET_COSINE = 0.6  # ... or a sentence this similar to the side ("teachers": distillers)


class Chooser:
    """Chooses the papers an answer cites, and the paper it leads with."""

    def __init__(self, evidence: Evidence, abstain_threshold: float) -> None:
        self.evidence = evidence
        self.names = Names(evidence.stats)
        self.abstain_threshold = abstain_threshold

    def choose(self, question: str, papers: list[PaperEvidence], shape: str) -> list[PaperEvidence]:
        """The papers to cite: the best, and for lists every paper close enough to it."""
        usable, asked = [p for p in papers if p.sentences], strip_context(question)
        top = self.lead(question, usable, shape)
        if shape != "list":
            return [top]
        names = own_names(self.names.rare_words(asked), usable)
        sides = combined_sides(asked)
        if sides:  # "which papers combine A with B": only papers that have both
            vectors: dict[str, list[float]] = {}
            usable = [p for p in usable if self.covers_all(sides, p, vectors)] or usable
            top = max(usable, key=lambda p: p.relevance)
        compared = self.names.compared(asked, usable)
        if len(compared) == 1:  # "Compare how M2TRec and the contrastive cold-start …": the
            rest = [p for p in usable if p not in compared]  # or the one a title phrase names
            other = self.names.title_phrase(asked, rest) or max(rest, key=lambda p: p.relevance)
            if other.relevance >= LIST_RATIO * top.relevance:  # described one is the best other
                compared = sorted([*compared, other], key=lambda p: p.rank)
        if compared:
            return self.as_stated(question, compared, usable)
        # "Which papers are built on Baidu's …": Baidu-ULTR's paper too, when the question
        # does not name Baidu in passing
        asked_about = [w for w in names if not mentioned_in_passing(w, asked)]
        chosen = []
        for p in usable:
            own_name = any(in_title(w, t, p.paper.title) for w, t in names.items()) or any(
                brings_name(w, p.paper.abstract) for w in asked_about
            )
            if (
                p is top
                or own_name
                or (
                    p.relevance >= LIST_RATIO * top.relevance
                    and p.raw_best >= self.abstain_threshold
                )
            ):
                chosen.append(p)
        return self.as_stated(question, chosen, usable)

    def lead(self, question: str, papers: list[PaperEvidence], shape: str) -> PaperEvidence:
        """The paper an answer leads with: for a list the most relevant; otherwise the most
        relevant about what the question names, if it names something, where a near tie goes
        to the paper closest to the question's meaning (`lookup_relevance`)."""
        if shape == "list":
            return max(papers, key=lambda p: p.relevance)
        return max(self.about_names(question, papers) or papers, key=lambda p: p.lookup_relevance)

    def as_stated(
        self, question: str, chosen: list[PaperEvidence], usable: list[PaperEvidence]
    ) -> list[PaperEvidence]:
        """ "Two papers …": the two most relevant of the chosen, or the chosen and the next most
        relevant papers with support when fewer were close enough; in retrieval order."""
        count = stated_count(strip_context(question))
        if count is None or len(chosen) == count:
            return chosen
        if len(chosen) > count:
            keep = sorted(chosen, key=lambda p: -p.relevance)[:count]
        else:
            more = [p for p in usable if p not in chosen and p.raw_best >= self.abstain_threshold]
            keep = chosen + sorted(more, key=lambda p: -p.relevance)[: count - len(chosen)]
        return sorted(keep, key=lambda p: p.rank)

    def about_names(self, question: str, papers: list[PaperEvidence]) -> list[PaperEvidence]:
        """The papers about what the question names (qa/naming.Names.about)."""
        return self.names.about(strip_context(question), question_shape(question), papers)

    def about(self, question: str, papers: list[PaperEvidence]) -> list[PaperEvidence]:
        """The papers an answer may cite: all for a list, else those about what it names."""
        return papers if question_shape(question) == "list" else self.about_names(question, papers)

    def covers_all(
        self, sides: list[str], pe: PaperEvidence, vectors: dict[str, list[float]]
    ) -> bool:
        """Does the paper's title and abstract cover every side of a combination? `vectors`
        keeps each side's embedding for the other papers of the same question."""
        text = f"{pe.paper.title} {pe.paper.abstract}"
        idf = self.evidence.stats.idf

        def said(side: str) -> bool:  # a long side is often said in other words
            if side not in vectors:
                vectors[side] = self.evidence.query_vector(side)
            found = self.evidence.support(side, pe.paper, vectors[side])
            return max((s.cosine for s in found), default=0.0) >= FACET_COSINE

        return all(
            coverage(content_terms(side), pe.terms, idf) >= FACET_COVER
            or abbreviated(side, text)
            or said(side)
            for side in sides
        )


__all__ = ["Chooser"]
