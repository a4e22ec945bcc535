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
    return {
        "papers": papers,
        "chunks": chunks,
        "embedding_model": model,
        "embedding_dim": dim,
        "store": store.location,
        "collection": settings.collection,
        "last_ingest": last,
    }
