"""The LLM's faults are errors, not answers; and no credential leaks into any message or log.

The real `openai` client against tests/fault_server.py over real HTTP, on all three paths
(complete, stream, async complete).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from fault_server import FaultServer, chunk_body, fault_server_fixture  # noqa: F401 - fixture

from rag_papers.app.cli import main
from rag_papers.errors import LLMError
from rag_papers.providers.llm import OpenAICompatLLM

MESSAGES = [{"role": "user", "content": "What is attention?"}]
KEY = "sk-proj-CONFIGURED-key-0123456789abcdef"


def make(server: FaultServer, base_url: str | None = None, **overrides: object) -> OpenAICompatLLM:
    options: dict[str, object] = {
        "model": "fault-model",
        "api_key": None,
        "base_url": base_url or server.base_url,
        "timeout": 5.0,
        "max_attempts": 2,
        "max_wait": 0.01,
    }
    options.update(overrides)
    return OpenAICompatLLM(**options)  # type: ignore[arg-type]


def run_path(llm: OpenAICompatLLM, path: str) -> str:
    if path == "complete":
        return llm.complete(MESSAGES).text
    if path == "stream":
        return "".join(x for x in llm.stream(MESSAGES) if isinstance(x, str))
    return asyncio.run(llm.acomplete(MESSAGES)).text


def html_page(server: FaultServer, streamed: bool) -> None:
    server.html(200)


def empty_choices(server: FaultServer, streamed: bool) -> None:
    if streamed:
        server.raw_stream([chunk_body("m", None, None), chunk_body("m", None, None)])
    else:
        server.malformed('{"id": "x", "object": "chat.completion", "choices": []}')


def null_content(server: FaultServer, streamed: bool) -> None:
    if streamed:
        server.raw_stream(
            [
                chunk_body("m", {"role": "assistant", "content": None}, None),
                chunk_body("m", {}, "stop"),
            ]
        )
    else:
        server.malformed(
            '{"id": "x", "object": "chat.completion", "model": "m", "choices": [{"index": 0, '
            '"message": {"role": "assistant", "content": null}, "finish_reason": "stop"}]}'
        )


def only_thinking(server: FaultServer, streamed: bool) -> None:
    server.only_thinking(streamed=streamed)


FAULTS: dict[str, Callable[[FaultServer, bool], None]] = {
    "html with 200": html_page,
    "empty choices": empty_choices,
    "content null": null_content,
    "only a <think> block": only_thinking,
}
PATHS = ["complete", "stream", "acomplete"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("fault", list(FAULTS))
def test_an_empty_or_malformed_reply_is_retried_then_an_llm_error(
    fault: str, path: str, fault_server: FaultServer
) -> None:
    for _ in range(2):
        FAULTS[fault](fault_server, path == "stream")
    llm = make(fault_server)
    with pytest.raises(LLMError, match=r"failed after 2 attempt\(s\); last error: malformed"):
        run_path(llm, path)
    assert fault_server.attempts == 2 and fault_server.pending == 0


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_malformed_reply_once_then_a_good_one_answers(
    fault: str, path: str, fault_server: FaultServer
) -> None:
    FAULTS[fault](fault_server, path == "stream")
    if path == "stream":
        fault_server.stream("Attention weighs tokens [1].")
    else:
        fault_server.ok("Attention weighs tokens [1].")
    assert run_path(make(fault_server), path) == "Attention weighs tokens [1]."


def ask_through(
    fault_server: FaultServer,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *extra: str,
) -> tuple[int, str, str]:
    """`rag-papers ask` against the fault server (two attempts, no real waiting): the exit
    code, stdout and stderr."""
    monkeypatch.setenv("OPENAI_BASE_URL", fault_server.base_url)
    monkeypatch.setenv("RAG_PAPERS_LLM_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("RAG_PAPERS_LLM_MAX_WAIT", "0.01")
    args = ["--home", str(home), "ask", "What do LLMs struggle with?", "--mode", "openai"]
    code = main([*args, *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_streamed_ask_with_an_html_reply_exits_with_an_error_not_an_abstention(
    fault_server: FaultServer,
    small_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fault_server.html(200).html(200)
    code, out, err = ask_through(fault_server, small_home, monkeypatch, capsys)
    assert code == 2, (out, err)
    assert "do not answer" not in out
    assert "error: LLM endpoint" in err and "malformed" in err


@pytest.mark.parametrize("path", PATHS)
def test_a_reply_that_is_only_reasoning_is_named_as_such(
    path: str, fault_server: FaultServer
) -> None:
    for _ in range(2):
        fault_server.only_thinking(streamed=path == "stream")
    with pytest.raises(LLMError, match=r"only reasoning \(<think>…</think>\) with no answer"):
        run_path(make(fault_server), path)
    assert fault_server.attempts == 2


def test_an_answer_after_a_think_block_is_not_a_fault(fault_server: FaultServer) -> None:
    fault_server.stream("<think>Weigh it.</think> Attention weighs tokens [1].")
    text = run_path(make(fault_server), "stream")
    assert text == "<think>Weigh it.</think> Attention weighs tokens [1]."  # qa strips it
    assert fault_server.attempts == 1


@pytest.mark.parametrize("streamed", [True, False])
def test_ask_with_only_reasoning_in_the_reply_exits_with_an_error_not_an_answer(
    streamed: bool,
    fault_server: FaultServer,
    small_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fault_server.only_thinking(streamed=streamed).only_thinking(streamed=streamed)
    extra = [] if streamed else ["--json"]
    code, out, err = ask_through(fault_server, small_home, monkeypatch, capsys, *extra)
    assert code == 2, (out, err)
    assert "do not answer" not in out and "Let me think" not in out
    assert "error: LLM endpoint" in err and "only reasoning" in err
    assert fault_server.attempts == 2


# -- nothing leaked ------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_credentials_in_the_base_url_and_an_echoed_key_are_redacted(
    path: str, fault_server: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    url = fault_server.base_url.replace("http://", "http://alice:hunter2-pw@")
    fault_server.status(500).echo_auth(401)
    llm = make(fault_server, base_url=url, api_key=KEY)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(LLMError) as info:
        run_path(llm, path)
    told = fault_server.requests[-1].headers.get("authorization", "")
    assert KEY in told or "Basic" in told  # the server did see a credential, and echoed it
    message = str(info.value)
    assert "refused the request" in message and "invalid credentials" in message
    for text in [message, repr(llm), *(r.getMessage() for r in caplog.records)]:
        assert KEY not in text and "hunter2-pw" not in text, text
    assert "***@127.0.0.1" in message or "127.0.0.1" in llm.endpoint


def test_connection_refused_through_a_url_with_credentials_names_no_password() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    llm = OpenAICompatLLM(
        model="m",
        api_key=KEY,
        base_url=f"http://bob:s3cret-pw@127.0.0.1:{port}/v1",
        timeout=2.0,
        max_attempts=1,
        max_wait=0.01,
    )
    with pytest.raises(LLMError) as info:
        llm.complete(MESSAGES)
    assert "s3cret-pw" not in str(info.value) and KEY not in str(info.value)
    assert f"http://***@127.0.0.1:{port}/v1" in str(info.value)


def test_a_base_url_from_dotenv_with_the_key_from_the_environment_is_warned_about(
    fault_server: FaultServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    import rag_papers.providers.openai_chat as chat_module
    from rag_papers.providers.openai_chat import openai_llm
    from rag_papers.settings import Settings

    monkeypatch.setattr(chat_module, "_warned", set())
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    elsewhere = fault_server.base_url.replace("http://", "http://u:dotenv-pw@")
    Path(".env").write_text(f"OPENAI_BASE_URL={elsewhere}\n")  # the test runs in an empty folder
    with caplog.at_level(logging.WARNING, logger="rag_papers"):
        openai_llm(Settings())
        openai_llm(Settings())
    warned = [
        r.getMessage() for r in caplog.records if "comes from the .env file" in r.getMessage()
    ]
    assert len(warned) == 1, "once per process"
    assert "OPENAI_API_KEY comes from your environment" in warned[0]
    assert KEY not in warned[0] and "dotenv-pw" not in warned[0]

    caplog.clear()
    monkeypatch.setattr(chat_module, "_warned", set())
    monkeypatch.setenv("OPENAI_BASE_URL", fault_server.base_url)  # both chosen in one place
    with caplog.at_level(logging.WARNING, logger="rag_papers"):
        openai_llm(Settings())
    assert not [r for r in caplog.records if ".env" in r.getMessage()]
