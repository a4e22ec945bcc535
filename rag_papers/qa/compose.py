"""Extractive answers: the abstract sentences that best support the question, each cited,
or an abstention when the retrieved papers do not answer it. Offline and deterministic."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from rag_papers.qa.citations import CANNOT_ANSWER, strip_end
from rag_papers.qa.evidence import (
    Support,
    content_terms,
    named_terms,
    quantity_terms,
    specific_terms,
    states_number,
)

if TYPE_CHECKING:
    from rag_papers.qa.support import Evidence
    from rag_papers.types import RetrievedPaper

log = logging.getLogger(__name__)

# How many papers and sentences an answer may quote.
MAX_PAPERS = 3
MAX_SENTENCES = 5

# A follow-up rewritten offline carries what it refers to as "(about: titles)"; the names in
# those titles say what the conversation is about, not what the user asked for.
ABOUT = "(about: "


def strip_context(question: str) -> str:
    i = question.rfind(ABOUT)
    return question[:i].rstrip() if i >= 0 else question


class Composer:
    """Builds the extractive answer text from the evidence of the retrieved papers."""

    def __init__(self, evidence: Evidence, abstain_threshold: float) -> None:
        self.evidence = evidence
        self.abstain_threshold = abstain_threshold

    def compose(self, question: str, contexts: list[RetrievedPaper]) -> str:
        """The answer text with [n] markers numbered by retrieval rank, or CANNOT_ANSWER."""
        if not contexts:
            return CANNOT_ANSWER
        q_vec = self.evidence.query_vector(question)
        ranked = [
            (n, self.evidence.support(question, p, q_vec)) for n, p in enumerate(contexts, start=1)
        ]
        reason = self.abstain_reason(question, contexts, [sups for _, sups in ranked])
        if reason:
            log.info("extractive: abstaining: %s", reason)
            return CANNOT_ANSWER
        best = max(sups[0].score for _, sups in ranked)
        floor = max(self.abstain_threshold, 0.8 * best)
        chosen = [(n, sups) for n, sups in ranked if sups[0].score >= floor][:MAX_PAPERS]
        picks: list[tuple[int, Support]] = [(n, sups[0]) for n, sups in chosen]
        for n, sups in chosen:  # a second sentence where it is nearly as good
            if (
                len(picks) < MAX_SENTENCES
                and len(sups) > 1
                and sups[1].score >= max(floor, 0.9 * sups[0].score)
            ):
                picks.append((n, sups[1]))
        lines = []
        for n, _ in chosen:
            sents = sorted((s for m, s in picks if m == n), key=lambda s: s.index)
            lines.append(" ".join(f"{strip_end(s.sentence)} [{n}]." for s in sents))
        return "\n\n".join(lines)

    def gives_number(
        self, question: str, head: str, paper: RetrievedPaper, sups: list[Support]
    ) -> bool:
        """A sentence of this paper states a number for the quantity, and the paper is about
        the thing the question names (if it names one)."""
        names = named_terms(strip_context(question))
        if names and not set(names) & set(content_terms(f"{paper.title} {paper.abstract}")):
            return False
        return any(
            head in content_terms(s.sentence) and states_number(s.sentence, question) for s in sups
        )

    def abstain_reason(
        self, question: str, contexts: list[RetrievedPaper], supports: list[list[Support]]
    ) -> str | None:
        """Why the retrieved sentences do not answer the question, or None when they may.

        Three tests, cheapest first: a specific name in the question (RWKV, SWE-bench) that
        the collection never mentions; a question asking for a number that no retrieved
        sentence gives next to the quantity asked about; and weak support overall.
        """
        stats = self.evidence.stats
        missing = [word for word, term in specific_terms(question) if stats.df(term) == 0]
        if missing:
            return f"the collection never mentions {', '.join(missing)}"
        for head in quantity_terms(question):
            if not any(
                self.gives_number(question, head, paper, sups)
                for paper, sups in zip(contexts, supports, strict=False)
            ):
                return f"no retrieved sentence gives a number for '{head}'"
        best = max((sups[0].score for sups in supports if sups), default=0.0)
        if best < self.abstain_threshold:
            return f"best support {best:.3f} is under the threshold {self.abstain_threshold}"
        return None


__all__ = ["ABOUT", "CANNOT_ANSWER", "Composer", "strip_context"]
