"""tests/mock_http.py serves every scripted fault as tests/fault_server.py does: the real
openai client meets the same reply or the same LLMError through either."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import pytest
from fault_server import FaultScript, FaultServer, chunk_body, fault_server_fixture  # noqa: F401
from mock_http import MockOpenAI, mock_server_fixture  # noqa: F401 - fixture

from rag_papers.errors import LLMError
from rag_papers.providers.llm import OpenAICompatLLM

MESSAGES = [{"role": "user", "content": "What is attention?"}]
KEY = "sk-proj-MOCK-key-0123456789abcdef"

SCRIPTS: dict[str, Callable[[FaultScript, bool], object]] = {
    "html": lambda s, streamed: s.html(200),
    "html 502": lambda s, streamed: s.html(502),
    "echo_auth": lambda s, streamed: s.echo_auth(401),
    "raw_stream empty choices": lambda s, streamed: (
        s.raw_stream([chunk_body("m", None, None)])
        if streamed
        else s.malformed('{"id": "x", "object": "chat.completion", "choices": []}')
    ),
    "raw_stream text": lambda s, streamed: (
        s.raw_stream([chunk_body("m", {"content": "Raw [1]."}, None)])
        if streamed
        else s.ok("Raw [1].")
    ),
    "only thinking": lambda s, streamed: s.only_thinking(streamed=streamed),
    "reasoning": lambda s, streamed: (
        s.stream("An answer [1].", reasoning="First think.")
        if streamed
        else s.reasoning("An answer [1].", "First think.")
    ),
}


def outcome(server: FaultScript, path: str) -> str:
    options: dict[str, object] = {
        "model": "m",
        "api_key": KEY,
        "base_url": server.base_url,
        "timeout": 5.0,
        "max_attempts": 1,
        "max_wait": 0.01,
    }
    if isinstance(server, MockOpenAI):
        options["http_client"] = server.client()
        options["async_http_client"] = server.async_client()
    llm = OpenAICompatLLM(**options)  # type: ignore[arg-type]
    try:
        if path == "stream":
            return "".join(x for x in llm.stream(MESSAGES) if isinstance(x, str))
        if path == "acomplete":
            return asyncio.run(llm.acomplete(MESSAGES)).text
        return llm.complete(MESSAGES).text
    except LLMError as exc:  # the endpoint differs; what went wrong must not
        return "LLMError: " + re.sub(r"https?://\S+", "URL", str(exc))


@pytest.mark.parametrize("path", ["complete", "stream", "acomplete"])
@pytest.mark.parametrize("script", list(SCRIPTS))
def test_the_mock_transport_serves_each_fault_as_the_socket_server_does(
    script: str, path: str, mock_server: MockOpenAI, fault_server: FaultServer
) -> None:
    for server in (mock_server, fault_server):
        SCRIPTS[script](server, path == "stream")
    mocked, real = outcome(mock_server, path), outcome(fault_server, path)
    assert mocked == real
    assert mock_server.pending == fault_server.pending == 0
    assert KEY not in mocked
