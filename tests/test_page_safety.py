"""The page leaks nothing: no credentials or server text to visitors, no local paths, no
endpoint that skips its own precondition, no unlimited password guessing."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from fault_server import FaultServer
from test_ui import MRL_QUESTION, ask, client, launch, text_of

from rag_papers.app.signin import SignInGuard
from rag_papers.qa.pipeline import Pipeline
from rag_papers.qa.retrieve import Retriever
from rag_papers.settings import Settings

KEY = "sk-proj-PAGE-secret-key-0123456789"


def llm_pipeline(small_pipeline: Pipeline, fault_server: FaultServer, **extra: Any) -> Pipeline:
    settings = Settings(
        home=small_pipeline.settings.home,
        mode="openai",
        openai_base_url=fault_server.base_url.replace("http://", "http://ops:pa55word-xyz@"),
        openai_api_key=KEY,
        llm_model="tiny-test-model",
        llm_max_attempts=1,
        **extra,
    )
    return Pipeline(settings, retriever=small_pipeline.retriever)


@pytest.mark.parametrize("level", ["warning", "error"])
def test_a_failing_llm_shows_visitors_a_short_message_and_logs_one_redacted_line(
    level: str,
    fault_server: FaultServer,
    small_pipeline: Pipeline,
    caplog: pytest.LogCaptureFixture,
) -> None:
    demo, url = launch(llm_pipeline(small_pipeline, fault_server, ui_error_log_level=level))
    try:
        fault_server.echo_auth(401)  # the server repeats the credentials it was sent
        with caplog.at_level(logging.DEBUG, logger="rag_papers"):
            history, refs = ask(client(url), MRL_QUESTION, mode="llm")
        reply = text_of(history[-1])
        assert "could not be reached" in reply and "extractive" in reply
        for secret in (KEY, "pa55word-xyz", "invalid credentials", "127.0.0.1", "HTTP 401"):
            assert secret not in reply and secret not in refs
        ours = [r for r in caplog.records if r.name.startswith("rag_papers.app.")]  # the page
        lines = [r for r in ours if r.levelno >= logging.INFO]
        assert len(lines) == 1 and lines[0].levelname == level.upper()
        assert "invalid credentials" in lines[0].getMessage()  # the operator gets the detail
        assert not lines[0].exc_info, "no traceback per request above debug"
        assert any(r.exc_info for r in ours if r.levelno == logging.DEBUG)
        for record in caplog.records:
            assert KEY not in record.getMessage() and "pa55word-xyz" not in record.getMessage()
    finally:
        demo.close()


def test_the_page_sends_no_local_source_paths(small_pipeline: Pipeline) -> None:
    demo, url = launch(small_pipeline)
    try:
        c = client(url)
        sent = [ask(c, MRL_QUESTION), c.predict(api_name="/refresh")]
        sent.append(c.predict("matryoshka", "Any", "Any", api_name="/browse"))
        text = json.dumps(sent, default=str)
        assert "Matryoshka" in text
        for leak in ("004_9055317b84f6e392", "data/sample"):  # where the papers were read from
            assert leak not in text
    finally:
        demo.close()


def test_index_sample_called_directly_refuses_on_a_non_empty_store(
    small_home: Path, small_pipeline: Pipeline
) -> None:
    settings = Settings(home=small_home, mode="extractive")
    retriever = Retriever(settings, embed_model=small_pipeline.retriever.embed_model)
    before = retriever.store.count_chunks()
    demo, url = launch(Pipeline(settings, retriever=retriever))
    try:
        told = client(url).predict(api_name="/index_sample")
        assert "already holds papers" in told
        assert retriever.store.count_chunks() == before
    finally:
        demo.close()


def test_wrong_passwords_slow_the_next_sign_in_and_a_right_one_resets() -> None:
    waits: list[float] = []
    guard = SignInGuard("reader", "s3cret", sleep=waits.append)
    assert guard("reader", "s3cret") and waits == []
    for _ in range(6):
        assert not guard("reader", "guess")
    assert not guard("someone", "s3cret")
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 16.0]
    assert guard("reader", "s3cret")
    assert waits[-1] == 16.0 and guard.failures == 0
    assert guard("reader", "s3cret") and len(waits) == 7


def test_the_page_login_form_uses_the_guard(small_pipeline: Pipeline) -> None:
    guard = SignInGuard("reader", "s3cret", sleep=lambda _s: None)
    demo, url = launch(small_pipeline, auth=guard)
    try:
        assert httpx.get(f"{url}config", timeout=10).status_code == 401  # login form, not Basic
        wrong = httpx.post(f"{url}login", data={"username": "reader", "password": "x"}, timeout=10)
        assert wrong.status_code >= 400 and guard.failures == 1
        right = httpx.post(
            f"{url}login", data={"username": "reader", "password": "s3cret"}, timeout=10
        )
        assert right.status_code == 200 and guard.failures == 0
    finally:
        demo.close()
