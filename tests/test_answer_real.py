"""answer() against a real local model behind llama-cpp-python's OpenAI-compatible server.

Opt-in (`pytest -m llm`; CI runs it). SmolLM2-135M is weak and rarely cites, so these tests
check structure: a non-empty answer, only citation numbers that were given, streaming works.
"""

from __future__ import annotations

import pytest
from llm_server import MODEL_ALIAS, llama_base_url_fixture, llama_fixture  # noqa: F401

from rag_papers import Answer, Settings
from rag_papers.qa.pipeline import answer, stream_answer

pytestmark = pytest.mark.llm

Q = "How does Matryoshka Representation Learning make one embedding adapt to different compute budgets?"


def settings(home, base_url: str) -> Settings:
    return Settings(
        home=home,
        openai_base_url=base_url,
        llm_model=MODEL_ALIAS,
        max_answer_tokens=96,
        context_tokens=1200,
        llm_timeout=120,
    )


def test_real_model_answer_has_text_and_only_known_citations(
    small_index, llama_base_url: str
) -> None:
    ans = answer(Q, settings=settings(small_index, llama_base_url), k=3)
    assert ans.mode == "llm" and ans.model
    assert ans.text.strip()
    assert all(1 <= c.number <= len(ans.contexts) for c in ans.citations)
    assert ans.usage["total_tokens"] > 0


def test_real_model_streams(small_index, llama_base_url: str) -> None:
    items = list(stream_answer(Q, settings=settings(small_index, llama_base_url), k=3))
    final = items[-1]
    assert isinstance(final, Answer)
    assert len(items) > 3 and all(isinstance(i, str) for i in items[:-1])
    assert all(1 <= c.number <= len(final.contexts) for c in final.citations)
