"""The chat model behind answers: any OpenAI-compatible endpoint, with one retry policy.

We call the official `openai` client directly (not LlamaIndex's OpenAI class) because that
class refuses model names it does not know, and local servers (vLLM, Ollama, llama.cpp,
LM Studio) use names of their own. The client's built-in retries are switched off
(`max_retries=0`) so that tenacity's policy below is the only one: exponential backoff with
jitter on 429, 5xx, time-outs and connection errors, honouring `Retry-After` (capped by
`max_wait`), bounded by `max_attempts`. Other 4xx answers (bad key, unknown model) cannot
get better by waiting, so they fail at once. Every failure the caller sees is an `LLMError`
that names the endpoint, the model, the last error and what to check.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import httpx
import openai
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
)

from rag_papers.errors import ConfigError, LLMError

if TYPE_CHECKING:
    from rag_papers.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["ChatLLM", "LLMReply", "OpenAICompatLLM", "make_llm", "retry_after_seconds"]

OPENAI_BASE_URL = "https://api.openai.com/v1"
# Local servers ignore the key, but the client insists on one.
PLACEHOLDER_KEY = "not-needed"
# First back-off step in seconds; doubles on each retry, plus up to JITTER seconds.
BACKOFF_BASE = 0.5
JITTER = 1.0
MAX_ERROR_CHARS = 300


def _zero_usage() -> dict[str, int]:
    return {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


@dataclass
class LLMReply:
    """One chat completion: the text, token usage (zeros when the server gives none), model."""

    text: str
    usage: dict[str, int] = field(default_factory=_zero_usage)
    model: str = ""


@runtime_checkable
class ChatLLM(Protocol):
    """What the answer path needs from a chat model; the real client and test fakes both fit."""

    model: str
    last_usage: dict[str, int]

    def complete(self, messages: list[dict[str, str]]) -> LLMReply: ...

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        """Yield text deltas; after exhaustion `last_usage` holds the usage."""
        ...

    async def acomplete(self, messages: list[dict[str, str]]) -> LLMReply: ...


class _MalformedResponse(Exception):
    """The server answered 2xx with something that is not a chat completion."""


class _StreamBroken(Exception):
    """The stream failed after text was already yielded, so it cannot be retried."""


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds the server asked us to wait, from `retry-after-ms` or `Retry-After`.

    `Retry-After` may be seconds (floats tolerated) or an HTTP date; None when absent or
    unreadable. Servers that throttle tell us exactly when to come back, which beats guessing.
    """
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIConnectionError | httpx.TransportError):  # time-outs too
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 429) or exc.status_code >= 500
    return isinstance(exc, _MalformedResponse | json.JSONDecodeError)


def _attempts(retrying: Retrying | AsyncRetrying) -> int:
    """How many attempts the retry loop made (tenacity keeps the count in its statistics)."""
    return int(retrying.statistics.get("attempt_number", 1))


def _describe(exc: BaseException) -> str:
    """A one-line, bounded description of an error, with the cause of connection errors."""
    if isinstance(exc, openai.APITimeoutError):
        text = "request timed out"
    elif isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        text = (
            f"connection error ({type(cause).__name__}: {cause})" if cause else "connection error"
        )
    elif isinstance(exc, openai.APIStatusError):
        text = f"HTTP {exc.status_code}: {exc.message}"
    elif isinstance(exc, httpx.TransportError):
        text = f"connection error while reading ({type(exc).__name__}: {exc})"
    elif isinstance(exc, json.JSONDecodeError):
        text = f"malformed response (not JSON: {exc})"
    elif isinstance(exc, _MalformedResponse):
        text = f"malformed response ({exc})"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS] + "..."


