"""Answer facts: does an answer state a short fact from the gold abstract?

The fact matcher behind `fact_coverage` (defined in eval/README.md): a fact counts as stated
when one window of the answer holds enough of its content terms and all of its numbers, or
somewhat fewer terms and a close sentence embedding. Pure functions; the embedding comes in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from rag_papers.qa.citations import strip_markers
from rag_papers.qa.evidence import COUNT_WORDS, content_terms, cosine, split_sentences

# Fact matcher thresholds (see eval/README.md, "Answer-fact coverage").
FACT_TERM_MATCH = 0.7  # share of a fact's content terms one answer window must contain
FACT_TERM_FLOOR = 0.4  # ... or at least this share plus a close sentence embedding
FACT_COSINE_MATCH = 0.75

# A figure, not a digit inside a name: "14x", "6.56%", "2,364" count; "ImageNet-1K", "T2I" do not.
_NUMBER = re.compile(r"(?<![\w-])\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[a-z]+")


# -- answer facts -----------------------------------------------------------------------
@dataclass
class FactMatch:
    """Whether an answer states one expected fact, and the evidence for the decision."""

    fact: str
    matched: bool
    term_overlap: float
    cosine: float | None
    missing_numbers: list[str]

    def to_dict(self) -> dict[str, object]:
        return {
            "fact": self.fact,
            "matched": self.matched,
            "term_overlap": round(self.term_overlap, 4),
            "cosine": None if self.cosine is None else round(self.cosine, 4),
            "missing_numbers": self.missing_numbers,
        }


def _numbers(text: str) -> set[str]:
    """Figures in the text, thousands commas dropped, number words as digits ("six" -> "6")."""
    found = {n.replace(",", "") for n in _NUMBER.findall(text)}
    found |= {COUNT_WORDS[w] for w in _WORD.findall(text.lower()) if w in COUNT_WORDS}
    return found


EmbedFn = Callable[[list[str]], list[list[float]]]


def _windows(text: str) -> list[str]:
    """Each sentence and each pair of adjacent sentences: where one fact can be stated."""
    sents = split_sentences(text) or [text]
    return sents + [f"{a} {b}" for a, b in pairwise(sents)]


def match_fact(
    fact: str,
    answer: str,
    *,
    embed: EmbedFn | None = None,
    term_match: float = FACT_TERM_MATCH,
    term_floor: float = FACT_TERM_FLOOR,
    cosine_match: float = FACT_COSINE_MATCH,
) -> FactMatch:
    """Does the answer state this fact?

    1. Every number in the fact (24, 6.56, 2,364, "six"; not digits inside names such as
       ImageNet-1K) must appear in the answer, as digits or as a word: a fact whose figure
       is missing or different is not stated.
    2. Term overlap, in the best window (one sentence or two adjacent ones): the share of the
       fact's stemmed content terms without digits (stopwords dropped, as the BM25 index
       tokenizes) that the window contains. A match needs at least `term_match` of them and
       at least three (all of them when the fact has fewer), so a short fact cannot match on
       one shared word.
    3. Otherwise, with an embedding function, an overlap of at least `term_floor` plus a
       cosine of at least `cosine_match` between the fact and that window matches
       (paraphrases that share the key terms but word the rest differently).
    """
    body = " ".join(strip_markers(answer, " ").split())
    missing = sorted(_numbers(fact) - _numbers(body))
    terms = [t for t in content_terms(fact) if not any(ch.isdigit() for ch in t)]
    if not terms:  # a bare figure ("78.73%"): the number test decides
        return FactMatch(fact, not missing and bool(_numbers(fact)), 0.0, None, missing)
    windows = _windows(body)
    shares = [sum(1 for t in terms if t in set(content_terms(w))) / len(terms) for w in windows]
    best = max(range(len(windows)), key=lambda i: shares[i])
    overlap = shares[best]
    if missing:
        return FactMatch(fact, False, overlap, None, missing)
    needed = max(term_match, min(len(terms), 3) / len(terms))
    if overlap >= needed - 1e-9:
        return FactMatch(fact, True, overlap, None, missing)
    if embed is not None and overlap >= term_floor:
        vecs = embed([fact, windows[best]])
        cos = cosine(vecs[0], vecs[1])
        return FactMatch(fact, cos >= cosine_match, overlap, cos, missing)
    return FactMatch(fact, False, overlap, None, missing)


def fact_coverage(matches: Sequence[FactMatch]) -> float | None:
    """Share of the expected facts the answer states; None when no facts are expected."""
    if not matches:
        return None
    return sum(1 for m in matches if m.matched) / len(matches)
