"""Evidence: which sentence of a retrieved abstract supports a claim, and how strongly.

`Evidence` owns the two things support needs, passed in rather than borrowed from the
retriever: an embedding model and term statistics. Sentence embeddings are cached across
questions (abstract sentences recur) in a cache that concurrent sessions can share.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from rag_papers.qa.evidence import (
    Support,
    acronyms,
    content_terms,
    rank_support,
    split_sentences,
    with_expansions,
)
from rag_papers.qa.ports import Embedder, TermStats

if TYPE_CHECKING:
    from rag_papers.types import RetrievedPaper

CACHE_SIZE = 20000


class Bm25TermStats:
    """Term statistics read off the BM25 index (the same tokenizer and stemmer as the terms).

    `load` returns the current BM25 retriever (or None for an empty store); it is asked on
    every call so a reloaded index is seen.
    """

    def __init__(self, load: Callable[[], object | None]) -> None:
        self.load = load

    def df(self, term: str) -> int:
        """How many chunks contain a stemmed term."""
        retriever = self.load()
        if retriever is None:
            return 0
        bm = retriever.bm25  # type: ignore[attr-defined]
        tid = bm.vocab_dict.get(term)
        indptr = bm.scores["indptr"]
        return (
            int(indptr[tid + 1] - indptr[tid]) if tid is not None and tid + 1 < len(indptr) else 0
        )

    def size(self) -> int:
        """How many chunks the index holds."""
        retriever = self.load()
        return int(retriever.bm25.scores["num_docs"]) if retriever is not None else 0  # type: ignore[attr-defined]

    def idf(self, term: str) -> float:
        """BM25 inverse document frequency over all chunks (unseen terms weigh most)."""
        n_docs = self.size()
        df = self.df(term)
        return math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))


class SentenceCache:
    """Text -> embedding, bounded, safe to share between threads.

    Lookups and inserts hold a lock; the embedding itself runs outside it. When full, the
    oldest entries go (no clear() that another thread's lookup could race).
    """

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get_many(
        self, texts: Sequence[str], compute: Callable[[list[str]], Sequence[Sequence[float]]]
    ) -> list[list[float]]:
        with self._lock:
            found = {t: self._items[t] for t in texts if t in self._items}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            vecs = [list(v) for v in compute(missing)]
            found.update(zip(missing, vecs, strict=False))
            with self._lock:
                self._items.update(zip(missing, vecs, strict=False))
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return [found[t] for t in texts]


class Evidence:
    """Support scoring with its own embedding model and term statistics.

    `embed` is a zero-argument factory (`lambda: model` for a model at hand), so the model
    can load on first use rather than when the pipeline is built.
    """

    def __init__(
        self,
        embed: Callable[[], Embedder],
        stats: TermStats,
        cache: SentenceCache | None = None,
    ) -> None:
        self._embed = embed
        self.stats = stats
        self.cache = cache or SentenceCache()

    @property
    def embed_model(self) -> Embedder:
        """The model, from the factory passed in (which may load it on first use)."""
        return self._embed()

    def query_vector(self, question: str) -> list[float]:
        return self.embed_model.get_query_embedding(question)

    def text_vector(self, text: str) -> list[float]:
        return self.embed_model.get_text_embedding(text)

    def embed_sentences(self, sentences: list[str]) -> list[list[float]]:
        return self.cache.get_many(sentences, self.embed_model.get_text_embedding_batch)

    def support(
        self,
        claim: str,
        paper: RetrievedPaper,
        claim_vec: Sequence[float] | None = None,
        skip: frozenset[str] = frozenset(),
    ) -> list[Support]:
        """Every sentence of the paper's abstract ranked by support for the claim, best first
        (`skip`: claim terms, such as the paper's own name, left out when choosing which
        sentences to embed; they still count in coverage. See `rank_support`)."""
        sents = split_sentences(paper.abstract) or [paper.title]
        vec = claim_vec if claim_vec is not None else self.text_vector(claim)
        defined = acronyms(paper.abstract)  # "MoE" in a sentence covers "mixture of experts"
        cover = [with_expansions(s, defined) for s in sents] if defined else None
        return rank_support(
            content_terms(claim),
            vec,
            sents,
            self.embed_sentences,
            self.stats.idf,
            cover_texts=cover,
            skip=skip,
        )


__all__ = ["Bm25TermStats", "Evidence", "SentenceCache"]
