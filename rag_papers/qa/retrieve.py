"""Hybrid retrieval: dense (Chroma) + BM25, fused by reciprocal rank fusion, grouped by paper.

Each retriever ranks chunks; chunks are folded into papers (a paper ranks by its best
chunk), and the two paper rankings are fused with RRF. One paper therefore takes one
source number however many of its chunks match.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from rag_papers import _offline  # noqa: F401
from rag_papers.errors import IndexNotFoundError, QuestionError
from rag_papers.filters import Filters
from rag_papers.qa.support import Bm25TermStats
from rag_papers.settings import RETRIEVERS, Settings
from rag_papers.types import RetrievedPaper

if TYPE_CHECKING:
    from llama_index.retrievers.bm25 import BM25Retriever

    from rag_papers.index.store import PaperStore
    from rag_papers.qa.ports import Embedder

__all__ = ["METHODS", "Filters", "Hit", "Retriever", "rrf"]

log = logging.getLogger(__name__)

METHODS = RETRIEVERS  # one list, in settings.py
BM25_RECHECK_S = 10.0  # how often a long-lived Retriever asks whether the store changed

Hit = tuple[str, float, str, dict[str, Any]]  # paper_id, score, chunk text, chunk metadata


def rrf(rankings: list[list[str]], k: int = 60) -> dict[str, float]:
    """Reciprocal rank fusion: sum over rankings of 1 / (k + rank), rank from 1."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
    return scores


def _group(hits: list[Hit]) -> list[tuple[str, float, list[str]]]:
    """Chunk hits (paper_id, score, text, meta), best first -> papers in order of their best chunk."""
    order: list[str] = []
    best: dict[str, float] = {}
    texts: dict[str, list[str]] = {}
    for pid, score, text, _meta in hits:
        if pid not in best:
            order.append(pid)
            best[pid] = score
            texts[pid] = []
        texts[pid].append(text)
    return [(pid, best[pid], texts[pid]) for pid in order]


