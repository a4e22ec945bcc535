"""The provider registry: a setting picks the module that builds the chat LLM or embeddings."""

from __future__ import annotations

import sys
import types

import pytest
from fakes import ScriptedLLM

from rag_papers.errors import ConfigError
from rag_papers.providers import registry
from rag_papers.providers.llm import ChatLLM, OpenAICompatLLM
from rag_papers.providers.registry import make_llm
from rag_papers.settings import Settings


def test_default_provider_is_any_openai_compatible_server() -> None:
    settings = Settings(openai_base_url="http://127.0.0.1:9/v1", llm_model="local-model")
    assert settings.llm_provider == "openai"
    llm = make_llm(settings)
    assert isinstance(llm, OpenAICompatLLM) and isinstance(llm, ChatLLM)
    assert llm.model == "local-model" and llm.endpoint == "http://127.0.0.1:9/v1"


def test_a_second_provider_is_one_module_and_one_registry_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = types.ModuleType("fake_provider")
    module.build = lambda settings: ScriptedLLM(["hi"], model=settings.llm_model)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_provider", module)
    monkeypatch.setitem(registry.LLM_PROVIDERS, "fake", "fake_provider:build")

    llm = make_llm(Settings(llm_provider="fake", llm_model="m"))
    assert isinstance(llm, ScriptedLLM) and llm.model == "m"


def test_unknown_provider_names_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_PAPERS_LLM_PROVIDER", "anthropic")
    with pytest.raises(ConfigError, match="RAG_PAPERS_LLM_PROVIDER to one of openai"):
        make_llm(Settings())
    with pytest.raises(ConfigError, match="RAG_PAPERS_EMBED_BACKEND to one of local, openai"):
        registry.make_embed_model(Settings(embed_backend="nope"))


def test_old_answer_mode_name_is_accepted_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    from rag_papers.qa.pipeline import validate_mode

    monkeypatch.setenv("RAG_PAPERS_MODE", "openai")
    assert Settings().mode == "llm"
    assert validate_mode("openai") == "llm" and validate_mode("llm") == "llm"
    assert Settings(mode="openai").settings_hash() == Settings(mode="llm").settings_hash()


def test_chat_tokens_follow_openais_accounting() -> None:
    """3 tokens of framing per message plus its role and content, plus 3 priming the reply."""
    from rag_papers.providers.tokens import chat_tokens, count_tokens, estimate_usage

    messages = [
        {"role": "system", "content": "Answer from the sources."},
        {"role": "user", "content": "What is attention?"},
    ]
    content = sum(count_tokens(m["content"], "gpt-4o-mini") for m in messages)
    assert count_tokens("system", "gpt-4o-mini") == count_tokens("user", "gpt-4o-mini") == 1
    assert chat_tokens(messages, "gpt-4o-mini") == content + 2 * (3 + 1) + 3
    usage = estimate_usage(messages, "Attention weighs tokens.", "a-local-model")
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["completion_tokens"] == count_tokens("Attention weighs tokens.", "cl100k")


def test_embedding_cost_counts_tokens_as_openais_embedding_models_do() -> None:
    """cl100k_base, the encoding of text-embedding-3-* and ada-002 ('hello world' is 2 tokens,
    'tiktoken is great!' 6, as in OpenAI's cookbook); the ingest cost estimate sums it over the
    chunks' embedded text."""
    from llama_index.core.schema import MetadataMode

    from rag_papers.index.chunks import chunk_papers, estimate_embedding_cost
    from rag_papers.providers.tokens import embed_tokens
    from rag_papers.types import Paper

    assert embed_tokens(["hello world", "tiktoken is great!"]) == 2 + 6
    assert embed_tokens([]) == 0
    settings = Settings(embed_backend="openai", embed_model="text-embedding-3-small")
    papers = [Paper(title="Lumen Kernels", abstract="Lumen kernels compute attention fast.")]
    tokens, usd = estimate_embedding_cost(papers, settings)
    (chunk,) = chunk_papers(papers, settings)
    assert tokens == embed_tokens([chunk.get_content(MetadataMode.EMBED)]) > 0
    assert usd == pytest.approx(tokens * 0.02 / 1e6)
