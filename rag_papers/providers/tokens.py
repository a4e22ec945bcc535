"""Token counting with tiktoken: the one place that knows how a chat request is counted.

Used to pack sources into the prompt's budget, to estimate usage when a server reports none
(many local servers when streaming), and by the eval harness for cost. Model names tiktoken
does not know (local servers') are counted with cl100k_base, as OpenAI's recent models are
close to it. tiktoken's files come from the cache llama-index-core ships (see _offline).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from rag_papers import _offline  # noqa: F401  (tiktoken's cache before tiktoken is imported)

if TYPE_CHECKING:
    import tiktoken

__all__ = [
    "EMBED_ENCODING",
    "chat_tokens",
    "count_tokens",
    "embed_tokens",
    "encoding",
    "estimate_usage",
]

# OpenAI's accounting of a chat request (openai-cookbook, "How to count tokens with tiktoken"):
# every message costs 3 tokens of framing plus its role and content, and every reply is primed
# with 3 more (<|start|>assistant<|message|>).
TOKENS_PER_MESSAGE = 3
TOKENS_PER_REPLY = 3
# OpenAI's embedding models (text-embedding-3-*, ada-002) all tokenise with cl100k_base.
EMBED_ENCODING = "cl100k_base"


@lru_cache(maxsize=8)
def encoding(model: str) -> tiktoken.Encoding:
    import tiktoken

    try:
        return tiktoken.encoding_for_model(model)
    except KeyError:  # local servers' model names
        return tiktoken.get_encoding("cl100k_base")


def count_tokens(text: str, model: str) -> int:
    return len(encoding(model).encode(text))


@lru_cache(maxsize=1)
def embed_encoding() -> tiktoken.Encoding:
    import tiktoken

    return tiktoken.get_encoding(EMBED_ENCODING)


def embed_tokens(texts: Iterable[str]) -> int:
    """Tokens an OpenAI embedding request is charged for these texts."""
    enc = embed_encoding()
    return sum(len(enc.encode(text)) for text in texts)


def chat_tokens(messages: Sequence[dict[str, str]], model: str) -> int:
    """Prompt tokens of a chat request: framing, role and content of each message, and the
    reply priming."""
    enc = encoding(model)
    per_message = (
        TOKENS_PER_MESSAGE
        + len(enc.encode(m.get("role", "")))
        + len(enc.encode(m.get("content", "")))
        for m in messages
    )
    return sum(per_message) + TOKENS_PER_REPLY


def estimate_usage(messages: Sequence[dict[str, str]], text: str, model: str) -> dict[str, int]:
    """Usage as the server would report it, for servers that report none."""
    prompt = chat_tokens(messages, model)
    completion = count_tokens(text, model)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
