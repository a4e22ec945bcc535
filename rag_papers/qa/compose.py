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
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rag_papers.qa.abstain import (
    ABSTAIN_PROBABILITY,
    Signals,
    ranks_with_fallback,
    unanswered_probability,
)
from rag_papers.qa.citations import CANNOT_ANSWER, strip_end
from rag_papers.qa.display import display_text, is_boilerplate
from rag_papers.qa.evidence import Support, content_terms, coverage, states_number, text_terms
from rag_papers.qa.mentions import abbreviated, combined_sides, states_quantity, versioned_names
from rag_papers.qa.naming import (
    BOTH_NAMED,
    Names,
    in_title,
    looks_like_name,
    named_terms,
    own_names,
    quantity_terms,
    specific_terms,
    stated_count,
)
from rag_papers.qa.roles import completed, sentence_prior

if TYPE_CHECKING:
    from rag_papers.qa.support import Evidence
    from rag_papers.types import RetrievedPaper

log = logging.getLogger(__name__)

# A follow-up rewritten offline carries what it refers to as "(about: entity)"; those words
# say what the conversation is about, not what the user asked for.
ABOUT = "(about: "

LOOKUP_SENTENCES = 4  # a lookup quotes its paper's best sentences: at most this many
LIST_SENTENCES = 2  # a list entry: at most this many sentences of its paper
# ... or this many in a list of at most FEW_ENTRIES papers: a comparison of two says how each
# works (dev facts 0.444 -> 0.455; spent v8-2024 0.411 -> 0.455), and each entry is completed
# like a lookup's answer (dev-2024 0.678 -> 0.701, v8 0.407 -> 0.421)
FEW_ENTRIES, FEW_SENTENCES = 2, 3
MORE_RATIO = 0.6  # a further sentence of the same paper needs this share of the best one's score
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
# A list cites the papers within this share of the best paper's relevance (0.85 cut relevant
# papers: dev citation recall 0.924 -> 0.949, precision 0.924 -> 0.911).
LIST_RATIO = 0.78
# "Which papers combine A with B": a paper covers a side when it has this IDF-weighted share of
# its terms (or its acronym, SSM for "state space models").
FACET_COVER = 0.6
FACET_COSINE = 0.6  # ... or a sentence this similar to the side ("teachers": distillers)
# Abstain when no retrieved paper's text is this similar (dense cosine) to the question as a
# whole: the words matched, if any, are a passing mention ("The capital of France is").
DENSE_FLOOR = 0.28
_LIST = re.compile(
    r"\b(?:which|what)\s+(?:[\w'-]+\s+){0,5}?(?:papers|works|studies|methods|approaches|techniques"
    r"|objectives|models|systems|design choices|strategies|datasets|benchmarks)\b"
    r"(?!\s+(?:did|does|has|had)\s+it\b)"  # "what models did it produce": one paper's output
    # "Compare A and B" asks for several papers; "how does X compare with Y" for one paper's
    # comparison of X against Y
    r"|(?:^|[.;:?!]\s*)compare\b|\bcomparison\b|\bthe collection\b|\bpapers\b"
    # "how do X and Y differ", "what is the difference between ...": not "reusing the
    # difference between a base model and its chat version" inside a lookup
    r"|(?:^|[.;:?!]\s+)(?:how|in what ways?)\b[^?]*\bdiffer\b"
    r"|^what(?:'s| is| are) the (?:main |key )?differences?\b"
    # "SPDF and bert2BERT both …: how do their strategies compare / what does each propose?"
    r"|" + BOTH_NAMED,
    re.IGNORECASE,
)
_NUMERIC = re.compile(
    r"\bhow (?:many|much|large|big|fast|long|accurate|well)\b|\bwhat (?:share|fraction|percentage|proportion)\b",
    re.IGNORECASE,
)


def strip_context(question: str) -> str:
    i = question.rfind(ABOUT)
    return question[:i].rstrip() if i >= 0 else question


def question_shape(question: str) -> str:
    """'list' (several papers: which papers, compare, differ), 'numeric' or 'lookup'."""
    q = strip_context(question)
    if _LIST.search(q):
        return "list"
    if quantity_terms(q) or _NUMERIC.search(q):
        return "numeric"
    return "lookup"


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


