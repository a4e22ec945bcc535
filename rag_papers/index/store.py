"""The only module that imports chromadb: open the collection, write, read, query.

Embedded (PersistentClient under settings.home) by default; a Chroma server (HttpClient)
when RAG_PAPERS_CHROMA_HOST is set. The collection's metadata records the embedding model
and dimension so a store is never searched with vectors from another model.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from rag_papers import _offline  # noqa: F401
from rag_papers.errors import (
    ConfigError,
    EmbeddingMismatchError,
    RagPapersError,
    StoreDamagedError,
)
from rag_papers.filters import Filters
from rag_papers.settings import Settings

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection
    from chromadb.api.types import GetResult, Include, Where
    from llama_index.vector_stores.chroma import ChromaVectorStore

log = logging.getLogger(__name__)

WRITE_BATCH = 1000
# Chunks read per page. Each get() of a page costs ~26 kB a chunk in transient allocations
# (20-odd metadata keys, the node JSON), made on Chroma's worker threads, whose malloc arenas
# keep their high-water mark: 5000-chunk pages grew a process by ~130 MB a page until every
# arena had seen one (+1 GB reading a 112k-chunk store); 1000-chunk pages stay flat.
READ_BATCH = 1000

# HNSW search beam (hnswlib's ef) for dense queries. With Chroma's default of 100, 2-8 of
# the 58 dev questions lost one of their 30 nearest chunks of the sample store (992 chunks;
# exact ranks 8-30), different ones in each process: the embedded store rebuilds its HNSW
# graph from the write log, in parallel and in a random order, in every process that opens
# it while fewer than sync_threshold (1000) writes were applied since the graph was saved.
# A beam at least as large as the store visits every reachable chunk, so the search is
# exact up to 1000 chunks; beyond that it stays approximate, with a 10x wider beam. It
# costs about a millisecond a query (fetching the hits' documents and metadata ~30 ms).
DENSE_EF_SEARCH = 1000


DB_FILE = "chroma.sqlite3"


def sqlite_problem(db: Path) -> str | None:
    """What SQLite's own quick check finds wrong with a database file; None if it is sound.

    Read-only and only run after something failed (or before --rebuild), so a healthy
    store never pays for it.
    """
    try:
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    found = [str(r[0]) for r in rows if r and r[0] != "ok"]
    return "; ".join(found[:3]) if found else None


def damage_error(settings: Settings, exc: BaseException | None = None) -> StoreDamagedError | None:
    """The error that explains a failure, if it came from a damaged embedded store.

    Chroma reports a damaged file in many ways (an InternalError "database disk image is
    malformed", a panic in its Rust log reader, a failed compactor request), so the file
    itself is checked instead of the message.
    """
    if settings.chroma_host or isinstance(exc, RagPapersError):
        return None
    db = settings.store_dir / DB_FILE
    if not db.is_file():
        return None
    problem = sqlite_problem(db)
    if problem is None:
        return None
    return StoreDamagedError(
        f"the Chroma store at {settings.store_dir} is damaged ({problem[:200]}). Rebuild it "
        "from the files you ingested: `rag-papers ingest --rebuild PATH...` (or --sample) "
        "builds a fresh store and keeps the damaged one aside as chroma.damaged-<time>; "
        f"or restore {settings.store_dir} from a backup"
    )


def move_aside(settings: Settings) -> Path:
    """Rename a damaged embedded store out of the way; returns where it went."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()  # Chroma caches one client per path
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    aside = settings.store_dir.with_name(f"{settings.store_dir.name}.damaged-{stamp}")
    settings.store_dir.rename(aside)
    log.warning("moved the damaged store %s aside to %s", settings.store_dir, aside)
    return aside


@dataclass
class PaperState:
    """What the store holds of one paper: enough to decide whether to re-embed it."""

    content_hash: str
    n_chunks: int
    chunks_seen: int

    @property
    def complete(self) -> bool:
        return self.chunks_seen == self.n_chunks


@dataclass(frozen=True)
class ChunkMatch:
    """One chunk found by a vector query, with its cosine similarity to the query."""

    paper_id: str
    similarity: float
    text: str
    metadata: dict[str, Any]


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
    def collection_names(self) -> list[str]:
        """Every paper collection in this store (home or server), sorted (writer locks left out)."""
        from rag_papers.index.lease import is_lock

        return sorted(c.name for c in self.client.list_collections() if not is_lock(c.name))

    def exists(self) -> bool:
        return self.settings.collection in {c.name for c in self.client.list_collections()}

    @property
    def collection(self) -> Collection:
        if self._collection is None:
            from chromadb.errors import InvalidArgumentError

            try:
                collection = self.client.get_or_create_collection(
                    self.settings.collection,
                    embedding_function=None,  # Chroma's default would download a model: never use it
                    metadata={"hnsw:space": "cosine"},
                    # Used only when the collection is created; the space must be repeated
                    # here, or a configuration without it makes Chroma ignore the metadata's.
                    configuration={"hnsw": {"space": "cosine", "ef_search": DENSE_EF_SEARCH}},
                )
            except (InvalidArgumentError, ValueError) as exc:
                raise ConfigError(
                    f"Chroma refuses the collection name {self.settings.collection!r} ({exc}) — set "
                    "RAG_PAPERS_COLLECTION to 3-512 characters from a-z, A-Z, 0-9, '.', '_', '-', "
                    "starting and ending with a letter or digit"
                ) from exc
            widen_search(collection)
            self._collection = collection
        return self._collection

    def refresh(self) -> None:
        """Forget the cached collection handle, so its metadata is read again."""
        self._collection = None

    def metadata(self, *, fresh: bool = False) -> dict[str, Any]:
        """The collection's metadata (model, chunking, BM25 version); `fresh` asks Chroma
        again instead of the cached handle, to see what another process wrote since."""
        collection = (
            self.client.get_collection(self.settings.collection) if fresh else self.collection
        )
        return dict(collection.metadata or {})

    def update_metadata(self, **values: str | int | float | bool) -> None:
        """Merge values into the collection's metadata (model, chunking, BM25 version)."""
        meta = self.metadata()
        meta.pop("hnsw:space", None)  # fixed at creation; Chroma refuses to modify it
        meta.update(values)
        self.collection.modify(metadata=meta)

    def model_info(self) -> tuple[str | None, int | None]:
        meta = self.metadata()
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
        recorded = self.metadata().get("chunking")
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

    def vector_store(self) -> ChromaVectorStore:
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
        self, *, include_documents: bool = True, batch: int = READ_BATCH
    ) -> Iterator[tuple[list[str], list[str], list[dict[str, Any]]]]:
        """Every chunk's (ids, documents, metadata), a page of `batch` chunks at a time."""
        if not self.exists():
            return
        include: Include = ["metadatas", "documents"] if include_documents else ["metadatas"]
        offset = 0
        while True:
            got = self.collection.get(include=include, limit=batch, offset=offset)
            ids = got["ids"]
            if not ids:
                return
            page = ids, (got.get("documents") or [""] * len(ids)), _metadatas(got)
            del got
            release_freed_memory()  # the page's transients, freed in Chroma's threads' arenas
            yield page
            offset += len(ids)

    def count_papers(self) -> int:
        if not self.count_chunks():
            return 0
        return len(self.collection.get(where={"chunk_index": 0}, include=[])["ids"])

    def list_papers(self) -> list[dict[str, Any]]:
        """Chunk-0 metadata (title, year, abstract, ...) of every paper, in store order."""
        if not self.count_chunks():
            return []
        got = self.collection.get(where={"chunk_index": 0}, include=["metadatas"])
        return _metadatas(got)

    def get_papers(self, paper_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Chunk-0 metadata (which carries the whole abstract) for each paper id."""
        if not paper_ids:
            return {}
        got = self.collection.get(ids=[f"{pid}#0" for pid in paper_ids], include=["metadatas"])
        return {str(m["paper_id"]): m for m in _metadatas(got)}

    def get_chunks(self, chunk_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The metadata of each chunk id that is stored."""
        if not chunk_ids:
            return {}
        got = self.collection.get(ids=list(chunk_ids), include=["metadatas"])
        return dict(zip(got["ids"], _metadatas(got), strict=True))

    def query(
        self, vector: list[float], n: int, filters: Filters | None = None
    ) -> list[ChunkMatch]:
        """The n chunks nearest the vector that pass the filters, nearest first."""
        from llama_index.core.vector_stores.types import VectorStoreQuery

        where = where_clause(filters) if filters else None
        by_title = bool(filters and filters.title_contains)  # tested in Python: fetch more
        want = max(n * 10, 200) if by_title else n
        query = VectorStoreQuery(query_embedding=vector, similarity_top_k=want)
        result = self.vector_store().query(query, **({"where": where} if where else {}))
        hits = []
        for node, sim in zip(result.nodes or [], result.similarities or [], strict=False):
            if filters and not filters.match(node.metadata):
                continue
            # LlamaIndex reports exp(-cosine distance); turn it back into cosine similarity.
            hits.append(
                ChunkMatch(
                    paper_id=node.metadata["paper_id"],
                    similarity=1.0 + math.log(max(sim, 1e-12)),
                    text=node.get_content(),
                    metadata=node.metadata,
                )
            )
        return hits[:n]

    # -- writing ----------------------------------------------------------------------
    def delete_chunks(self, ids: Sequence[str]) -> None:
        for i in range(0, len(ids), WRITE_BATCH):
            self.collection.delete(ids=list(ids[i : i + WRITE_BATCH]))

    def delete_papers(self, paper_ids: Sequence[str]) -> None:
        for i in range(0, len(paper_ids), 500):
            where = {"paper_id": {"$in": list(paper_ids[i : i + 500])}}
            self.collection.delete(where=cast("Where", where))


def release_freed_memory() -> None:
    """Give memory the process freed back to the system (glibc's malloc_trim; elsewhere a
    no-op). Chroma's worker threads free the transients of every write and read into
    per-thread malloc arenas that glibc keeps: about 1 kB a chunk written, over and above
    the HNSW index Chroma holds while the collection is open (~2.7 kB a 384-d chunk)."""
    global _TRIM
    if _TRIM is None:
        try:
            import ctypes

            _TRIM = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _TRIM = False
    if _TRIM:
        _TRIM(0)


_TRIM: Any = None


def widen_search(collection: Collection) -> None:
    """Raise the search beam of a collection made before DENSE_EF_SEARCH (it kept Chroma's
    100). Done once, on opening, before this process searches it: Chroma reads ef_search
    when it loads the index, so a process (or Chroma server) that had already loaded it
    keeps the old beam until it restarts. If the store cannot be written, the old beam
    stays, with a warning.
    """
    hnsw = collection.configuration.get("hnsw") or {}
    ef_search = hnsw.get("ef_search")
    if ef_search is None or ef_search >= DENSE_EF_SEARCH:
        return
    try:
        collection.modify(configuration={"hnsw": {"ef_search": DENSE_EF_SEARCH}})
    except Exception as exc:  # chromadb raises several types for a refused write
        log.warning(
            "could not widen the dense search of collection %r from ef_search %s to %s (%s); "
            "dense retrieval may miss some of the nearest chunks",
            collection.name,
            ef_search,
            DENSE_EF_SEARCH,
            exc,
        )
        return
    log.info(
        "collection %r: dense search ef_search %s -> %s",
        collection.name,
        ef_search,
        DENSE_EF_SEARCH,
    )


def _metadatas(got: GetResult) -> list[dict[str, Any]]:
    """The chunks' metadata from a Chroma get(), as plain dicts."""
    return [dict(m) for m in got["metadatas"] or []]


def where_clause(filters: Filters) -> dict[str, Any] | None:
    """The Chroma `where` clause for the date part of the filters (the title test runs in Python)."""
    lo, hi = filters.ord_bounds()
    clauses: list[dict[str, Any]] = []
    if lo is not None:
        clauses.append({"published_ord": {"$gte": lo}})
    if hi is not None:
        clauses.append({"published_ord": {"$lte": hi}})
    if lo is None and hi is not None:  # unknown dates are stored as 0: not "before" anything
        clauses.append({"published_ord": {"$gt": 0}})
    if not clauses:
        return None
    where = clauses[0] if len(clauses) == 1 else {"$and": clauses}
    if filters.include_undated:  # papers without a date are kept alongside the range
        return {"$or": [where, {"published_ord": 0}]}
    return where
