"""A real HTTP server that speaks the chat-completions API and misbehaves on cue.

The LLM client is tested through the real `openai` package over real HTTP, so what is
checked is what a user would meet: status codes, `Retry-After` headers, time-outs,
malformed bodies and SSE streams. Behaviours are queued, one per request, in order:

    fault_server.status(429, retry_after=1).status(500).ok("hello")

and every request is recorded (`.requests`) with its arrival time, headers and JSON body.
A request that finds the queue empty gets a 400 that says so, which fails the test loudly.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from typing_extensions import Self

CHAT_PATHS = ("/v1/chat/completions", "/chat/completions")


@dataclass
class RecordedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float  # time.monotonic() when the request arrived


@dataclass
class Behaviour:
    kind: str  # ok, status, slow, malformed, html, stream, raw_stream, broken_stream, echo_auth
    events: list[dict[str, Any]] | None = None
    text: str = ""
    code: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    seconds: float = 0.0
    usage: bool = True
    pieces: list[str] | None = None
    reasoning: str | None = None  # sent as reasoning_content, the way vLLM and others do


def usage_body(prompt: int = 11, completion: int = 7) -> dict[str, int]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


class FaultScript:
    """The queue of behaviours and the record of requests, whatever serves them: a real
    socket (FaultServer) or httpx.MockTransport (tests/mock_http.py)."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._queue: deque[Behaviour] = deque()
        self._lock = threading.Lock()

    # -- script --------------------------------------------------------------------------

    def push(self, behaviour: Behaviour) -> Self:
        with self._lock:
            self._queue.append(behaviour)
        return self

    def ok(self, text: str = "ok", *, usage: bool = True) -> Self:
        """A normal JSON chat completion (with usage unless usage=False)."""
        return self.push(Behaviour("ok", text=text, usage=usage))

    def status(
        self, code: int, *, retry_after: float | str | None = None, body: str | None = None
    ) -> Self:
        """An error status with an OpenAI-style JSON error body and optional Retry-After."""
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        return self.push(Behaviour("status", code=code, headers=headers, body=body))

    def slow(self, seconds: float, text: str = "too late") -> Self:
        """Wait `seconds` before answering (use more than the client's time-out)."""
        return self.push(Behaviour("slow", text=text, seconds=seconds))

    def malformed(self, body: str = '{"choices": [ this is not json') -> Self:
        """200 with Content-Type application/json and a body that is not a completion."""
        return self.push(Behaviour("malformed", body=body))

    def html(self, code: int = 200) -> Self:
        """An HTML error page (as a proxy in front of a dead server sends), with `code`."""
        return self.push(Behaviour("html", code=code))

    def raw_stream(self, events: list[dict[str, Any]]) -> Self:
        """An SSE stream of exactly these chunk objects, then [DONE] (served over a socket)."""
        return self.push(Behaviour("raw_stream", events=events))

    def echo_auth(self, code: int = 401) -> Self:
        """An error whose message repeats the request's Authorization header, as some servers do."""
        return self.push(Behaviour("echo_auth", code=code))

    def stream(
        self,
        text: str,
        *,
        pieces: list[str] | None = None,
        usage: bool = True,
        reasoning: str | None = None,
    ) -> Self:
        """An SSE stream of `text` word by word (or the given pieces), usage if asked for;
        with `reasoning`, deltas of reasoning_content come first (a reasoning model)."""
        return self.push(
            Behaviour("stream", text=text, pieces=pieces, usage=usage, reasoning=reasoning)
        )

    def reasoning(self, text: str, reasoning: str) -> Self:
        """A JSON completion whose message also carries `reasoning_content` (vLLM, Ollama)."""
        return self.push(Behaviour("ok", text=text, reasoning=reasoning))

    def only_thinking(self, *, streamed: bool, reasoning: str = "Let me think this over.") -> Self:
        """A reply that is only a <think>…</think> block, nothing after it (as a reasoning
        model cut off by max_tokens sends): JSON, or streamed with the tags split over chunks."""
        text = f"<think>{reasoning}</think>\n"
        if streamed:
            return self.stream(
                text, pieces=["<thi", "nk>", *split_words(reasoning), "</th", "ink>\n"]
            )
        return self.ok(text)

    def broken_stream(self, pieces: list[str]) -> Self:
        """An SSE stream that sends `pieces` then drops the connection without finishing."""
        return self.push(Behaviour("broken_stream", pieces=pieces))

    # -- inspection ----------------------------------------------------------------------

    @property
    def attempts(self) -> int:
        return len(self.requests)

    @property
    def pending(self) -> int:
        """Behaviours still queued (0 when every scripted response was consumed)."""
        return len(self._queue)

    def gaps(self) -> list[float]:
        """Seconds between consecutive requests: how long the client waited to retry."""
        times = [r.at for r in self.requests]
        return [b - a for a, b in itertools.pairwise(times)]

    def next_behaviour(self) -> Behaviour | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)


