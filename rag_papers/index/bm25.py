"""The keyword index: LlamaIndex's BM25 retriever over every chunk, persisted beside the store.

It is rebuilt from the store's own chunks after each ingest that changed anything, and its
folder records the store version it was built from (kept in the collection's metadata), so
a reader whose copy is stale (another process ingested, or an ingest died) rebuilds it
instead of searching an index that disagrees with the vectors.
"""

from __future__ import annotations

import json
import logging
import shutil
import uuid
from typing import Any

from rag_papers import _offline  # noqa: F401
from rag_papers.index.store import PaperStore
from rag_papers.settings import Settings

log = logging.getLogger(__name__)

VERSION_KEY = "bm25_version"


def store_version(store: PaperStore, *, fresh: bool = False) -> str | None:
    """The store's BM25 version; `fresh` asks Chroma again instead of the cached collection."""
    return store.metadata(fresh=fresh).get(VERSION_KEY)


def _set_store_version(store: PaperStore, version: str) -> None:
    store.update_metadata(**{VERSION_KEY: version})


def mark_changed(store: PaperStore) -> None:
    """Called before a writer touches chunks: readers' BM25 copies become stale even if it dies."""
    _set_store_version(store, uuid.uuid4().hex)


def _nodes_from_store(store: PaperStore) -> list[Any]:
    from llama_index.core.schema import TextNode

    nodes = []
    for ids, docs, metas in store.iter_chunks():
        for cid, doc, meta in zip(ids, docs, metas, strict=False):
            # Only what filters and grouping need; the abstract is fetched from the store later.
            keep = {
                k: meta.get(k)
                for k in ("paper_id", "title", "year", "published_ord", "chunk_index")
            }
            nodes.append(
                TextNode(
                    id_=cid,
                    text=f"{meta.get('title', '')}\n\n{doc}",
                    metadata=keep,
                    excluded_embed_metadata_keys=list(keep),
                    excluded_llm_metadata_keys=list(keep),
                )
            )
    return nodes


def rebuild_bm25(store: PaperStore, settings: Settings, *, bump: bool = False) -> Any | None:
    """Build the BM25 index from every chunk in the store and persist it; None if empty.

    A writer (ingest) passes bump=True to give the store a new version, which tells every
    reader its copy is stale; a reader rebuilding its own copy keeps the store's version.
    """
    from llama_index.retrievers.bm25 import BM25Retriever

    nodes = _nodes_from_store(store)
    target = settings.bm25_dir
    if target.exists():
        shutil.rmtree(target)
    if not nodes:
        return None
    retriever = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=settings.candidates)
    tmp = target.with_name(target.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    retriever.persist(str(tmp), show_progress=False)
    version = None if bump else store_version(store)
    if version is None:
        version = uuid.uuid4().hex
        _set_store_version(store, version)
    (tmp / "version.json").write_text(json.dumps({"version": version, "chunks": len(nodes)}))
    tmp.replace(target)
    log.info("BM25 index rebuilt over %d chunks", len(nodes))
    return retriever


def load_bm25(store: PaperStore, settings: Settings) -> Any | None:
    """The persisted BM25 retriever if it matches the store, else a fresh rebuild."""
    from llama_index.retrievers.bm25 import BM25Retriever

    target = settings.bm25_dir
    marker = target / "version.json"
    if marker.is_file():
        local = json.loads(marker.read_text()).get("version")
        if local and local == store_version(store):
            return BM25Retriever.from_persist_dir(str(target))
        log.info("BM25 index is stale (store changed since it was built); rebuilding")
    return rebuild_bm25(store, settings)
