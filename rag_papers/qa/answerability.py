"""When an extractive answer abstains: hard reasons that need no weighing (a name the
collection never uses, no paper about what the question names, no number for the quantity
asked), support or similarity under its floor, then the abstention model (qa/abstain.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag_papers.qa.abstain import (
    ABSTAIN_PROBABILITY,
    Signals,
    ranks_with_fallback,
    unanswered_probability,
)
from rag_papers.qa.evidence import states_number
from rag_papers.qa.mentions import (
    combined_sides,
    mentioned_in_passing,
    states_quantity,
    versioned_names,
)
from rag_papers.qa.naming import (
    GENERIC_QUANTITIES,
    has_term,
    looks_like_name,
    named_terms,
    number_forms,
    quantity_terms,
    specific_terms,
)
from rag_papers.qa.paper_evidence import best_dense
from rag_papers.qa.shape import question_shape, strip_context

if TYPE_CHECKING:
    from rag_papers.qa.choice import Chooser
    from rag_papers.qa.paper_evidence import PaperEvidence

# Abstain when no retrieved paper's text is this similar (dense cosine) to the question as a
# whole: the words matched, if any, are a passing mention ("The capital of France is").
DENSE_FLOOR = 0.28


class Answerability:
    """Decides whether the retrieved papers answer a question, and says why not."""

    def __init__(self, choice: Chooser) -> None:
        self.choice = choice
        self.evidence = choice.evidence
        self.names = choice.names
        self.abstain_threshold = choice.abstain_threshold

    def abstain_reason(self, question: str, papers: list[PaperEvidence]) -> str | None:
        """Why the retrieved sentences do not answer the question, or None when they may."""
        reason = self.hard_reason(question, papers)
        if reason or self.names_its_paper(question, papers):
            return reason
        reason = self.floor_reason(question, papers)
        if reason:
            return reason
        signals = self.signals(question, papers)
        odds = unanswered_probability(signals)
        if odds >= ABSTAIN_PROBABILITY:
            return (
                f"weak evidence: P(unanswered) {odds:.2f} from coverage {signals.coverage:.2f},"
                f" dense similarity {signals.dense:.2f}, ranks {signals.dense_rank}/{signals.bm25_rank}"
            )
        return None

    def hard_reason(self, question: str, papers: list[PaperEvidence]) -> str | None:
        """A reason that needs no weighing: a name the papers never use, no paper about what
        it names or combining what it combines, no number for the quantity asked."""
        stats = self.evidence.stats
        asked = strip_context(question)
        versions = versioned_names(asked)  # found by pattern, as below
        unseen = [
            word
            for word, term in specific_terms(question)
            if not any(stats.df(t) for t in number_forms(term))
        ]
        missing = [  # an example the question gives ("CNNs such as VGG") need not be there
            word
            for word in unseen
            if looks_like_name(word)
            and word not in versions
            and not mentioned_in_passing(word, asked)
        ]
        if missing:  # a name the collection never uses: none of its papers is about it
            return f"the collection never mentions {', '.join(missing)}"
        texts = [f"{pe.paper.title} {pe.paper.abstract}" for pe in papers]
        absent = [n for n, pat in versions.items() if not any(pat.search(t) for t in texts)]
        if absent:
            return f"no retrieved paper mentions {', '.join(absent)}"
        shape = question_shape(question)
        about = self.choice.about(question, papers)
        if not about:
            return "no retrieved paper names what the question names"
        sides = combined_sides(asked) if shape == "list" else []
        vectors: dict[str, list[float]] = {}
        if sides and not any(self.choice.covers_all(sides, pe, vectors) for pe in papers):
            return f"no retrieved paper combines {' with '.join(sides)}"
        heads = quantity_terms(question)  # a question asking for several numbers is
        if heads and not any(  # answered when the papers give one of them
            self.gives_number(question, head, pe) for head in heads for pe in about
        ):
            return f"no retrieved sentence gives a number for {' or '.join(heads)}"
        return None

    def floor_reason(self, question: str, papers: list[PaperEvidence]) -> str | None:
        """Support or similarity under its floor (checked when the question does not name its
        paper by its title): no sentence with the least support, no abstract about it."""
        best = max((pe.raw_best for pe in papers), default=0.0)
        if best < self.abstain_threshold:
            return f"best support {best:.3f} is under the threshold {self.abstain_threshold}"
        dense = best_dense(papers)
        if dense < DENSE_FLOOR and question == strip_context(question):
            return f"no retrieved abstract is about the question (dense similarity {dense:.3f})"
        return None

    def names_its_paper(self, question: str, papers: list[PaperEvidence]) -> bool:
        """It names the paper it asks about by its title: that paper's best sentences answer;
        or it compares papers it names ("How do DenseMamba and MambaMixer differ?")."""
        asked = strip_context(question)
        if question_shape(question) == "list":
            return len(self.names.compared(asked, papers)) >= 2
        return bool(self.names.titled(asked, self.choice.about(question, papers)))

    def signals(self, question: str, papers: list[PaperEvidence]) -> Signals:
        """What the abstention model reads (qa/abstain.py), for the paper an answer would cite."""
        shape = question_shape(question)
        top = self.choice.lead(question, [p for p in papers if p.sentences] or papers, shape)
        dense_rank, bm25_rank = ranks_with_fallback(
            top.paper.dense_rank,
            top.paper.bm25_rank,
            has_dense=any(pe.paper.dense_rank is not None for pe in papers),
            has_bm25=any(pe.paper.bm25_rank is not None for pe in papers),
        )
        is_list = shape == "list"
        return Signals(top.paper_coverage, best_dense(papers), dense_rank, bm25_rank, is_list)

    def gives_number(self, question: str, head: str, pe: PaperEvidence) -> bool:
        """A sentence of this paper states a number for the quantity, and the paper is about
        the thing the question names (if it names one)."""
        names = named_terms(strip_context(question))
        if names and not any(has_term(pe.terms, n) for n in names):
            return False  # "the Arabic PLM study": its abstract says PLMs
        if head in GENERIC_QUANTITIES:  # "what numbers does TokenFlow report", "up to what
            # size was it scaled": any number of its own answers ("14B parameters")
            return any(states_number(s.sentence, question) for s in pe.sentences)
        return any(states_quantity(s.sentence, head, question) for s in pe.sentences)


__all__ = ["DENSE_FLOOR", "Answerability"]
