"""OpenAICompatLLM against a real model (SmolLM2-135M via llama-cpp-python's server).

Opt-in: `pytest -m llm`. The model is tiny, so the tests check the plumbing (text comes
back, usage is counted, streaming yields pieces), not the quality of what it says.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from llm_server import (  # noqa: F401 - fixtures
    MODEL_ALIAS,
    LlamaServer,
    llama_base_url_fixture,
    llama_fixture,
)

from rag_papers.providers.llm import OpenAICompatLLM

pytestmark = pytest.mark.llm

MESSAGES = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "In one sentence, what is a neural network?"},
]


def make(base_url: str) -> OpenAICompatLLM:
    return OpenAICompatLLM(
        model=MODEL_ALIAS,
        api_key=None,
        base_url=base_url,
        timeout=60,
        max_attempts=2,
        max_wait=1,
        max_tokens=48,
    )


def test_server_started_from_the_packaged_gguf(llama: LlamaServer) -> None:
    assert llama.gguf.suffix == ".gguf" and llama.gguf.stat().st_size > 10_000_000
    assert llama.base_url.endswith("/v1")


def test_complete_returns_text_and_usage(llama_base_url: str) -> None:
    llm = make(llama_base_url)
    start = time.monotonic()
    reply = llm.complete(MESSAGES)
    elapsed = time.monotonic() - start

    assert reply.text.strip()
    assert reply.usage["prompt_tokens"] > 0
    assert 0 < reply.usage["completion_tokens"] <= 48
    assert (
        reply.usage["total_tokens"]
        == reply.usage["prompt_tokens"] + reply.usage["completion_tokens"]
    )
    assert reply.model == MODEL_ALIAS
    assert elapsed < 30, f"one 48-token answer took {elapsed:.1f} s"


def test_stream_yields_several_deltas(llama_base_url: str) -> None:
    llm = make(llama_base_url)
    *pieces, reply = llm.stream(MESSAGES)

    assert len(pieces) >= 3
    assert "".join(pieces).strip() and reply.text == "".join(pieces)
    # llama-cpp-python sends no usage chunk in streams; whatever arrives must be consistent.
    usage = reply.usage
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_acomplete_returns_text(llama_base_url: str) -> None:
    reply = asyncio.run(make(llama_base_url).acomplete(MESSAGES))
    assert reply.text.strip()
    assert reply.usage["completion_tokens"] > 0


def test_same_question_at_temperature_zero_gives_the_same_answer(llama_base_url: str) -> None:
    """The eval harness relies on repeatable answers at temperature 0."""
    llm = make(llama_base_url)
    assert llm.complete(MESSAGES).text == llm.complete(MESSAGES).text
