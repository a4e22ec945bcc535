"""The fault script of tests/fault_server.py served by httpx.MockTransport: no socket.

Unit tests of the clients' logic (retries, errors, streams, usage) pass `server.client()`
(and `server.async_client()`) as the client's `http_client`; the same behaviours are queued
as for the real server:

    mock_server.status(429, retry_after=1).status(500).ok("hello")

`slow()` raises the read time-out the client would meet at once instead of waiting, and
`broken_stream()` ends the body with the protocol error a dropped connection gives; every
other behaviour (html, raw_stream, echo_auth, reasoning, only_thinking) is served as the
socket server serves it (tests/test_mock_http.py checks both give the client the same).
The real-socket tests (one per client) keep tests/fault_server.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fault_server import (
    CHAT_PATHS,
    HTML_PAGE,
    Behaviour,
    FaultScript,
    RecordedRequest,
    chunk_body,
    completion_body,
    echo_auth_body,
    split_words,
    status_body,
    usage_body,
)

ROOT_URL = "http://mock-openai.test"


class MockOpenAI(FaultScript):
    """An OpenAI-compatible chat endpoint as an httpx transport, scripted like FaultServer."""

    root_url = ROOT_URL
    base_url = f"{ROOT_URL}/v1"

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handle))

    def async_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))

    def handle(self, request: httpx.Request) -> httpx.Response:
        try:
            body = json.loads(request.content or b"{}")
        except ValueError:
            body = {"_raw": request.content.decode("utf-8", "replace")}
        path = request.url.path
        self.record(
            RecordedRequest(
                path, {k.lower(): v for k, v in request.headers.items()}, body, time.monotonic()
            )
        )
        if path not in CHAT_PATHS:
            return _json(404, {"error": {"message": f"no route {path}", "type": "not_found"}})
        b = self.next_behaviour()
        model = str(body.get("model", "unknown"))
        if b is None:
            message = "mock_http: no behaviour queued for this request"
            return _json(400, {"error": {"message": message, "type": "invalid_request_error"}})
        if b.kind == "ok":
            return _json(200, completion_body(model, b.text, b.usage, b.reasoning))
        if b.kind == "status":
            headers = {"Content-Type": "application/json", **b.headers}
            return httpx.Response(b.code, headers=headers, content=status_body(b).encode())
        if b.kind == "slow":
            raise httpx.ReadTimeout(
                "mock_http: the server is slower than the time-out", request=request
            )
        if b.kind == "malformed":
            return httpx.Response(
                200, headers={"Content-Type": "application/json"}, content=(b.body or "").encode()
            )
        if b.kind == "html":
            headers = {"Content-Type": "text/html"}
            return httpx.Response(b.code, headers=headers, content=HTML_PAGE.encode())
        if b.kind == "echo_auth":
            return _json(b.code, echo_auth_body(request.headers.get("Authorization"), path))
        if b.kind in ("stream", "broken_stream", "raw_stream"):
            events = _events(b, model, body)
            stream = _SyncEvents(events, b.kind == "broken_stream", request)
            return httpx.Response(200, headers={"Content-Type": "text/event-stream"}, stream=stream)
        raise ValueError(f"unknown behaviour {b.kind}")  # pragma: no cover - a typo in a test


def _json(code: int, data: dict[str, Any]) -> httpx.Response:
    return httpx.Response(code, json=data)


def _events(b: Behaviour, model: str, request: dict[str, Any]) -> list[bytes]:
    if b.kind == "raw_stream":  # exactly the scripted chunks, then [DONE]
        raw = [b"data: " + json.dumps(c).encode() + b"\n\n" for c in b.events or []]
        return [*raw, b"data: [DONE]\n\n"]
    pieces = b.pieces if b.pieces is not None else split_words(b.text)
    chunks = [chunk_body(model, {"role": "assistant", "content": ""}, None)]
    if b.reasoning:  # as fault_server: reasoning_content deltas before the answer
        chunks += [
            chunk_body(model, {"reasoning_content": p}, None) for p in split_words(b.reasoning)
        ]
    chunks += [chunk_body(model, {"content": piece}, None) for piece in pieces]
    if b.kind == "broken_stream":
        return [b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks]
    chunks.append(chunk_body(model, {}, "stop"))
    if b.usage and (request.get("stream_options") or {}).get("include_usage"):
        usage = chunk_body(model, None, None)
        usage["usage"] = usage_body(completion=len(pieces))
        chunks.append(usage)
    return [b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks] + [b"data: [DONE]\n\n"]


class _SyncEvents(httpx.SyncByteStream, httpx.AsyncByteStream):
    """SSE events one by one; a broken stream ends in the error a dropped connection gives."""

    def __init__(self, events: list[bytes], broken: bool, request: httpx.Request) -> None:
        self.events = events
        self.broken = broken
        self.request = request

    def _error(self) -> httpx.RemoteProtocolError:
        return httpx.RemoteProtocolError(
            "peer closed connection without sending complete message body", request=self.request
        )

    def __iter__(self) -> Iterator[bytes]:
        yield from self.events
        if self.broken:
            raise self._error()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for event in self.events:
            yield event
        if self.broken:
            raise self._error()


@pytest.fixture(name="mock_server")
def mock_server_fixture() -> MockOpenAI:
    """A MockOpenAI with nothing queued."""
    return MockOpenAI()