class FaultServer(FaultScript):
    """Scriptable OpenAI-compatible server on 127.0.0.1 and a free port, run in a thread."""

    def __init__(self) -> None:
        super().__init__()
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.root_url = f"http://127.0.0.1:{self.port}"
        self.base_url = f"{self.root_url}/v1"
        # A short poll interval so shutdown() returns quickly after each test.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> FaultServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes slow() handlers
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def split_words(text: str) -> list[str]:
    """Words with their following spaces kept, so joining the pieces gives the text back."""
    pieces: list[str] = []
    for word in text.split(" "):
        pieces.append(word + " ")
    pieces[-1] = pieces[-1][:-1]
    return [p for p in pieces if p]


def _make_handler(server: FaultServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection: simple and predictable

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:
            if self.path.rstrip("/") in ("/v1/models", "/models"):
                self._json(
                    200, {"object": "list", "data": [{"id": "fault-model", "object": "model"}]}
                )
            else:
                self._json(
                    404, {"error": {"message": f"no route {self.path}", "type": "not_found"}}
                )

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {"_raw": raw.decode("utf-8", "replace")}
            server.record(
                RecordedRequest(
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    time.monotonic(),
                )
            )
            if self.path not in CHAT_PATHS:
                self._json(
                    404, {"error": {"message": f"no route {self.path}", "type": "not_found"}}
                )
                return
            behaviour = server.next_behaviour()
            # the client may give up (time-out); that is the point of slow()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._serve(behaviour, body)

        def _serve(self, b: Behaviour | None, request: dict[str, Any]) -> None:
            model = str(request.get("model", "unknown"))
            if b is None:
                self._json(
                    400,
                    {
                        "error": {
                            "message": "fault_server: no behaviour queued for this request",
                            "type": "invalid_request_error",
                        }
                    },
                )
            elif b.kind == "ok":
                self._json(200, completion_body(model, b.text, b.usage, b.reasoning))
            elif b.kind == "status":
                self._send(b.code, status_body(b).encode(), "application/json", b.headers)
            elif b.kind == "slow":
                if server._stopping.wait(b.seconds):
                    return
                self._json(200, completion_body(model, b.text, True))
            elif b.kind == "malformed":
                self._send(200, (b.body or "").encode(), "application/json", {})
            elif b.kind == "html":
                self._send(b.code, HTML_PAGE.encode(), "text/html", {})
            elif b.kind == "raw_stream":
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for event in b.events or []:
                    self._event(event)
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
            elif b.kind == "echo_auth":
                self._json(b.code, echo_auth_body(self.headers.get("Authorization"), self.path))
            elif b.kind in ("stream", "broken_stream"):
                self._stream(b, model, request)
            else:  # pragma: no cover - a typo in a test
                raise ValueError(f"unknown behaviour {b.kind}")

        def _stream(self, b: Behaviour, model: str, request: dict[str, Any]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            if b.kind == "broken_stream":
                # Promise more than we send, then hang up: the client sees a truncated body.
                self.send_header("Content-Length", "1000000")
            self.end_headers()
            pieces = b.pieces if b.pieces is not None else split_words(b.text)
            first = chunk_body(model, {"role": "assistant", "content": ""}, None)
            self._event(first)
            for piece in split_words(b.reasoning) if b.reasoning else []:
                self._event(chunk_body(model, {"reasoning_content": piece}, None))
            for piece in pieces:
                self._event(chunk_body(model, {"content": piece}, None))
            if b.kind == "broken_stream":
                self.close_connection = True
                return
            self._event(chunk_body(model, {}, "stop"))
            wants_usage = bool((request.get("stream_options") or {}).get("include_usage"))
            if b.usage and wants_usage:
                usage_chunk = chunk_body(model, None, None)
                usage_chunk["usage"] = usage_body(completion=len(pieces))
                self._event(usage_chunk)
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

        def _event(self, data: dict[str, Any]) -> None:
            self.wfile.write(b"data: " + json.dumps(data).encode() + b"\n\n")
            self.wfile.flush()

        def _json(self, code: int, data: dict[str, Any]) -> None:
            self._send(code, json.dumps(data).encode(), "application/json", {})

        def _send(self, code: int, payload: bytes, ctype: str, headers: dict[str, str]) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)

    return Handler


HTML_PAGE = "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"


def echo_auth_body(authorization: str | None, path: str) -> dict[str, Any]:
    """The error of a server that repeats the credentials it was sent."""
    return {
        "error": {"message": f"invalid credentials: {authorization} for {path}", "type": "auth"}
    }


def status_body(b: Behaviour) -> str:
    """The JSON error body of a scripted status: the given one, or an OpenAI-style error."""
    return b.body or json.dumps(
        {"error": {"message": f"scripted status {b.code}", "type": "scripted", "code": str(b.code)}}
    )


def completion_body(
    model: str, text: str, usage: bool, reasoning: str | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "chatcmpl-fault",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
    }
    if reasoning is not None:
        data["choices"][0]["message"]["reasoning_content"] = reasoning
    if usage:
        data["usage"] = usage_body()
    return data


def chunk_body(model: str, delta: dict[str, Any] | None, finish: str | None) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {
        "id": "chatcmpl-fault",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
    }


@pytest.fixture(name="fault_server")
def fault_server_fixture() -> Iterator[FaultServer]:
    """A started FaultServer, stopped after the test."""
    server = FaultServer().start()
    try:
        yield server
    finally:
        server.stop()
