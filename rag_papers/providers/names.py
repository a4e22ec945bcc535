"""Embedding model names: light enough to import anywhere (no openai, no torch)."""

from __future__ import annotations

from rag_papers.settings import LOCAL_EMBED_MODEL, Settings

OPENAI_DIMS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}

DEFAULT_OPENAI_EMBED_MODEL = "text-embedding-3-small"


def openai_embed_model_name(settings: Settings) -> str:
    """The API model name: RAG_PAPERS_EMBED_MODEL unless it still names the local default."""
    if settings.embed_model and settings.embed_model != LOCAL_EMBED_MODEL:
        return settings.embed_model
    return DEFAULT_OPENAI_EMBED_MODEL
