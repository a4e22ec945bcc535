"""OpenAI (or compatible) embeddings as a LlamaIndex embedding model, with one retry policy.

Used when RAG_PAPERS_EMBED_BACKEND=openai. We call the official `openai` client directly
(llama-index-embeddings-openai is not a dependency, and it refuses model names it does not
know, which rules out local OpenAI-compatible servers). LlamaIndex splits texts into
batches of `embed_batch_size`; each batch is one `embeddings.create` request, retried by
providers/retry.py's policy on 408/429/5xx, time-outs and connection errors (honouring
Retry-After, capped by RAG_PAPERS_LLM_MAX_WAIT), with the client's own retries off.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from rag_papers.errors import ConfigError, LLMError
from rag_papers.providers.names import openai_embed_model_name
from rag_papers.providers.openai_http import OPENAI_BASE_URL, describe, is_retryable, sync_client
from rag_papers.providers.retry import RetryPolicy, attempts_made
from rag_papers.settings import Settings

log = logging.getLogger(__name__)

BACKOFF_BASE = 0.5
JITTER = 0.5


class OpenAIEmbedding(BaseEmbedding):
    """Embeddings from an OpenAI-compatible `/embeddings` endpoint."""

    _client: Any = PrivateAttr()
    _endpoint: str = PrivateAttr()
    _policy: RetryPolicy = PrivateAttr()

    def __init__(
        self, settings: Settings, *, http_client: httpx.Client | None = None, **kwargs: Any
    ) -> None:
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        if not key and not settings.openai_base_url:
            raise ConfigError(
                "RAG_PAPERS_EMBED_BACKEND=openai needs OPENAI_API_KEY (api.openai.com) or "
                "OPENAI_BASE_URL (a compatible server) — set one, or unset "
                "RAG_PAPERS_EMBED_BACKEND to use the bundled local model"
            )
        super().__init__(
            model_name=openai_embed_model_name(settings),
            embed_batch_size=min(settings.embed_batch_size, 2048),  # the API's limit per request
            **kwargs,
        )
        base_url = (settings.openai_base_url or OPENAI_BASE_URL).rstrip("/")
        self._endpoint = base_url
        self._policy = RetryPolicy(
            max_attempts=settings.llm_max_attempts,
            max_wait=settings.llm_max_wait,
            base=BACKOFF_BASE,
            jitter=JITTER,
        )
        # Key and URL passed explicitly: the client must not read OPENAI_* behind our back.
        self._client = sync_client(
            api_key=key, base_url=base_url, timeout=settings.llm_timeout, http_client=http_client
        )

    @classmethod
    def class_name(cls) -> str:
        return "RagPapersOpenAIEmbedding"

    def __repr__(self) -> str:  # no key in here, ever
        return f"OpenAIEmbedding(model={self.model_name!r}, endpoint={self._endpoint!r})"

    def _embed(self, texts: list[str]) -> list[list[float]]:
        """One request per batch; the result is in input order whatever order the server used."""
        retrying = self._policy.retrying(
            is_retryable,
            describe=describe,
            what=f"embedding request to {self._endpoint} (model {self.model_name})",
            log=log,
        )
        try:
            response = retrying(self._client.embeddings.create, model=self.model_name, input=texts)
        except Exception as exc:
            attempts = attempts_made(retrying)
            raise LLMError(
                f"embedding endpoint {self._endpoint} (model {self.model_name!r}) failed after "
                f"{attempts} attempt(s): {describe(exc)} — check OPENAI_API_KEY / OPENAI_BASE_URL "
                "and RAG_PAPERS_EMBED_MODEL; papers embedded so far stay indexed, run the same "
                "ingest again to finish"
            ) from exc
        data = sorted(response.data, key=lambda d: d.index)
        if len(data) != len(texts):
            raise LLMError(
                f"embedding endpoint {self._endpoint} returned {len(data)} vectors for "
                f"{len(texts)} texts — the server is not OpenAI-compatible"
            )
        return [list(d.embedding) for d in data]

    # -- BaseEmbedding -------------------------------------------------------------------
    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embed([query])[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embed([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embed(list(texts))
