"""Extractive answers, composed by the shape of the question, or an abstention when the
retrieved papers do not answer it. Offline and deterministic.

- list / compare ("which papers", "compare", "how do X and Y differ"): one entry per relevant
  paper, each with that paper's sentence that best says what it does about the question.
- numeric ("how many", "what accuracy"): the sentence that states the number.
- lookup: the best one to three sentences of the one paper that answers.

A paper is cited only when one of its own sentences answers, and papers stop being added
when their support drops well below the best. Contribution sentences ("we propose", results)
are preferred to background; boilerplate (links, code and licence lines) is never quoted.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from rag_papers.qa.answerability import Answerability
from rag_papers.qa.choice import Chooser
from rag_papers.qa.citations import CANNOT_ANSWER, strip_end
from rag_papers.qa.display import display_text, is_boilerplate
from rag_papers.qa.evidence import content_terms, coverage, states_number, text_terms
from rag_papers.qa.mentions import states_quantity
from rag_papers.qa.naming import in_title, quantity_terms
from rag_papers.qa.paper_evidence import PaperEvidence, Scored
from rag_papers.qa.roles import completed, sentence_prior
from rag_papers.qa.shape import question_shape, strip_context

if TYPE_CHECKING:
    from rag_papers.qa.support import Evidence
    from rag_papers.types import RetrievedPaper

log = logging.getLogger(__name__)

LOOKUP_SENTENCES = 4  # a lookup quotes its paper's best sentences: at most this many
LIST_SENTENCES = 2  # a list entry: at most this many sentences of its paper
# ... or this many in a list of at most FEW_ENTRIES papers: a comparison of two says how each
# works (dev facts 0.444 -> 0.455; spent v8-2024 0.411 -> 0.455), and each entry is completed
# like a lookup's answer (dev-2024 0.678 -> 0.701, v8 0.407 -> 0.421)
FEW_ENTRIES, FEW_SENTENCES = 2, 3
MORE_RATIO = 0.6  # a further sentence of the same paper needs this share of the best one's score


class Composer:
    """Builds the extractive answer text from the evidence of the retrieved papers: which
    papers (qa/choice.py), whether to abstain (qa/answerability.py), which sentences."""

    def __init__(self, evidence: Evidence, abstain_threshold: float) -> None:
        self.evidence = evidence
        self.choice = Chooser(evidence, abstain_threshold)
        self.answerability = Answerability(self.choice)
        self.names = self.choice.names

    # -- evidence -----------------------------------------------------------------------
    def analyse(self, question: str, contexts: list[RetrievedPaper]) -> list[PaperEvidence]:
        """Each paper's sentences ranked for what the user asked (a follow-up's "(about: …)"
        context chose the papers in retrieval; it does not pick the sentence)."""
        asked = strip_context(question)
        about = question[len(asked) :]
        ranked = list(enumerate(contexts, start=1))
        if about:  # a follow-up: only papers that name what the conversation is about
            key = max(content_terms(about), key=self.evidence.stats.idf, default=None)
            own = [(n, p) for n, p in ranked if key in content_terms(f"{p.title} {p.abstract}")]
            ranked = own or ranked
        q_vec = self.evidence.query_vector(asked)
        dense_best = max((p.dense_score or 0.0 for p in contexts), default=0.0)
        full_vec = self.evidence.query_vector(question) if about else q_vec
        terms = content_terms(question)
        asked_terms = set(content_terms(asked))
        names = self.names.rare_words(asked)
        out = []
        for rank, paper in ranked:
            # How well the paper answers is judged on the whole question (a follow-up alone,
            # "how big is their largest model?", says little); which sentence, on what was asked.
            named_here = frozenset(t for w, t in names.items() if in_title(w, t, paper.title))
            sups = self.evidence.support(asked, paper, q_vec, skip=named_here)
            full = (
                self.evidence.support(question, paper, full_vec, skip=named_here) if about else sups
            )
            scored = [
                Scored(s, s.score + sentence_prior(s.sentence, s.index))
                for s in sups
                if not is_boilerplate(s.sentence)
            ]
            scored.sort(key=lambda x: -x.score)
            covered = text_terms(f"{paper.title} {paper.abstract}")
            cov = coverage(terms, covered, self.evidence.stats.idf)
            raw = max((x.score for x in full if not is_boilerplate(x.sentence)), default=0.0)
            title = content_terms(paper.title)
            named = sum(t in asked_terms for t in title) / len(title) if title else 0.0
            pe = PaperEvidence(rank, paper, scored, cov, named, raw, covered)
            if dense_best > 0 and paper.dense_score is not None:
                pe.dense_share = max(paper.dense_score, 0.0) / dense_best
            out.append(pe)
        return out

    # -- composition --------------------------------------------------------------------
    def compose(self, question: str, contexts: list[RetrievedPaper]) -> str:
        """The answer text with [n] markers numbered by retrieval rank, or CANNOT_ANSWER."""
        if not contexts:
            return CANNOT_ANSWER
        papers = self.analyse(question, contexts)
        reason = self.answerability.abstain_reason(question, papers)
        if reason:
            log.info("extractive: abstaining: %s", reason)
            return CANNOT_ANSWER
        shape = question_shape(question)
        chosen = self.choice.choose(question, papers, shape)
        lines = []
        for pe in chosen:
            picks = self.sentences_for(question, pe, shape, len(chosen))
            body = " ".join(f"{strip_end(display_text(s.sentence))} [{pe.rank}]." for s in picks)
            if shape == "list" and len(chosen) > 1:
                body = f"{short_title(pe.paper.title)}: {body}"
            lines.append(body)
        return "\n\n".join(lines)

    def sentences_for(
        self, question: str, pe: PaperEvidence, shape: str, entries: int = 1
    ) -> list[Scored]:
        """The sentences quoted for one paper of an answer with `entries` papers."""
        best = pe.sentences[0]
        limit = LOOKUP_SENTENCES
        if shape == "list":
            limit = FEW_SENTENCES if entries <= FEW_ENTRIES else LIST_SENTENCES
        picks = [best]
        if shape == "numeric":
            heads = quantity_terms(strip_context(question))
            numeric = [
                s
                for s in pe.sentences
                if states_number(s.sentence, question)
                and (not heads or any(states_quantity(s.sentence, h, question) for h in heads))
            ]
            if numeric and numeric[0] is not best:
                picks = (
                    [numeric[0], best]
                    if numeric[0].score >= 0.6 * best.score
                    else [best, numeric[0]]
                )
        for s in pe.sentences[1:]:
            if len(picks) >= limit:
                break
            if s not in picks and s.score >= MORE_RATIO * best.score:
                picks.append(s)
        # a reader wants what the paper does: its setting goes when a contribution is quoted
        priors = [sentence_prior(s.sentence, s.support.index) for s in picks]
        if any(p > 0 for p in priors):
            picks = [s for s, p in zip(picks, priors, strict=True) if p >= 0]
        if shape != "list" or entries <= FEW_ENTRIES:  # what it brings and how well it works
            picks = completed(picks, pe.sentences, LOOKUP_SENTENCES)  # (qa/roles.py)
        return sorted(picks, key=lambda s: s.support.index)


def short_title(title: str) -> str:
    """'ZeroI2V: Zero-Cost Adaptation ...' -> 'ZeroI2V'; titles without a name stay whole."""
    head, sep, _ = title.partition(":")
    if sep and 1 <= len(head.split()) <= 4:
        return head.strip()
    return title.strip()


__all__ = ["Composer"]
