"""What the answering code needs from the outside, as protocols: any object with these
methods can be passed in (a retriever over another store, a memoising embedding model)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from rag_papers.filters import Filters
    from rag_papers.types import RetrievedPaper


@runtime_checkable
class PaperRetriever(Protocol):
    """Finds the k papers most relevant to a question, best first."""

    def retrieve(
        self, question: str, *, k: int | None = None, filters: Filters | None = None
    ) -> list[RetrievedPaper]: ...


class Embedder(Protocol):
    """A sentence-embedding model (LlamaIndex's BaseEmbedding fits)."""

    def get_query_embedding(self, query: str) -> list[float]: ...

    def get_text_embedding(self, text: str) -> list[float]: ...

    def get_text_embedding_batch(self, texts: list[str], **kwargs: Any) -> list[list[float]]: ...


class TermStats(Protocol):
    """Document frequencies over the indexed chunks, for weighting a claim's terms."""

    def df(self, term: str) -> int: ...

    def idf(self, term: str) -> float: ...

    def size(self) -> int: ...


__all__ = ["Embedder", "PaperRetriever", "TermStats"]
