"""The chat page through its HTTP API (gradio_client), over a real index of 67 papers.

Each test talks to a real Gradio server on 127.0.0.1 and a free port, the way a browser
session does: one gradio_client.Client is one session with its own conversation.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gradio_client import Client
from procs import free_port

from rag_papers.app import cli, serve, ui
from rag_papers.app.handlers import PageHandlers
from rag_papers.errors import ConfigError
from rag_papers.index.ingest import ingest
from rag_papers.qa.pipeline import Pipeline
from rag_papers.qa.retrieve import Retriever
from rag_papers.settings import Settings
from rag_papers.types import Paper

MRL_TITLE = "Matryoshka Representation Learning"
MRL_QUESTION = "What is Matryoshka Representation Learning?"
LOOK_TITLE = "Rethinking Supervised Pre-training for Better Downstream Transferring"
LOOK_QUESTION = "What is LOOK, the Leave-One-Out K-Nearest-Neighbor supervised pre-training method?"
TRACEBACK_SIGNS = ("Traceback", 'File "', "line ", "Error:")


def launch(
    pipeline: Pipeline, handlers: PageHandlers | None = None, **kwargs: Any
) -> tuple[Any, str]:
    demo = ui.build_app(pipeline=pipeline, handlers=handlers)
    port = free_port()
    demo.launch(
        server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **kwargs
    )
    return demo, f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def app_url(small_pipeline: Pipeline) -> Iterator[str]:
    demo, url = launch(small_pipeline)
    try:
        yield url
    finally:
        demo.close()


def client(url: str, **kwargs: Any) -> Client:
    return Client(url, verbose=False, download_files=False, **kwargs)


def ask(
    c: Client,
    question: Any,
    k: Any = 5,
    year_from: Any = "Any",
    year_to: Any = "Any",
    mode: str = "extractive",
) -> tuple[list[dict[str, Any]], str]:
    history, refs, _box = c.predict(question, k, year_from, year_to, mode, api_name="/ask")
    return history, refs


def text_of(message: dict[str, Any]) -> str:
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def plain(message: dict[str, Any]) -> str:
    """A message as typed: the page escapes Markdown syntax (\\- for -) in what it shows."""
    return re.sub(r"\\(.)", r"\1", text_of(message))


def cited(message: dict[str, Any]) -> list[int]:
    return [int(n) for n in re.findall(r'class="cite" href="#ref-\d+-(\d+)"', text_of(message))]


def latest_refs(refs: str) -> str:
    """The newest turn's block of the references panel (earlier turns follow in <details>)."""
    return refs.split("<details", 1)[0]


# -- the chat flow ------------------------------------------------------------------------
def test_answer_cites_papers_and_references_highlight_the_quote(app_url: str) -> None:
    history, refs = ask(client(app_url), MRL_QUESTION)

    assert [m["role"] for m in history] == ["user", "assistant"]
    assert plain(history[0]) == MRL_QUESTION
    answer = text_of(history[1])
    numbers = cited(history[1])
    assert numbers, f"no [n] citation links in the answer: {answer[:300]}"
    assert "extractive answer" in answer  # the mode is shown with the answer
    for n in set(numbers):  # every citation link has its reference entry
        assert f'id="ref-1-{n}"' in refs
    assert MRL_TITLE in refs
    mark = re.search(r"<mark>(.*?)</mark>", refs, re.DOTALL)
    assert mark and "Matryoshka" in refs[: refs.index("<mark>")] + mark.group(1)
    assert "2022-05-26" in refs  # the paper's date


def test_follow_up_keeps_the_conversation_and_new_chat_clears_it(app_url: str) -> None:
    c = client(app_url)
    ask(c, MRL_QUESTION)
    history, refs = ask(c, "How much smaller are its embeddings?")

    assert [m["role"] for m in history] == ["user", "assistant", "user", "assistant"]
    assert cited(history[3]), text_of(history[3])
    assert MRL_TITLE in latest_refs(refs)  # "it" was understood as the paper of the first answer
    # The first turn's references stay, folded.
    assert "Q2" in latest_refs(refs) and "<details" in refs
    assert 'href="#ref-2-' in text_of(history[3])  # links of the second answer point at turn 2

    history, refs, _box = c.predict(api_name="/new_chat")
    assert history == []
    assert MRL_TITLE not in refs
    history, _ = ask(c, LOOK_QUESTION)
    assert len(history) == 2


