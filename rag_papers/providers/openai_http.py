"""What the OpenAI-compatible clients (chat and embeddings) share: the client, and which errors
are worth retrying and how to name them.

The client's own retries are off (`max_retries=0`) so that the policy in providers/retry.py
is the only one, and the key and URL are passed explicitly so the client never reads
OPENAI_* variables behind our back. Tests pass `http_client=httpx.Client(transport=
httpx.MockTransport(...))` to script the server without a socket.
"""

from __future__ import annotations

import json

import httpx
import openai

__all__ = [
    "MAX_ERROR_CHARS",
    "OPENAI_BASE_URL",
    "PLACEHOLDER_KEY",
    "MalformedResponse",
    "async_client",
    "describe",
    "is_retryable",
    "sync_client",
]

OPENAI_BASE_URL = "https://api.openai.com/v1"
# Local servers ignore the key, but the client insists on one.
PLACEHOLDER_KEY = "not-needed"
MAX_ERROR_CHARS = 300


class MalformedResponse(Exception):
    """The server answered 2xx with something that is not what the API promises."""


def sync_client(
    *, api_key: str | None, base_url: str, timeout: float, http_client: httpx.Client | None = None
) -> openai.OpenAI:
    return openai.OpenAI(
        api_key=api_key or PLACEHOLDER_KEY,
        base_url=base_url,
        timeout=timeout,
        max_retries=0,
        # openai types this as httpx2.Client and accepts httpx.Client too (its
        # is_legacy_httpx_sync_client check); httpx is what callers and tests have.
        http_client=http_client,  # type: ignore[arg-type]
    )


def async_client(
    *,
    api_key: str | None,
    base_url: str,
    timeout: float,
    http_client: httpx.AsyncClient | None = None,
) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        api_key=api_key or PLACEHOLDER_KEY,
        base_url=base_url,
        timeout=timeout,
        max_retries=0,
        http_client=http_client,  # type: ignore[arg-type]  # see sync_client
    )


def is_retryable(exc: BaseException) -> bool:
    """429, 408, 5xx, time-outs, dropped connections and garbled 2xx bodies may pass; other
    4xx answers (bad key, unknown model, too long) cannot get better by waiting."""
    if isinstance(exc, openai.APIConnectionError | httpx.TransportError):  # time-outs too
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 429) or exc.status_code >= 500
    return isinstance(exc, MalformedResponse | json.JSONDecodeError)


def describe(exc: BaseException) -> str:
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
    elif isinstance(exc, MalformedResponse):
        text = f"malformed response ({exc})"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS] + "..."
