"""Models, stores, retrievers and pipelines shared across the configurations of one evaluation.

Configurations that agree on what a component depends on share one instance, and every
embedding is computed once (MemoEmbed), so adding a configuration costs its own work only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag_papers import _offline  # noqa: F401
from rag_papers.settings import Settings

if TYPE_CHECKING:
    from rag_papers.evaluation.config import EvalConfig
    from rag_papers.filters import Filters
    from rag_papers.index.store import PaperStore
    from rag_papers.providers.llm import ChatLLM
    from rag_papers.qa.pipeline import Pipeline
    from rag_papers.qa.ports import Embedder
    from rag_papers.qa.retrieve import Retriever
    from rag_papers.types import RetrievedPaper

# Settings a Retriever reads; configurations that agree on these share one.
RETRIEVER_FIELDS = (
    "home",
    "collection",
    "chroma_host",
    "chroma_port",
    "embed_backend",
    "embed_model",
    "embed_device",
    "light_query_encoder",
    "candidates",
    "rrf_k",
)


class MemoEmbed:
    """An embedding model that remembers every vector, so configurations share the work.

    Questions and abstract sentences are embedded up front in large batches (40 queries in
    one batch take about the time of three single calls on a CPU); anything else (claims
    embedded while citing) is remembered once computed. Answer latencies are therefore
    warm-cache latencies; see eval/README.md.
    """

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self._text: dict[str, list[float]] = {}
        self._query: dict[str, list[float]] = {}
        self._query_is_text: bool | None = None

    def get_text_embedding(self, text: str) -> list[float]:
        return self.get_text_embedding_batch([text])[0]

    def get_text_embedding_batch(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        missing = list(dict.fromkeys(t for t in texts if t not in self._text))
        if missing:
            self._text.update(
                zip(missing, self.inner.get_text_embedding_batch(missing, **kwargs), strict=False)
            )
        return [self._text[t] for t in texts]

    def get_query_embedding(self, query: str) -> list[float]:
        if query not in self._query:
            self._query[query] = self.inner.get_query_embedding(query)
        return self._query[query]

    def prefetch_queries(self, queries: Sequence[str]) -> None:
        """Embed queries in one batch when the model embeds queries and texts alike."""
        todo = [q for q in dict.fromkeys(queries) if q not in self._query]
        if not todo:
            return
        if self._query_is_text is None:
            single = self.inner.get_query_embedding(todo[0])
            batch = self.inner.get_text_embedding_batch([todo[0]])[0]
            self._query_is_text = (
                max(abs(a - b) for a, b in zip(single, batch, strict=False)) < 1e-4
            )
        if self._query_is_text:
            self._query.update(zip(todo, self.inner.get_text_embedding_batch(todo), strict=False))
        else:
            self._query.update((q, self.inner.get_query_embedding(q)) for q in todo)

    def prefetch_texts(self, texts: Sequence[str]) -> None:
        self.get_text_embedding_batch(list(dict.fromkeys(texts)))


class MethodRetriever:
    """A shared Retriever seen through one retrieval method: the `retrieve(question, k,
    filters)` a Pipeline calls, with the configuration's method filled in."""

    def __init__(self, inner: Retriever, method: str) -> None:
        self.inner, self.method = inner, method

    def retrieve(
        self, question: str, *, k: int | None = None, filters: Filters | None = None
    ) -> list[RetrievedPaper]:
        return self.inner.retrieve(question, k=k, filters=filters, method=self.method)


class Runtime:
    """Stores, retrievers, pipelines and LLMs, built lazily and shared across configurations."""

    def __init__(
        self, base: Settings, *, retriever: Retriever | None = None, llm: ChatLLM | None = None
    ) -> None:
        self.base = base
        self.given_retriever = retriever
        self.llm = llm
        self._stores: dict[str, PaperStore] = {}
        self._embeds: dict[str, MemoEmbed] = {}
        self._retrievers: dict[str, Retriever] = {}
        self._owned: dict[str, MemoEmbed] = {}
        self._pipelines: dict[tuple[str, str], Pipeline] = {}

    @staticmethod
    def store_key(s: Settings) -> str:
        return f"{Path(s.home).expanduser()}|{s.collection}|{s.chroma_host}|{s.chroma_port}"

    @staticmethod
    def retriever_key(s: Settings) -> str:
        """What a Retriever's results depend on (the method and k are passed per call)."""
        return "|".join(str(getattr(s, f, None)) for f in RETRIEVER_FIELDS)

    def store(self, s: Settings) -> PaperStore:
        key = self.store_key(s)
        if key not in self._stores:
            if self.given_retriever is not None and key == self.store_key(self.base):
                self._stores[key] = self.given_retriever.store
            else:
                from rag_papers.index.store import PaperStore

                self._stores[key] = PaperStore(s)
        return self._stores[key]

    def retriever(self, s: Settings) -> Retriever:
        key = self.retriever_key(s)
        if key not in self._retrievers:
            if self.given_retriever is not None and key == self.retriever_key(self.base):
                self._retrievers[key] = self.given_retriever
            else:
                from rag_papers.qa.retrieve import Retriever

                store = self.store(s)
                ekey = "|".join(
                    str(getattr(s, f, None))
                    for f in RETRIEVER_FIELDS
                    if f not in ("candidates", "rrf_k")
                )
                if ekey not in self._embeds:
                    # The retriever's own factory and model check; we only wrap the result.
                    self._embeds[ekey] = MemoEmbed(Retriever(s, store=store).embed_model)
                self._retrievers[key] = Retriever(s, store=store, embed_model=self._embeds[ekey])
                self._owned[key] = self._embeds[ekey]
        return self._retrievers[key]

    def own_memo(self, s: Settings) -> MemoEmbed | None:
        """The memoising model inside our own retriever (None for a retriever passed in)."""
        self.retriever(s)
        return self._owned.get(self.retriever_key(s))

    def embed(self, s: Settings) -> MemoEmbed:
        """A memoising view of the embedding model the settings' retriever uses."""
        memo = self.own_memo(s)
        if memo is None:
            model = self.retriever(s).embed_model
            memo = self._embeds.setdefault(f"given|{id(model)}", MemoEmbed(model))
        return memo

    def pipeline(self, cfg: EvalConfig, mode: str) -> Pipeline:
        if (cfg.name, mode) not in self._pipelines:
            from rag_papers.qa.pipeline import Pipeline
            from rag_papers.qa.support import Evidence

            retriever = self.retriever(cfg.settings)
            memo = self.embed(cfg.settings)
            evidence = Evidence(lambda: memo, retriever.term_stats())
            self._pipelines[(cfg.name, mode)] = Pipeline(
                cfg.settings,
                retriever=MethodRetriever(retriever, cfg.method),
                llm=self.llm,
                evidence=evidence,
            )
        return self._pipelines[(cfg.name, mode)]


class LazyEmbed:
    """The fact matcher's embedding function; the model loads only if a fact needs it."""

    def __init__(self, factory: Callable[[], MemoEmbed]) -> None:
        self.factory = factory
        self.model: MemoEmbed | None = None

    def __call__(self, texts: list[str]) -> list[list[float]]:
        if self.model is None:
            self.model = self.factory()
        return self.model.get_text_embedding_batch(texts)


__all__ = ["RETRIEVER_FIELDS", "MemoEmbed", "MethodRetriever"]