def _usage_dict(usage: Any) -> dict[str, int]:
    out = _zero_usage()
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
    ) -> None:
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
        self.endpoint = self.base_url or "api.openai.com"
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.max_wait = max_wait
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.last_usage: dict[str, int] = _zero_usage()
        # Passed explicitly so the client never falls back to OPENAI_* variables behind our back.
        self._client_kwargs: dict[str, Any] = {
            "api_key": api_key or PLACEHOLDER_KEY,
            "base_url": self.base_url or OPENAI_BASE_URL,
            "timeout": timeout,
            "max_retries": 0,
        }
        self._client = openai.OpenAI(**self._client_kwargs)
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
            raise self._final_error(exc, _attempts(retrying)) from exc

    async def acomplete(self, messages: list[dict[str, str]]) -> LLMReply:
        """`complete` for async callers (the UI), with the same retry policy."""
        retrying = self._async_retrying()
        try:
            return await retrying(self._acomplete_once, messages)
        except Exception as exc:
            raise self._final_error(exc, _attempts(retrying)) from exc

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        """Yield text deltas as they arrive; afterwards `last_usage` holds the token usage.

        Opening the stream and reading up to the first piece of text is retried; once text
        has been yielded a failure is final, since the caller has already shown it.
        """
        self.last_usage = _zero_usage()
        retrying = self._retrying()
        try:
            response, chunks, buffered = retrying(self._open_stream, messages)
        except Exception as exc:
            raise self._final_error(exc, _attempts(retrying)) from exc
        usage = None
        try:
            for chunk in buffered:
                usage = getattr(chunk, "usage", None) or usage
                delta = self._chunk_text(chunk)
                if delta:
                    yield delta
            for chunk in chunks:
                usage = getattr(chunk, "usage", None) or usage
                delta = self._chunk_text(chunk)
                if delta:
                    yield delta
        except (openai.OpenAIError, httpx.TransportError, ValueError, _MalformedResponse) as exc:
            raise self._final_error(_StreamBroken(_describe(exc)), 1) from exc
        finally:  # also when the caller stops early: free the connection
            response.close()
        self.last_usage = _usage_dict(usage)

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
        try:
            for chunk in iterator:
                if not hasattr(chunk, "choices"):
                    raise _MalformedResponse(f"stream chunk is not a completion chunk: {chunk!r}")
                buffered.append(chunk)
                if self._chunk_text(chunk):
                    break
        except BaseException:
            stream.close()
            raise
        return stream, iterator, buffered

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
            raise _MalformedResponse(f"no choices in the response: {str(shown)[:200]!r}")
        message = getattr(choices[0], "message", None)
        content = getattr(message, "content", None)
        if content is not None and not isinstance(content, str):
            raise _MalformedResponse(f"message content is {type(content).__name__}, not text")
        usage = _usage_dict(getattr(response, "usage", None))
        self.last_usage = usage
        model = getattr(response, "model", None)
        return LLMReply(
            text=content or "",
            usage=usage,
            model=model if isinstance(model, str) and model else self.model,
        )

    def _async_client(self) -> openai.AsyncOpenAI:
        loop = asyncio.get_running_loop()
        if self._aclient is None or self._aclient_loop is not loop:
            self._aclient = openai.AsyncOpenAI(**self._client_kwargs)
            self._aclient_loop = loop
        return self._aclient

    # -- retry policy --------------------------------------------------------------------

    def _wait(self, retry_state: RetryCallState) -> float:
        """Retry-After when the server sent one, else exponential backoff with jitter."""
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        response = getattr(exc, "response", None)
        asked = retry_after_seconds(getattr(response, "headers", None))
        if asked is not None:
            return min(asked, self.max_wait)
        step = BACKOFF_BASE * 2 ** (retry_state.attempt_number - 1)
        return min(self.max_wait, step + random.uniform(0, min(JITTER, self.max_wait)))

    def _before_sleep(self, retry_state: RetryCallState) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
        log.warning(
            "LLM request to %s (model %s) failed on attempt %d/%d: %s; retrying in %.2f s",
            self.endpoint,
            self.model,
            retry_state.attempt_number,
            self.max_attempts,
            _describe(exc) if exc else "?",
            wait,
        )

    def _policy(self) -> dict[str, Any]:
        return {
            "stop": stop_after_attempt(self.max_attempts),
            "wait": self._wait,
            "retry": retry_if_exception(_is_retryable),
            "before_sleep": self._before_sleep,
            "reraise": True,
        }

    def _retrying(self) -> Retrying:
        return Retrying(**self._policy())

    def _async_retrying(self) -> AsyncRetrying:
        return AsyncRetrying(**self._policy())

    # -- errors --------------------------------------------------------------------------

    def _final_error(self, exc: BaseException, attempts: int) -> LLMError:
        """Turn the last exception into an LLMError that says what to check."""
        if isinstance(exc, LLMError):
            return exc
        where = f"LLM endpoint {self.endpoint} (model {self.model!r})"
        what = _describe(exc)
        if isinstance(exc, _StreamBroken):
            return LLMError(f"{where}: the stream broke after text was received: {exc}")
        if isinstance(exc, openai.APIStatusError) and not _is_retryable(exc):
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
            log.error("%s refused the request: %s", where, what)
            return LLMError(f"{where} refused the request: {what}. {hint}")
        return LLMError(
            f"{where} failed after {attempts} attempt(s); last error: {what}. Check that the "
            f"server is running and reachable, that OPENAI_BASE_URL is right "
            f"(now {self.base_url or 'unset, so api.openai.com'}), that OPENAI_API_KEY is valid, "
            f"or raise RAG_PAPERS_LLM_TIMEOUT (now {self.timeout:g} s) if the model is slow"
        )


def make_llm(settings: Settings) -> OpenAICompatLLM:
    """The chat client the settings describe."""
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    return OpenAICompatLLM(
        model=settings.llm_model,
        api_key=key,
        base_url=settings.openai_base_url,
        timeout=settings.llm_timeout,
        max_attempts=settings.llm_max_attempts,
        max_wait=settings.llm_max_wait,
        temperature=settings.temperature,
        max_tokens=settings.max_answer_tokens,
    )
