"""The chat model behind answers: any OpenAI-compatible endpoint, with one retry policy.

We call the official `openai` client directly (not LlamaIndex's OpenAI class) because that
class refuses model names it does not know, and local servers (vLLM, Ollama, llama.cpp,
LM Studio) use names of their own. The client's built-in retries are switched off
(`max_retries=0`) so that the policy in providers/retry.py is the only one: exponential
backoff with jitter on 429, 5xx, time-outs and connection errors, honouring `Retry-After`
(capped by `max_wait`), bounded by `max_attempts`. Other 4xx answers (bad key, unknown
model) cannot get better by waiting, so they fail at once. Every failure the caller sees is
an `LLMError` that names the endpoint, the model, the last error and what to check.

Usage travels with each reply (`LLMReply.usage`, and a stream ends with its `LLMReply`), never
on the shared client, so concurrent sessions cannot read each other's token counts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import httpx
import openai

from rag_papers.errors import ConfigError, LLMError
from rag_papers.providers.openai_http import (
    OPENAI_BASE_URL,
    PLACEHOLDER_KEY,
    MalformedResponse,
    async_client,
    describe,
    is_retryable,
    sync_client,
)
from rag_papers.providers.reasoning import ReasoningFilter, strip_reasoning
from rag_papers.providers.retry import RetryPolicy, attempts_made, retry_after_seconds
from rag_papers.sanitize import RedactingFilter, redact, register_secret

if TYPE_CHECKING:
    from tenacity import AsyncRetrying, Retrying


log = logging.getLogger(__name__)

ONLY_REASONING = "the reply is only reasoning (<think>…</think>) with no answer after it"
# The HTTP libraries log request URLs (with any user:password in them) on their own loggers;
# a filter there redacts each record before any handler, ours or an embedding app's, sees it.
for _name in (
    "httpx",
    "httpcore",
    "httpx2",  # openai 3.x sends through httpx2 and logs each request URL there
    "httpcore2",
    "openai",
    "openai._base_client",
    "openai._client",
):
    logging.getLogger(_name).addFilter(RedactingFilter())

__all__ = [
    "OPENAI_BASE_URL",
    "PLACEHOLDER_KEY",
    "ChatLLM",
    "LLMReply",
    "OpenAICompatLLM",
    "retry_after_seconds",
    "zero_usage",
]

# First back-off step in seconds; doubles on each retry, plus up to JITTER seconds.
BACKOFF_BASE = 0.5
JITTER = 1.0


def zero_usage() -> dict[str, int]:
    return {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


@dataclass
class LLMReply:
    """One chat completion: the text, token usage (zeros when the server gives none), model."""

    text: str
    usage: dict[str, int] = field(default_factory=zero_usage)
    model: str = ""


@runtime_checkable
class ChatLLM(Protocol):
    """What the answer path needs from a chat model; the real client and test fakes both fit."""

    model: str

    def complete(self, messages: list[dict[str, str]]) -> LLMReply: ...

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str | LLMReply]:
        """Yield text deltas (str), then one LLMReply with the whole text, usage and model."""
        ...

    async def acomplete(self, messages: list[dict[str, str]]) -> LLMReply: ...


class _StreamBroken(Exception):
    """The stream failed after text was already yielded, so it cannot be retried."""


def _usage_dict(usage: Any) -> dict[str, int]:
    out = zero_usage()
    if usage is None:
        return out
    for key in out:
        value = getattr(usage, key, None)
        if isinstance(value, int):
            out[key] = value
    if not out["total_tokens"]:
        out["total_tokens"] = out["prompt_tokens"] + out["completion_tokens"]
    return out


class OpenAICompatLLM:
    """Chat client for OpenAI or any server that speaks its chat-completions API."""

    def __init__(
        self,
        *,
        model: str,
        api_key: str | None,
        base_url: str | None,
        timeout: float,
        max_attempts: int,
        max_wait: float,
        temperature: float = 0.0,
        max_tokens: int = 512,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
    ) -> None:
        """`http_client` / `async_http_client` replace the HTTP layer (tests pass
        `httpx.MockTransport`); the client's own settings (time-out, no retries) still apply."""
        if not api_key and not base_url:
            raise ConfigError(
                "no OpenAI API key and no base URL: set OPENAI_API_KEY for api.openai.com, or "
                "OPENAI_BASE_URL (e.g. http://127.0.0.1:8000/v1) for a local server, "
                "or use RAG_PAPERS_MODE=extractive"
            )
        if max_attempts < 1:
            raise ConfigError(f"max_attempts must be at least 1, got {max_attempts}")
        self.model = model
        self.base_url = base_url.rstrip("/") if base_url else None
        # Credentials never leave this object: not in messages, logs or the page.
        url = httpx.URL(self.base_url) if self.base_url else None
        self._secrets = [v for v in (api_key, url.password if url else None) if v]
        for secret in self._secrets:
            register_secret(secret)
        self.endpoint = redact(self.base_url, self._secrets) if self.base_url else "api.openai.com"
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.max_wait = max_wait
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.policy = RetryPolicy(
            max_attempts=max_attempts, max_wait=max_wait, base=BACKOFF_BASE, jitter=JITTER
        )
        # Passed explicitly so the client never falls back to OPENAI_* variables behind our back.
        self._client_kwargs: dict[str, Any] = {
            "api_key": api_key,
            "base_url": self.base_url or OPENAI_BASE_URL,
            "timeout": timeout,
        }
        self._client = sync_client(**self._client_kwargs, http_client=http_client)
        self._async_http_client = async_http_client
        # httpx async clients are bound to one event loop; we keep one per loop.
        self._aclient: openai.AsyncOpenAI | None = None
        self._aclient_loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:  # no key in here, ever
        return f"OpenAICompatLLM(model={self.model!r}, endpoint={self.endpoint!r})"

    # -- public API ----------------------------------------------------------------------

    def complete(self, messages: list[dict[str, str]]) -> LLMReply:
        """One chat completion, retried under the policy in the module docstring."""
        retrying = self._retrying()
        try:
            return retrying(self._complete_once, messages)
        except Exception as exc:  # every failure becomes an LLMError
            raise self._final_error(exc, attempts_made(retrying)) from exc

    async def acomplete(self, messages: list[dict[str, str]]) -> LLMReply:
        """`complete` for async callers (the UI), with the same retry policy."""
        retrying = self._async_retrying()
        try:
            return await retrying(self._acomplete_once, messages)
        except Exception as exc:
            raise self._final_error(exc, attempts_made(retrying)) from exc

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str | LLMReply]:
        """Yield text deltas (str) as they arrive, then one LLMReply with the whole text, the
        token usage (zeros when the server sends none) and the model.

        Opening the stream and reading up to the first piece of text is retried; once text
        has been yielded a failure is final, since the caller has already shown it.
        """
        retrying = self._retrying()
        try:
            response, chunks, buffered = retrying(self._open_stream, messages)
        except Exception as exc:
            raise self._final_error(exc, attempts_made(retrying)) from exc
        usage = None
        model = None
        parts: list[str] = []
        try:
            for chunk in buffered:
                usage = getattr(chunk, "usage", None) or usage
                model = getattr(chunk, "model", None) or model
                delta = self._chunk_text(chunk)
                if delta:
                    parts.append(delta)
                    yield delta
            for chunk in chunks:
                usage = getattr(chunk, "usage", None) or usage
                model = getattr(chunk, "model", None) or model
                delta = self._chunk_text(chunk)
                if delta:
                    parts.append(delta)
                    yield delta
        except (openai.OpenAIError, httpx.TransportError, ValueError, MalformedResponse) as exc:
            raise self._final_error(_StreamBroken(describe(exc)), 1) from exc
        finally:  # also when the caller stops early: free the connection
            response.close()
        yield LLMReply(
            text="".join(parts),
            usage=_usage_dict(usage),
            model=model if isinstance(model, str) and model else self.model,
        )

    def close(self) -> None:
        """Close the HTTP connections (the async client is closed by its own event loop)."""
        self._client.close()

    # -- one attempt ---------------------------------------------------------------------

    def _request_kwargs(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }

    def _complete_once(self, messages: list[dict[str, str]]) -> LLMReply:
        log.debug("LLM request to %s, model %s", self.endpoint, self.model)
        response = self._client.chat.completions.create(**self._request_kwargs(messages))
        return self._reply(response)

    async def _acomplete_once(self, messages: list[dict[str, str]]) -> LLMReply:
        log.debug("LLM async request to %s, model %s", self.endpoint, self.model)
        client = self._async_client()
        response = await client.chat.completions.create(**self._request_kwargs(messages))
        return self._reply(response)

    def _open_stream(
        self, messages: list[dict[str, str]]
    ) -> tuple[openai.Stream[Any], Iterator[Any], list[Any]]:
        """Open a stream and read chunks up to the first text (or the end), for retrying."""
        log.debug("LLM stream request to %s, model %s", self.endpoint, self.model)
        kwargs = self._request_kwargs(messages)
        try:
            stream = self._client.chat.completions.create(
                **kwargs, stream=True, stream_options={"include_usage": True}
            )
        except openai.BadRequestError as exc:
            # Some older servers reject stream_options; usage then stays at zero.
            if "stream_options" not in str(exc):
                raise
            log.info("%s rejects stream_options; streaming without usage", self.endpoint)
            stream = self._client.chat.completions.create(**kwargs, stream=True)
        iterator = iter(stream)
        buffered: list[Any] = []
        visible = ReasoningFilter()  # reasoning (<think>…</think>) is not an answer
        try:
            for chunk in iterator:
                if not hasattr(chunk, "choices"):
                    raise MalformedResponse(f"stream chunk is not a completion chunk: {chunk!r}")
                buffered.append(chunk)
                if visible.feed(self._chunk_text(chunk)).strip():
                    break
            else:
                if not visible.flush().strip():
                    raise self._no_answer(stream, buffered)
        except BaseException:
            stream.close()
            raise
        return stream, iterator, buffered

    def _no_answer(self, stream: openai.Stream[Any], buffered: list[Any]) -> MalformedResponse:
        """The fault of a stream that ended with no answer text, named for the log and user."""
        if any(self._chunk_text(c).strip() for c in buffered):
            return MalformedResponse(ONLY_REASONING)
        # An HTML error page sent with status 200 parses as an SSE stream of no events;
        # empty `choices` and `content: null` also end here. All are faults.
        ctype = stream.response.headers.get("content-type", "")
        kind = "" if "event-stream" in ctype else f" (content-type {ctype or 'none'})"
        return MalformedResponse(f"the stream ended without any answer text{kind}")

    @staticmethod
    def _chunk_text(chunk: Any) -> str:
        choices = getattr(chunk, "choices", None) or []
        if not choices:
            return ""
        delta = getattr(choices[0], "delta", None)
        content = getattr(delta, "content", None)
        return content if isinstance(content, str) else ""

    def _reply(self, response: Any) -> LLMReply:
        choices = getattr(response, "choices", None)
        if not isinstance(choices, list) or not choices:
            shown = response if isinstance(response, str) else type(response).__name__
            raise MalformedResponse(f"no choices in the response: {str(shown)[:200]!r}")
        message = getattr(choices[0], "message", None)
        content = getattr(message, "content", None)
        if content is None:
            raise MalformedResponse("the message has no content (null)")
        if not isinstance(content, str):
            raise MalformedResponse(f"message content is {type(content).__name__}, not text")
        if not content.strip():
            raise MalformedResponse("the message content is empty")
        if not strip_reasoning(content).strip():
            raise MalformedResponse(ONLY_REASONING)
        usage = _usage_dict(getattr(response, "usage", None))
        model = getattr(response, "model", None)
        return LLMReply(
            text=content or "",
            usage=usage,
            model=model if isinstance(model, str) and model else self.model,
        )

    def _async_client(self) -> openai.AsyncOpenAI:
        loop = asyncio.get_running_loop()
        if self._aclient is None or self._aclient_loop is not loop:
            self._aclient = async_client(**self._client_kwargs, http_client=self._async_http_client)
            self._aclient_loop = loop
        return self._aclient

    # -- retry policy --------------------------------------------------------------------

    def _retrying(self) -> Retrying:
        return self.policy.retrying(
            is_retryable, describe=self._describe, what=self._what(), log=log
        )

    def _async_retrying(self) -> AsyncRetrying:
        return self.policy.async_retrying(
            is_retryable, describe=self._describe, what=self._what(), log=log
        )

    def _describe(self, exc: BaseException) -> str:
        """`describe` with the key and URL credentials removed (servers echo them)."""
        return redact(describe(exc), self._secrets)

    def _what(self) -> str:
        return f"LLM request to {self.endpoint} (model {self.model})"

    # -- errors --------------------------------------------------------------------------

    def _final_error(self, exc: BaseException, attempts: int) -> LLMError:
        """Turn the last exception into an LLMError that says what to check (no secrets in it)."""
        if isinstance(exc, LLMError):
            return exc
        return LLMError(redact(str(self._explain(exc, attempts)), self._secrets))

    def _explain(self, exc: BaseException, attempts: int) -> LLMError:
        where = f"LLM endpoint {self.endpoint} (model {self.model!r})"
        what = describe(exc)
        if isinstance(exc, _StreamBroken):
            return LLMError(f"{where}: the stream broke after text was received: {exc}")
        if isinstance(exc, openai.APIStatusError) and not is_retryable(exc):
            code = exc.status_code
            if code == 401:
                hint = "the API key was rejected: set a valid OPENAI_API_KEY" + (
                    " (or none: local servers need no key)" if self.base_url else ""
                )
            elif code == 403:
                hint = "the key has no access to this model or project: check OPENAI_API_KEY"
            elif code == 404:
                hint = (
                    f"model {self.model!r} or the chat endpoint was not found: set "
                    f"RAG_PAPERS_LLM_MODEL to a model the server serves (see {self.endpoint}"
                    "/models) and check that OPENAI_BASE_URL ends with /v1"
                )
            else:
                hint = "the request was refused; check RAG_PAPERS_LLM_MODEL and the server's log"
            log.error("%s refused the request: %s", where, redact(what, self._secrets))
            return LLMError(f"{where} refused the request: {what}. {hint}")
        return LLMError(
            f"{where} failed after {attempts} attempt(s); last error: {what}. Check that the "
            f"server is running and reachable, that OPENAI_BASE_URL is right "
            f"(now {self.endpoint if self.base_url else 'unset, so api.openai.com'}), that OPENAI_API_KEY is valid, "
            f"or raise RAG_PAPERS_LLM_TIMEOUT (now {self.timeout:g} s) if the model is slow"
        )