def test_two_sessions_at_once_do_not_mix(app_url: str) -> None:
    questions = {
        "a": [MRL_QUESTION, "What does it cost at inference?"],
        "b": [LOOK_QUESTION, "What problem does it relieve?"],
    }
    results: dict[str, tuple[list[dict[str, Any]], str]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def session(name: str) -> None:
        try:
            c = client(app_url)
            start.wait(timeout=60)
            for q in questions[name]:
                results[name] = ask(c, q)
        except BaseException as exc:  # noqa: BLE001 (re-raised in the main thread)
            errors.append(exc)

    threads = [threading.Thread(target=session, args=(name,)) for name in questions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert not errors, errors
    for name, other in (("a", "b"), ("b", "a")):
        history, _refs = results[name]
        users = [plain(m) for m in history if m["role"] == "user"]
        assert users == questions[name], f"session {name} saw {users}"
        assert not any(q in plain(m) for m in history for q in questions[other])
        for m in history:
            assert m["role"] == "user" or cited(m), f"session {name}: {text_of(m)[:400]}"
    assert MRL_TITLE in latest_refs(results["a"][1]) and LOOK_TITLE not in results["a"][1]
    assert LOOK_TITLE in latest_refs(results["b"][1]) and MRL_TITLE not in results["b"][1]


# -- errors become messages --------------------------------------------------------------
@pytest.mark.parametrize(
    ("question", "options", "expected"),
    [
        ("   ", {}, "the question is empty"),
        ("What is MRL?", {"year_from": "last year"}, "not understood"),
        ("What is\x00 MRL?", {}, "control characters"),
    ],
)
def test_bad_input_gets_a_friendly_message(
    app_url: str, question: str, options: dict[str, Any], expected: str
) -> None:
    history, refs = ask(client(app_url), question, **options)
    reply = text_of(history[-1])
    assert history[-1]["role"] == "assistant"
    assert "Please check the question" in reply and expected in reply
    assert not any(sign in reply for sign in TRACEBACK_SIGNS)
    assert "ref-" not in refs  # nothing was answered, nothing is referenced


def test_out_of_range_k_is_refused_without_a_traceback(app_url: str) -> None:
    # The page's slider cannot send it; an API caller gets Gradio's refusal, not our stack.
    with pytest.raises(Exception) as refused:
        ask(client(app_url), "What is MRL?", k=999)
    assert not any(sign in str(refused.value) for sign in ("Traceback", 'File "'))


def test_llm_modes_are_shown_and_an_unreachable_llm_is_a_message(
    fault_server: Any, small_pipeline: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        home=small_pipeline.settings.home,
        mode="openai",
        openai_base_url=fault_server.base_url,
        openai_api_key="sk-test",
        llm_model="tiny-test-model",
        llm_max_attempts=1,
    )
    demo, url = launch(Pipeline(settings, retriever=small_pipeline.retriever))
    try:
        c = client(url)
        mode_param = next(
            p
            for p in c.view_api(print_info=False, return_format="dict")["named_endpoints"]["/ask"][
                "parameters"
            ]
            if p["parameter_name"] == "mode"
        )
        # An LLM is configured: it answers by default.
        assert mode_param["parameter_default"] == "llm"

        fault_server.stream(
            "Matryoshka Representation Learning encodes information at different granularities [1]."
        )
        history, refs = ask(c, MRL_QUESTION, mode="llm")
        reply = text_of(history[-1])
        assert "written by tiny-test-model" in reply and cited(history[-1]) == [1]
        assert MRL_TITLE in refs

        fault_server.status(500)
        with caplog.at_level(logging.DEBUG, logger="rag_papers.app.handlers"):
            history, _ = ask(c, "And how is it trained?", mode="llm")
        reply = text_of(history[-1])
        assert "could not be reached" in reply and "extractive" in reply
        assert not any(sign in reply for sign in ("Traceback", 'File "'))
        # The log keeps the detail: one line at the operator's level, the traceback at debug.
        ui_records = [r for r in caplog.records if r.name == "rag_papers.app.handlers"]
        assert any(
            r.levelno == logging.WARNING and "HTTP 500" in r.getMessage() for r in ui_records
        )
        assert any(r.levelno == logging.DEBUG and r.exc_info for r in ui_records)

        history, _ = ask(c, MRL_QUESTION, mode="extractive")  # the way out the message suggests
        assert "extractive answer" in text_of(history[-1]) and cited(history[-1])
    finally:
        demo.close()


# -- an empty store ----------------------------------------------------------------------
def test_empty_store_offers_to_index_the_sample(tmp_path: Path, small_pipeline: Pipeline) -> None:
    calls: list[dict[str, Any]] = []
    papers = [
        Paper(
            title="Lumen Kernels for Sparse Attention",
            published="2024-03-01",
            abstract="We introduce Lumen kernels, which compute sparse attention in linear time. "
            "Lumen kernels cut the memory of long-context transformers by 8x.",
        ),
        Paper(
            title="Quiet Gradients",
            published="2023-07-15",
            abstract="Quiet gradients damp noisy updates during pre-training. They stabilise large batches.",
        ),
    ]

    def small_sample(*args: Any, **kwargs: Any) -> Any:
        # The page asks for the bundled sample; two papers stand in for its 445 to keep this fast.
        calls.append(kwargs)
        return ingest(papers=papers, settings=kwargs["settings"], progress=False)

    settings = Settings(home=tmp_path / "empty", mode="extractive")
    retriever = Retriever(settings, embed_model=small_pipeline.retriever.embed_model)
    pipeline = Pipeline(settings, retriever=retriever)
    demo, url = launch(pipeline, PageHandlers(pipeline, ingest=small_sample))
    try:
        c = client(url)
        status = c.predict(api_name="/refresh")[0]
        assert "0 papers indexed" in status
        history, _ = ask(c, "What are Lumen kernels?")
        assert "No papers are indexed yet" in text_of(history[-1])

        done = c.predict(api_name="/index_sample")
        assert calls and calls[0]["sample"] is True
        assert done.startswith("**Done:** read 2 papers")
        assert "2 papers indexed" in c.predict(api_name="/refresh")[0]
        history, refs = ask(c, "What are Lumen kernels?")
        assert cited(history[-1]) and "Lumen Kernels for Sparse Attention" in refs
    finally:
        demo.close()


# -- the collection tab ------------------------------------------------------------------
def test_browse_searches_titles_and_abstracts_and_filters_years(app_url: str) -> None:
    c = client(app_url)
    table, count, _card = c.predict("matryoshka", "Any", "Any", False, api_name="/browse")
    titles = [row[0] for row in table["data"]]
    assert MRL_TITLE in titles and "2D Matryoshka Sentence Embeddings" in titles
    assert table["headers"] == ui.TABLE_HEADERS
    assert f"{len(titles)} of 67 papers" in count

    table, count, _ = c.predict("matryoshka", "2024", "2024", False, api_name="/browse")
    assert [row[0] for row in table["data"]] == ["2D Matryoshka Sentence Embeddings"]
    hidden = [t for t in titles if t not in (MRL_TITLE, "2D Matryoshka Sentence Embeddings")]
    if hidden:  # matryoshka papers the listing gave no year: said, and listed on request
        assert f"{len(hidden)} without a publication date hidden" in count
        table, _, _ = c.predict("matryoshka", "2024", "2024", True, api_name="/browse")
        assert len(table["data"]) == 1 + len(hidden)

    refreshed = c.predict(api_name="/refresh")
    stats = refreshed[-1]
    assert "<th>Papers</th><td>67</td>" in stats and "<th>Chunks</th>" in stats


# -- serving -----------------------------------------------------------------------------
def test_basic_auth_from_settings(small_pipeline: Pipeline) -> None:
    auth = serve.parse_auth(Settings(ui_auth="reader:s3cret"))
    assert auth == ("reader", "s3cret")
    demo, url = launch(small_pipeline, auth=auth)
    try:
        assert httpx.get(f"{url}config", timeout=10).status_code == 401
        with pytest.raises(ValueError, match="login"):
            client(url, auth=("reader", "wrong"))
        history, _ = ask(client(url, auth=auth), MRL_QUESTION)
        assert cited(history[-1])
    finally:
        demo.close()


def test_refuses_a_public_host_without_a_password(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert (
        cli.main(["--home", str(tmp_path), "chat", "--host", "0.0.0.0", "--port", str(free_port())])
        == 2
    )
    err = capsys.readouterr().err
    assert "RAG_PAPERS_UI_AUTH" in err and "--insecure-no-auth" in err
    assert ui.main(["--home", str(tmp_path), "--host", "192.168.1.20"]) == 2

    for host in ("127.0.0.1", "localhost", "::1"):
        serve.check_bind(host, None)
    serve.check_bind("0.0.0.0", ("u", "p"))
    serve.check_bind("0.0.0.0", None, insecure_no_auth=True)
    with pytest.raises(ConfigError, match="RAG_PAPERS_UI_AUTH"):
        serve.check_bind("example.org", None)
    with pytest.raises(ConfigError, match="user:password"):
        serve.parse_auth(Settings(ui_auth="no-colon"))


def test_no_share_flag_and_no_share_link(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["chat", "--share"])
    assert "unrecognized arguments: --share" in capsys.readouterr().err
    parser = cli.build_parser()
    args = parser.parse_args(["chat"])
    assert args.host is None and args.port is None and not args.insecure_no_auth
    assert Settings().ui_host == "127.0.0.1" and Settings().ui_port == 7860


def test_chat_command_serves_the_page(tmp_path: Path) -> None:
    """`python -m rag_papers.app.ui` (what `rag-papers chat` runs) starts the page on the port asked."""
    import os
    import subprocess
    import sys
    import time

    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GRADIO_", "RAG_PAPERS_", "OPENAI_"))
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rag_papers.app.ui",
            "--home",
            str(tmp_path / "home"),
            "--port",
            str(port),
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        page = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.5)
        assert page is not None and page.status_code == 200, (
            proc.stderr.read() if proc.poll() is not None else ""
        )
        config = httpx.get(f"http://127.0.0.1:{port}/config", timeout=10).json()
        assert config["title"] == "rag-papers" and not config.get("share_url")
        assert config.get("analytics_enabled") is False
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}" in err
    assert "Traceback" not in err