class Composer:
    """Builds the extractive answer text from the evidence of the retrieved papers."""

    def __init__(self, evidence: Evidence, abstain_threshold: float) -> None:
        self.evidence = evidence
        self.names = Names(evidence.stats)
        self.abstain_threshold = abstain_threshold

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
        reason = self.abstain_reason(question, papers)
        if reason:
            log.info("extractive: abstaining: %s", reason)
            return CANNOT_ANSWER
        shape = question_shape(question)
        chosen = self.choose(question, papers, shape)
        lines = []
        for pe in chosen:
            picks = self.sentences_for(question, pe, shape, len(chosen))
            body = " ".join(f"{strip_end(display_text(s.sentence))} [{pe.rank}]." for s in picks)
            if shape == "list" and len(chosen) > 1:
                body = f"{short_title(pe.paper.title)}: {body}"
            lines.append(body)
        return "\n\n".join(lines)

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
            return self.at_most_stated(question, compared)
        chosen = []
        for p in usable:
            own_name = any(in_title(w, t, p.paper.title) for w, t in names.items())
            if (
                p is top
                or own_name
                or (
                    p.relevance >= LIST_RATIO * top.relevance
                    and p.raw_best >= self.abstain_threshold
                )
            ):
                chosen.append(p)
        return self.at_most_stated(question, chosen)

    def lead(self, question: str, papers: list[PaperEvidence], shape: str) -> PaperEvidence:
        """The paper an answer leads with: for a list the most relevant; otherwise the most
        relevant about what the question names, if it names something, where a near tie goes
        to the paper closest to the question's meaning (`lookup_relevance`)."""
        if shape == "list":
            return max(papers, key=lambda p: p.relevance)
        return max(self.about_names(question, papers) or papers, key=lambda p: p.lookup_relevance)

    @staticmethod
    def at_most_stated(question: str, chosen: list[PaperEvidence]) -> list[PaperEvidence]:
        """ "Two papers …": the two most relevant of the chosen, in retrieval order."""
        count = stated_count(strip_context(question))
        if count is None or len(chosen) <= count:
            return chosen
        keep = sorted(chosen, key=lambda p: -p.relevance)[:count]
        return [p for p in chosen if p in keep]

    def about_names(self, question: str, papers: list[PaperEvidence]) -> list[PaperEvidence]:
        """The papers about what the question names (qa/naming.Names.about)."""
        return self.names.about(strip_context(question), question_shape(question), papers)

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

    # -- abstention ---------------------------------------------------------------------
    def gives_number(self, question: str, head: str, pe: PaperEvidence) -> bool:
        """A sentence of this paper states a number for the quantity, and the paper is about
        the thing the question names (if it names one)."""
        names = named_terms(strip_context(question))
        if names and not set(names) & pe.terms:
            return False
        return any(states_quantity(s.sentence, head, question) for s in pe.sentences)

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
        versions = versioned_names(strip_context(question))  # found by pattern, as below
        unseen = [word for word, term in specific_terms(question) if stats.df(term) == 0]
        missing = [word for word in unseen if looks_like_name(word) and word not in versions]
        if missing:  # a name the collection never uses: none of its papers is about it
            return f"the collection never mentions {', '.join(missing)}"
        texts = [f"{pe.paper.title} {pe.paper.abstract}" for pe in papers]
        absent = [n for n, pat in versions.items() if not any(pat.search(t) for t in texts)]
        if absent:
            return f"no retrieved paper mentions {', '.join(absent)}"
        shape = question_shape(question)
        about = self.about(question, papers)
        if not about:
            return "no retrieved paper names what the question names"
        sides = combined_sides(strip_context(question)) if shape == "list" else []
        vectors: dict[str, list[float]] = {}
        if sides and not any(self.covers_all(sides, pe, vectors) for pe in papers):
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

    def about(self, question: str, papers: list[PaperEvidence]) -> list[PaperEvidence]:
        """The papers an answer may cite: all for a list, else those about what it names."""
        return papers if question_shape(question) == "list" else self.about_names(question, papers)

    def names_its_paper(self, question: str, papers: list[PaperEvidence]) -> bool:
        """It names the paper it asks about by its title: that paper's best sentences answer."""
        return question_shape(question) != "list" and bool(
            self.names.titled(strip_context(question), self.about(question, papers))
        )

    def signals(self, question: str, papers: list[PaperEvidence]) -> Signals:
        """What the abstention model reads (qa/abstain.py), for the paper an answer would cite."""
        shape = question_shape(question)
        top = self.lead(question, [p for p in papers if p.sentences] or papers, shape)
        dense_rank, bm25_rank = ranks_with_fallback(
            top.paper.dense_rank,
            top.paper.bm25_rank,
            has_dense=any(pe.paper.dense_rank is not None for pe in papers),
            has_bm25=any(pe.paper.bm25_rank is not None for pe in papers),
        )
        is_list = shape == "list"
        return Signals(top.paper_coverage, best_dense(papers), dense_rank, bm25_rank, is_list)

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


def best_dense(papers: list[PaperEvidence]) -> float:
    """The best dense similarity of any retrieved paper to the question. BM25-only retrieval
    gives none: the best sentence cosine stands in."""
    scored = [pe.paper.dense_score for pe in papers if pe.paper.dense_score is not None]
    if scored:
        return max(scored)
    return max((s.support.cosine for pe in papers for s in pe.sentences), default=0.0)


def short_title(title: str) -> str:
    """'ZeroI2V: Zero-Cost Adaptation ...' -> 'ZeroI2V'; titles without a name stay whole."""
    head, sep, _ = title.partition(":")
    if sep and 1 <= len(head.split()) <= 4:
        return head.strip()
    return title.strip()


__all__ = ["ABOUT", "CANNOT_ANSWER", "Composer", "question_shape", "strip_context"]
