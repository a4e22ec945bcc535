"""Sentences and support: which sentence of an abstract backs a claim, and how strongly.

Support mixes two signals, each in [0, 1]: the cosine similarity of sentence embeddings
(the same model as retrieval) and the IDF-weighted share of the claim's content terms that
the sentence contains. Rare terms (model names, datasets, numbers) weigh most, so a
sentence that names the thing asked about beats one that is merely on topic.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_ABBREV = r"(?<!\brel\.)(?<!\bresp\.)(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\bet al\.)(?<!\bvs\.)(?<!\bFig\.)(?<!\bEq\.)(?<!\bcf\.)(?<!\bapprox\.)"
# ... or where a source lost the space between two sentences ("the dataset.Our framework")
_SPLIT = re.compile(
    _ABBREV + r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])|(?<=[a-z]{2}[.!?])(?=[A-Z][a-z])"
)
_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s' default token pattern
WORD = re.compile(r"[A-Za-z0-9][\w]*(?:-[\w]+)*")  # a word as written: GPT-4, 2.0, speed-up

# Words that carry no topic in a question about papers.
_QUESTION_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "then",
        "else",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "from",
        "by",
        "with",
        "without",
        "into",
        "onto",
        "over",
        "under",
        "about",
        "above",
        "below",
        "between",
        "through",
        "during",
        "before",
        "after",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "do",
        "does",
        "did",
        "doing",
        "have",
        "has",
        "had",
        "having",
        "can",
        "could",
        "may",
        "might",
        "must",
        "shall",
        "should",
        "will",
        "would",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "they",
        "them",
        "their",
        "there",
        "here",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "whether",
        "than",
        "as",
        "so",
        "such",
        "not",
        "no",
        "nor",
        "only",
        "own",
        "same",
        "too",
        "very",
        "just",
        "also",
        "both",
        "each",
        "few",
        "more",
        "most",
        "other",
        "some",
        "any",
        "all",
        "i",
        "we",
        "you",
        "he",
        "she",
        "our",
        "your",
        "his",
        "her",
        "me",
        "us",
        "my",
        "mine",
        "yours",
        "one",
        "two",
        "using",
        "use",
        "used",
        "uses",
        "via",
        "per",
        "vs",
        "versus",
        "e.g",
        "i.e",
        "etc",
        "paper",
        "papers",
        "work",
        "works",
        "study",
        "studies",
        "approach",
        "approaches",
        "method",
        "methods",
        "propose",
        "proposed",
        "proposes",
        "present",
        "presents",
        "introduce",
        "introduces",
        "introduced",
        "show",
        "shows",
        "shown",
        "report",
        "reports",
        "reported",
        "collection",
        "describe",
        "describes",
        "described",
        "does",
        "do",
        "achieve",
        "achieves",
        "achieved",
        "perform",
        "performs",
        "performance",
        "model",
        "models",
        "result",
        "results",
        "new",
        "based",
    ]
)


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """Our question words plus bm25s' English list, so a term the index drops is dropped here
    too (loaded on first use: bm25s pulls in scipy)."""
    from bm25s.stopwords import STOPWORDS_EN

    return _QUESTION_WORDS | frozenset(STOPWORDS_EN)


def split_sentences(text: str) -> list[str]:
    """Split an abstract into sentences; abbreviations like e.g. and et al. do not end one."""
    text = " ".join(text.split())
    if not text:
        return []
    return [s.strip() for s in _SPLIT.split(text) if s.strip()]


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer  # PyStemmer: the stemmer the BM25 index uses, so terms match its vocabulary

    return Stemmer.Stemmer("english")


def content_terms(text: str) -> list[str]:
    """Stemmed content words in order, without duplicates, tokenized as the BM25 index does."""
    stop = stopwords()
    words = [w for w in _TOKEN.findall(text.lower()) if w not in stop]
    return list(dict.fromkeys(_stemmer().stemWords(words)))


# A name written with a LaTeX superscript or subscript, "S$^2$", "O$_{2}$": a question writes S2.
_SCRIPTED = re.compile(r"(?<=\w)\$[\^_]\{?(\w+)\}?\$")


def text_terms(text: str) -> set[str]:
    """The terms a passage covers: its content terms, and each two adjacent words joined, as
    a question may write them ("key phrase" covers "keyphrase", "pre-trained" "pretrained",
    "S$^2$" covers "S2")."""
    stop = stopwords()
    words = _TOKEN.findall(_SCRIPTED.sub(r"\1", text).lower())
    kept = [w for w in words if w not in stop]
    joined = [
        a + b
        for a, b in zip(words, words[1:], strict=False)
        if a.isalpha() and b.isalpha() and a not in stop and b not in stop
    ]
    return set(_stemmer().stemWords(kept + joined))  # content_terms' words, tokenized once


# Number words that state a count ("six alignment tasks"), with their values; "one" is left
# out (a pronoun as often). The answer-fact matcher (evaluation/facts.py) reads their values;
# a sentence states a number with any of them but "zero" ("zero-shot" states none), or with a
# magnitude word.
COUNT_WORDS: dict[str, str] = {
    word: str(value)
    for value, word in enumerate(
        [
            "zero",
            "_",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
    if word != "_"
} | {
    w: str(10 * (i + 3))
    for i, w in enumerate(["thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"])
}
_NUMBER_WORDS = (frozenset(COUNT_WORDS) - {"zero"}) | frozenset(
    [
        "hundred",
        "hundreds",
        "thousand",
        "thousands",
        "million",
        "millions",
        "billion",
        "billions",
        "trillion",
        "trillions",
        "dozen",
        "dozens",
        "half",
        "double",
        "twice",
        "triple",
    ]
)


def states_number(sentence: str, question: str) -> bool:
    """Does the sentence give a number of its own (not one of the question's names, like 2.0)?
    Digits count, and so do number words ("three trillion tokens")."""
    asked = {w.lower() for w in WORD.findall(question)}
    words = [w.lower() for w in WORD.findall(sentence) if w.lower() not in asked]
    return any(any(ch.isdigit() for ch in w) or w in _NUMBER_WORDS for w in words)


_ACRONYM = re.compile(r"((?:[\w-]+\s+){1,6}?)\(([A-Z][A-Za-z0-9-]*[A-Z0-9][a-z]?)\)")


def acronyms(text: str) -> dict[str, str]:
    """Acronyms an abstract defines, "Mixture of Experts (MoE)" -> {"MoE": "Mixture of Experts"}:
    the words before the parenthesis whose initials spell the acronym."""
    found: dict[str, str] = {}
    for m in _ACRONYM.finditer(text):
        short = m.group(2)
        letters = [ch.lower() for ch in short.rstrip("s") if ch.isupper()]
        words = m.group(1).split()
        for start in range(len(words) - 1, -1, -1):
            initials = [
                w[0].lower()
                for w in words[start:]
                if w.lower() not in ("of", "and", "for", "the", "a", "to", "in")
            ]
            if initials == letters or (
                len(initials) >= len(letters)
                and initials[: len(letters)] == letters
                and start == len(words) - len(initials)
            ):
                found[short] = " ".join(words[start:])
                break
    return found


def with_expansions(sentence: str, defined: dict[str, str]) -> str:
    """The sentence plus the long forms of the defined acronyms it uses."""
    extra = [
        long for short, long in defined.items() if re.search(rf"\b{re.escape(short)}s?\b", sentence)
    ]
    return f"{sentence} {' '.join(extra)}" if extra else sentence


IdfFn = Callable[[str], float]


def coverage(query_terms: Sequence[str], text_terms: set[str], idf: IdfFn) -> float:
    """IDF-weighted share of the query's terms that appear in the text (0..1)."""
    total = sum(idf(t) for t in query_terms)
    if total <= 0:
        return 0.0
    return sum(idf(t) for t in query_terms if t in text_terms) / total


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


@dataclass
class Support:
    """How well one sentence supports one claim."""

    sentence: str
    index: int
    cosine: float
    coverage: float

    @property
    def score(self) -> float:
        return 0.5 * max(self.cosine, 0.0) + 0.5 * self.coverage


def rank_support(
    claim_terms: Sequence[str],
    claim_vec: Sequence[float],
    sentences: Sequence[str],
    embed: Callable[[list[str]], Sequence[Sequence[float]]],
    idf: IdfFn,
    shortlist: int = 4,
    cover_texts: Sequence[str] | None = None,
    skip: frozenset[str] = frozenset(),
) -> list[Support]:
    """Every sentence's support for the claim, best first.

    `cover_texts` (one per sentence) is what term coverage reads, when it should see more than
    the sentence (the expansions of the acronyms it uses).

    Embedding every sentence of every retrieved abstract costs seconds on a small CPU, so only
    the `shortlist` sentences with the best term coverage (and the first, which often states
    the contribution) are embedded; the rest keep cosine 0 and rank on coverage alone.

    The `skip` terms say little about which sentence answers: the paper's own name, which most
    of its sentences carry. The best sentences without them join the shortlist ("How does
    Mixtral route tokens to experts?" embeds the router sentence too, not only the sentences
    that say Mixtral).
    """
    texts = cover_texts if cover_texts is not None else sentences
    words = [text_terms(s) for s in texts]
    covs = [coverage(claim_terms, w, idf) for w in words]

    def best(scores: list[float]) -> list[int]:  # ties: the earlier sentence
        return sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:shortlist]

    chosen = best(covs)
    rest = [t for t in claim_terms if t not in skip]
    if skip and rest:
        chosen += [i for i in best([coverage(rest, w, idf) for w in words]) if i not in chosen]
    if sentences and 0 not in chosen:
        chosen.append(0)
    vecs = dict(zip(chosen, embed([sentences[i] for i in chosen]), strict=False))
    out = [
        Support(s, i, cosine(claim_vec, vecs[i]) if i in vecs else 0.0, covs[i])
        for i, s in enumerate(sentences)
    ]
    out.sort(key=lambda sup: -sup.score)
    return out
