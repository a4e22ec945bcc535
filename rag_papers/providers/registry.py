"""Which module builds each provider: the chat LLM (setting `llm_provider`) and the embedding
model (setting `embed_backend`).

A second provider is one new module with a factory `f(settings) -> model` plus one line in
the table below. Entries are "module:function" strings so that naming a provider does not
import its client library (openai, torch) until it is used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rag_papers.errors import ConfigError

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

    from rag_papers.providers.llm import ChatLLM
    from rag_papers.settings import Settings

__all__ = ["EMBED_BACKENDS", "LLM_PROVIDERS", "make_embed_model", "make_llm"]

# llm_provider -> factory(settings) -> ChatLLM
LLM_PROVIDERS: dict[str, str] = {
    "openai": "rag_papers.providers.openai_chat:openai_llm",  # OpenAI or any compatible server
}

# embed_backend -> factory(settings) -> LlamaIndex BaseEmbedding
EMBED_BACKENDS: dict[str, str] = {
    "local": "rag_papers.providers.embed:local_embed_model",
    "openai": "rag_papers.providers.openai_embed:OpenAIEmbedding",
}


def _factory(table: dict[str, str], name: str, variable: str) -> Callable[..., Any]:
    target = table.get(name)
    if target is None:
        raise ConfigError(
            f"unknown {variable.removeprefix('RAG_PAPERS_').lower()} {name!r} — set {variable} "
            f"to one of {', '.join(sorted(table))}"
        )
    module, _, attr = target.partition(":")
    factory: Callable[..., Any] = getattr(importlib.import_module(module), attr)
    return factory


def make_llm(settings: Settings) -> ChatLLM:
    """The chat client the settings describe (`llm_provider`, model, endpoint, retries)."""
    llm: ChatLLM = _factory(LLM_PROVIDERS, settings.llm_provider, "RAG_PAPERS_LLM_PROVIDER")(
        settings
    )
    return llm


def make_embed_model(settings: Settings) -> BaseEmbedding:
    """The LlamaIndex embedding model the settings ask for (`embed_backend`)."""
    model: BaseEmbedding = _factory(
        EMBED_BACKENDS, settings.embed_backend, "RAG_PAPERS_EMBED_BACKEND"
    )(settings)
    return model