class Retriever:
    """Dense, BM25 and hybrid retrieval over one store. Thread-safe; heavy parts load lazily."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        store: PaperStore | None = None,
        embed_model: Embedder | None = None,
    ):
        self.settings = settings or Settings()
        self._store = store
        self._embed_model = embed_model
        self._bm25: BM25Retriever | None = None
        self._bm25_version: str | None = None
        self._bm25_checked = 0.0
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    # -- lazily built parts -------------------------------------------------------------
    @property
    def store(self) -> PaperStore:
        if self._store is None:
            from rag_papers.index.store import PaperStore

            self._store = PaperStore(self.settings)
        return self._store

    @property
    def embed_model(self) -> Embedder:
        with self._lock:
            if self._embed_model is None:
                from rag_papers.providers.embed import embed_model_id, make_query_model

                self.store.check_model(embed_model_id(self.settings))
                self._embed_model = make_query_model(self.settings)
            return self._embed_model

    def bm25(self) -> BM25Retriever | None:
        """The BM25 retriever; a long-running reader (the chat page) re-checks every
        BM25_RECHECK_S seconds whether a writer changed the store, and reloads if so."""
        from rag_papers.index.bm25 import load_bm25, store_version

        with self._lock:
            now = time.monotonic()
            if self._bm25 is not None and now - self._bm25_checked > BM25_RECHECK_S:
                self._bm25_checked = now
                if store_version(self.store, fresh=True) != self._bm25_version:
                    log.info("the store changed since the BM25 index was loaded; reloading it")
                    self.store.refresh()
                    self._bm25 = None
            if self._bm25 is None:
                self._bm25 = load_bm25(self.store, self.settings)
                self._bm25_version = store_version(self.store)
                self._bm25_checked = now
            return self._bm25

    def term_stats(self) -> Bm25TermStats:
        """Term statistics of this store's BM25 index (reloaded with it when the store changes)."""
        return Bm25TermStats(self.bm25)

    def reload(self) -> None:
        """Read the store afresh now (after this process wrote to it), not at the next re-check."""
        with self._lock:
            self.store.refresh()
            self._bm25 = None

    def undated_excluded(self, filters: Filters | None) -> int:
        """How many papers without a date the filter's date range left out (0 without one)."""
        if filters is None or filters.include_undated or not filters.has_dates():
            return 0
        retriever = self.bm25()
        if retriever is None:
            return 0
        title = (filters.title_contains or "").lower()
        return len(
            {
                m.get("paper_id")
                for m in retriever.corpus
                if not int(m.get("published_ord") or 0)
                and (not title or title in str(m.get("title", "")).lower())
            }
        )

    def ensure_index(self) -> None:
        if self.store.count_chunks() == 0:
            from rag_papers.index.stats import manifest_mismatch

            mismatch = manifest_mismatch(self.settings, 0)
            if mismatch:
                raise IndexNotFoundError(mismatch)
            raise IndexNotFoundError(
                f'no papers indexed in {self.store.location} — run "rag-papers ingest --sample" '
                'for the bundled corpus or "rag-papers ingest PATH" first'
            )

    # -- retrieval ----------------------------------------------------------------------
    def dense_hits(self, question: str, n: int, filters: Filters | None = None) -> list[Hit]:
        """Chunks nearest the question in the vector store, with cosine similarity."""
        vec = self.embed_model.get_query_embedding(question)
        return [
            (m.paper_id, m.similarity, m.text, m.metadata)
            for m in self.store.query(vec, n, filters)
        ]

    def bm25_hits(self, question: str, n: int, filters: Filters | None = None) -> list[Hit]:
        """Chunks ranked by BM25 (the retriever's own tokenizer and stemmer), honouring filters."""
        import bm25s
        import numpy as np

        retriever = self.bm25()
        if retriever is None:
            return []
        meta = retriever.corpus  # from the same object as the index, even if another thread reloads
        mask = None
        if filters and not filters.is_empty():
            mask = np.fromiter(
                (1 if filters.match(m) else 0 for m in meta), dtype=np.float32, count=len(meta)
            )
            if not mask.any():
                return []
        tokens = bm25s.tokenize(
            question,
            stemmer=retriever.stemmer if not retriever.skip_stemming else None,
            token_pattern=retriever.token_pattern,
            show_progress=False,
        )
        if not tokens.vocab:
            return []
        k = min(n, len(meta))
        idx, scores = retriever.bm25.retrieve(
            tokens, k=k, weight_mask=mask, show_progress=False, n_threads=1
        )
        hits = []
        for i, score in zip(idx[0], scores[0], strict=False):
            if score <= 0:
                continue
            node = (
                i if isinstance(i, dict) else meta[int(i)]
            )  # bm25s returns docs when it holds the corpus
            text = json.loads(node.get("_node_content", "{}")).get("text", "")
            hits.append((node["paper_id"], float(score), text, node))
        return hits

    def retrieve(
        self,
        question: str,
        *,
        k: int | None = None,
        filters: Filters | None = None,
        method: str | None = None,
    ) -> list[RetrievedPaper]:
        """The k most relevant papers for the question, best first."""
        method = method or self.settings.retriever
        if method not in METHODS:
            raise QuestionError(
                f"unknown retrieval method {method!r} — use one of {', '.join(METHODS)}"
            )
        k = self.settings.k if k is None else k
        self.ensure_index()
        n = max(self.settings.candidates, k * 3)
        if method == "hybrid":  # the two searches overlap: numpy, bm25s and Chroma release the GIL
            # Load both indexes (and so import llama-index) in this thread first: two threads
            # importing llama_index.core for the first time at once hit its circular imports.
            self.bm25()
            _ = self.embed_model
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=2, thread_name_prefix="rag-papers-retrieve"
                )
            future = self._pool.submit(self.bm25_hits, question, n, filters)
            dense = self.dense_hits(question, n, filters)
            keyword = future.result()
        else:
            dense = self.dense_hits(question, n, filters) if method == "dense" else []
            keyword = self.bm25_hits(question, n, filters) if method == "bm25" else []
        dense_papers = _group(dense)
        bm25_papers = _group(keyword)
        if method == "dense":
            scores = {pid: s for pid, s, _ in dense_papers}
        elif method == "bm25":
            scores = {pid: s for pid, s, _ in bm25_papers}
        else:
            scores = rrf(
                [[p for p, _, _ in dense_papers], [p for p, _, _ in bm25_papers]],
                self.settings.rrf_k,
            )
        top = sorted(scores, key=lambda pid: -scores[pid])[:k]
        info = self.store.get_papers(top)
        d_rank = {pid: r for r, (pid, _, _) in enumerate(dense_papers, 1)}
        d_score = {pid: s for pid, s, _ in dense_papers}
        b_rank = {pid: r for r, (pid, _, _) in enumerate(bm25_papers, 1)}
        b_score = {pid: s for pid, s, _ in bm25_papers}
        chunks = {pid: t for pid, _, t in dense_papers}
        for pid, _, t in bm25_papers:
            chunks.setdefault(pid, t)
        out = []
        for pid in top:
            meta = dict(info.get(pid, {}))
            out.append(
                RetrievedPaper(
                    paper_id=pid,
                    title=str(meta.get("title", "")),
                    abstract=str(meta.pop("abstract", "")),
                    score=float(scores[pid]),
                    metadata={k2: v for k2, v in meta.items() if not k2.startswith("_")},
                    chunks=chunks.get(pid, []),
                    dense_rank=d_rank.get(pid),
                    bm25_rank=b_rank.get(pid),
                    dense_score=d_score.get(pid),
                    bm25_score=b_score.get(pid),
                )
            )
        return out
