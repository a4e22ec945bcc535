"""The only module that imports chromadb: open the collection, write, read, query.

Embedded (PersistentClient under settings.home) by default; a Chroma server (HttpClient)
when RAG_PAPERS_CHROMA_HOST is set. The collection's metadata records the embedding model
and dimension so a store is never searched with vectors from another model.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from rag_papers import _offline  # noqa: F401
from rag_papers.errors import ConfigError, EmbeddingMismatchError
from rag_papers.settings import Settings

log = logging.getLogger(__name__)

WRITE_BATCH = 1000


@dataclass
class PaperState:
    """What the store holds of one paper: enough to decide whether to re-embed it."""

    content_hash: str
    n_chunks: int
    chunks_seen: int

    @property
    def complete(self) -> bool:
        return self.chunks_seen == self.n_chunks


class PaperStore:
    """A Chroma collection of paper chunks, plus the LlamaIndex vector store over it."""

    def __init__(self, settings: Settings) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self.settings = settings
        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=True)
        if settings.chroma_host:
            try:
                self.client = chromadb.HttpClient(
                    host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
                )
                self.client.heartbeat()
            except Exception as exc:  # chromadb raises several types for a refused connection
                raise ConfigError(
                    f"cannot reach the Chroma server at {settings.chroma_host}:{settings.chroma_port} "
                    f"({exc}) — start it with `chroma run --path DIR --host {settings.chroma_host} "
                    f"--port {settings.chroma_port}` or unset RAG_PAPERS_CHROMA_HOST for the embedded store"
                ) from exc
            self.location = f"http://{settings.chroma_host}:{settings.chroma_port}"
        else:
            settings.store_dir.mkdir(parents=True, exist_ok=True)
            self.client = chromadb.PersistentClient(
                path=str(settings.store_dir), settings=chroma_settings
            )
            self.location = str(settings.store_dir)
        self._collection: Any = None

    # -- collection -------------------------------------------------------------------
    def exists(self) -> bool:
        return self.settings.collection in {c.name for c in self.client.list_collections()}

    @property
    def collection(self) -> Any:
        if self._collection is None:
            from chromadb.errors import InvalidArgumentError

            try:
                self._collection = self.client.get_or_create_collection(
                    self.settings.collection,
                    embedding_function=None,  # Chroma's default would download a model: never use it
                    metadata={"hnsw:space": "cosine"},
                )
            except (InvalidArgumentError, ValueError) as exc:
                raise ConfigError(
                    f"Chroma refuses the collection name {self.settings.collection!r} ({exc}) — set "
                    "RAG_PAPERS_COLLECTION to 3-512 characters from a-z, A-Z, 0-9, '.', '_', '-', "
                    "starting and ending with a letter or digit"
                ) from exc
        return self._collection

    def refresh(self) -> None:
        """Forget the cached collection handle, so its metadata is read again."""
        self._collection = None

    def update_metadata(self, **values: Any) -> None:
        """Merge values into the collection's metadata (model, chunking, BM25 version)."""
        meta = dict(self.collection.metadata or {})
        meta.pop("hnsw:space", None)  # fixed at creation; Chroma refuses to modify it
        meta.update(values)
        self.collection.modify(metadata=meta)

    def model_info(self) -> tuple[str | None, int | None]:
        meta = self.collection.metadata or {}
        return meta.get("embed_model"), meta.get("embed_dim")

    def bind_model(self, model_id: str, dim: int) -> None:
        """Record the embedding model on first use; refuse a different one afterwards."""
        recorded, _ = self.model_info()
        if recorded is None:
            self.update_metadata(embed_model=model_id, embed_dim=dim)
            return
        self.check_model(model_id, dim)

    def check_chunking(self, spec: str) -> None:
        """Record how papers are chunked on first use; refuse to mix chunkings afterwards.

        Chunk ids and hashes do not depend on the chunk size, so without this check a new
        RAG_PAPERS_CHUNK_TOKENS would silently apply only to papers ingested from then on.
        """
        recorded = (self.collection.metadata or {}).get("chunking")
        if recorded is None:
            self.update_metadata(chunking=spec)
        elif recorded != spec:
            raise ConfigError(
                f"the store at {self.location} was chunked as {recorded} (tokens/overlap) but the "
                f"settings say {spec} — set RAG_PAPERS_CHUNK_TOKENS/RAG_PAPERS_CHUNK_OVERLAP back, "
                "or re-chunk everything with `rag-papers ingest --rebuild PATH...`"
            )

    def check_model(self, model_id: str, dim: int | None = None) -> None:
        recorded, recorded_dim = self.model_info()
        if recorded is None:
            return
        if recorded != model_id or (dim is not None and recorded_dim != dim):
            raise EmbeddingMismatchError(
                f"the store at {self.location} was built with embedding model {recorded} "
                f"(dim {recorded_dim}) but {model_id} is configured — set RAG_PAPERS_EMBED_MODEL/"
                f"RAG_PAPERS_EMBED_BACKEND back, or rebuild with `rag-papers ingest --rebuild PATH...`"
            )

    def reset(self) -> None:
        if self.exists():
            self.client.delete_collection(self.settings.collection)
        self._collection = None

    def vector_store(self) -> Any:
        from llama_index.vector_stores.chroma import ChromaVectorStore

        return ChromaVectorStore(chroma_collection=self.collection)

    # -- reading ----------------------------------------------------------------------
    def count_chunks(self) -> int:
        return self.collection.count() if self.exists() else 0

    def paper_states(self) -> dict[str, PaperState]:
        """paper_id -> state, read from chunk metadata (the store is the source of truth)."""
        states: dict[str, PaperState] = {}
        for _ids, _docs, metas in self.iter_chunks(include_documents=False):
            for meta in metas:
                pid = meta["paper_id"]
                st = states.get(pid)
                if st is None or st.content_hash != meta["content_hash"]:
                    if st is not None:  # chunks of two versions: count as incomplete
                        st.chunks_seen = -1
                        continue
                    states[pid] = PaperState(meta["content_hash"], int(meta["n_chunks"]), 1)
                else:
                    st.chunks_seen += 1
        return states

    def iter_chunks(
        self, *, include_documents: bool = True, batch: int = 5000
    ) -> Iterator[tuple[list[str], list[str], list[dict[str, Any]]]]:
        if not self.exists():
            return
        include = ["metadatas", "documents"] if include_documents else ["metadatas"]
        offset = 0
        while True:
            got = self.collection.get(include=include, limit=batch, offset=offset)
            ids = got["ids"]
            if not ids:
                return
            yield ids, (got.get("documents") or [""] * len(ids)), got["metadatas"]
            offset += len(ids)

    def get_papers(self, paper_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Chunk-0 metadata (which carries the whole abstract) for each paper id."""
        if not paper_ids:
            return {}
        got = self.collection.get(ids=[f"{pid}#0" for pid in paper_ids], include=["metadatas"])
        return {m["paper_id"]: m for m in got["metadatas"]}

    # -- writing ----------------------------------------------------------------------
    def delete_chunks(self, ids: Sequence[str]) -> None:
        for i in range(0, len(ids), WRITE_BATCH):
            self.collection.delete(ids=list(ids[i : i + WRITE_BATCH]))

    def delete_papers(self, paper_ids: Sequence[str]) -> None:
        for i in range(0, len(paper_ids), 500):
            self.collection.delete(where={"paper_id": {"$in": list(paper_ids[i : i + 500])}})
