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

from bm25s.stopwords import STOPWORDS_EN

_ABBREV = r"(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\bet al\.)(?<!\bvs\.)(?<!\bFig\.)(?<!\bEq\.)(?<!\bcf\.)(?<!\bapprox\.)"
_SPLIT = re.compile(_ABBREV + r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s' default token pattern

# Words that carry no topic in a question about papers.
STOPWORDS = frozenset(
    """a an the and or but if then else of in on at to for from by with without into onto over under
    about above below between through during before after is are was were be been being am do does did
    doing have has had having can could may might must shall should will would this that these those it
    its they them their there here what which who whom whose when where why how whether than as so such
    not no nor only own same too very just also both each few more most other some any all i we you he she
    our your his her me us my mine yours one two using use used uses via per vs versus e.g i.e etc
    paper papers work works study studies approach approaches method methods propose proposed proposes
    present presents introduce introduces introduced show shows shown report reports reported collection
    describe describes described does do achieve achieves achieved perform performs performance model models
    result results new based""".split()
) | frozenset(STOPWORDS_EN)  # bm25s' own list, so a term the index drops is dropped here too


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
    words = [w for w in _TOKEN.findall(text.lower()) if w not in STOPWORDS]
    return list(dict.fromkeys(_stemmer().stemWords(words)))


IdfFn = Callable[[str], float]


def coverage(query_terms: Sequence[str], text_terms: set[str], idf: IdfFn) -> float:
    """IDF-weighted share of the query's terms that appear in the text (0..1)."""
    total = sum(idf(t) for t in query_terms)
    if total <= 0:
        return 0.0
    return sum(idf(t) for t in query_terms if t in text_terms) / total


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
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
    sentence_vecs: Sequence[Sequence[float]],
    idf: IdfFn,
) -> list[Support]:
    """Every sentence's support for the claim, best first."""
    out = [
        Support(s, i, cosine(claim_vec, v), coverage(claim_terms, set(content_terms(s)), idf))
        for i, (s, v) in enumerate(zip(sentences, sentence_vecs))
    ]
    out.sort(key=lambda sup: -sup.score)
    return out
