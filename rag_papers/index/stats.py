"""Index statistics for `rag-papers stats`, the UI and benchmarks."""

from __future__ import annotations

import json
from typing import Any

from rag_papers.settings import Settings


def collection_stats(settings: Settings | None = None) -> dict[str, Any]:
    """papers, chunks, embedding model and dimension, store location, last ingest."""
    from rag_papers.index.store import PaperStore

    settings = settings or Settings()
    store = PaperStore(settings)
    chunks = store.count_chunks()
    papers = store.count_papers() if chunks else 0
    model, dim = store.model_info() if store.exists() else (None, None)
    last = None
    if settings.manifest_path.is_file():
        last = json.loads(settings.manifest_path.read_text()).get("last_ingest")
    out: dict[str, Any] = {
        "papers": papers,
        "chunks": chunks,
        "embedding_model": model,
        "embedding_dim": dim,
        "store": store.location,
        "collection": settings.collection,
        "last_ingest": last,
    }
    mismatch = manifest_mismatch(settings, chunks)
    if mismatch:
        out["warning"] = mismatch
    return out


def manifest_mismatch(settings: Settings, chunks: int) -> str | None:
    """Why an empty store is suspicious: the manifest says an ingest filled it before."""
    if chunks or not settings.manifest_path.is_file():
        return None
    try:
        manifest = json.loads(settings.manifest_path.read_text())
    except (OSError, ValueError):
        return None
    summary = manifest.get("summary") or {}
    recorded = manifest.get("store_chunks")
    if recorded is None:  # manifests written before store_chunks was recorded
        recorded = summary.get("chunks", 0) + summary.get("unchanged", 0)
    if not recorded:
        return None
    return (
        f"the store at {settings.store_dir if not settings.chroma_host else settings.chroma_host} "
        f"is empty, but {settings.manifest_path} records an ingest on "
        f"{manifest.get('last_ingest')} that left {recorded} chunks — the store was emptied or "
        "replaced; rebuild it with `rag-papers ingest --rebuild PATH...` or restore it from a backup"
    )
