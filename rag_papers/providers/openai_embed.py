"""OpenAI (or compatible) embeddings as a LlamaIndex embedding model, with one retry policy.

Used when RAG_PAPERS_EMBED_BACKEND=openai. We call the official `openai` client directly
(llama-index-embeddings-openai is not a dependency, and it refuses model names it does not
know, which rules out local OpenAI-compatible servers). LlamaIndex splits texts into
batches of `embed_batch_size`; each batch is one `embeddings.create` request, retried by
tenacity on 408/429/5xx, time-outs and connection errors (honouring Retry-After, capped by
RAG_PAPERS_LLM_MAX_WAIT), with the client's own retries off so that policy is the only one.
"""

from __future__ import annotations

import logging
import random
from typing import Any

import httpx
import openai
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from rag_papers.errors import ConfigError, LLMError
from rag_papers.providers.llm import OPENAI_BASE_URL, PLACEHOLDER_KEY, retry_after_seconds
from rag_papers.providers.names import openai_embed_model_name
from rag_papers.settings import Settings

log = logging.getLogger(__name__)

BACKOFF_BASE = 0.5


def _is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIConnectionError | httpx.TransportError):  # time-outs too
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 429) or exc.status_code >= 500
    return False


def _describe(exc: BaseException) -> str:
    if isinstance(exc, openai.APITimeoutError):
        return "request timed out"
    if isinstance(exc, openai.APIConnectionError):
        return f"connection error ({exc.__cause__ or exc})"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {str(exc.message)[:300]}"
    return f"{type(exc).__name__}: {str(exc)[:300]}"


class OpenAIEmbedding(BaseEmbedding):
    """Embeddings from an OpenAI-compatible `/embeddings` endpoint."""

    _client: Any = PrivateAttr()
    _endpoint: str = PrivateAttr()
    _max_attempts: int = PrivateAttr()
    _max_wait: float = PrivateAttr()

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
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
        self._max_attempts = settings.llm_max_attempts
        self._max_wait = settings.llm_max_wait
        # Key and URL passed explicitly: the client must not read OPENAI_* behind our back.
        self._client = openai.OpenAI(
            api_key=key or PLACEHOLDER_KEY,
            base_url=base_url,
            timeout=settings.llm_timeout,
            max_retries=0,
        )

    @classmethod
    def class_name(cls) -> str:
        return "RagPapersOpenAIEmbedding"

    def __repr__(self) -> str:  # no key in here, ever
        return f"OpenAIEmbedding(model={self.model_name!r}, endpoint={self._endpoint!r})"

    # -- retry policy --------------------------------------------------------------------
    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = retry_after_seconds(getattr(getattr(exc, "response", None), "headers", None))
        if asked is not None:
            return min(asked, self._max_wait)
        step = BACKOFF_BASE * 2 ** (state.attempt_number - 1)
        return min(self._max_wait, step + random.uniform(0, 0.5))

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "embedding request to %s (model %s) failed on attempt %d/%d: %s; retrying in %.2f s",
            self._endpoint,
            self.model_name,
            state.attempt_number,
            self._max_attempts,
            _describe(exc) if exc else "?",
            state.next_action.sleep if state.next_action else 0.0,
        )

    def _embed(self, texts: list[str]) -> list[list[float]]:
        """One request per batch; the result is in input order whatever order the server used."""
        retrying = Retrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=self._wait,
            retry=retry_if_exception(_is_retryable),
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            response = retrying(self._client.embeddings.create, model=self.model_name, input=texts)
        except Exception as exc:
            attempts = int(retrying.statistics.get("attempt_number", 1))
            raise LLMError(
                f"embedding endpoint {self._endpoint} (model {self.model_name!r}) failed after "
                f"{attempts} attempt(s): {_describe(exc)} — check OPENAI_API_KEY / OPENAI_BASE_URL "
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
