"""A scripted chat model for unit tests of the answer logic (prompt, citations, abstention).

Like simonw/llm's MockModel: queue replies with `enqueue`, then assert on `history`, the
message lists the code under test sent. It fits `rag_papers.providers.llm.ChatLLM`. Tests of the HTTP
client itself use tests/mock_http.py (httpx.MockTransport) and tests/fault_server.py (a real
socket) instead; this fake never touches the network.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from rag_papers.providers.llm import LLMReply


def _count_tokens(text: str) -> int:
    """A rough, deterministic token count (words), enough for usage bookkeeping in tests."""
    return len(text.split())


class ScriptedLLM:
    """Replies with queued strings, in order; fails the test if asked with nothing queued."""

    def __init__(self, replies: list[str] | None = None, model: str = "scripted") -> None:
        self.model = model
        self._replies: deque[str] = deque(replies or [])
        self.history: list[list[dict[str, str]]] = []

    def enqueue(self, *replies: str) -> ScriptedLLM:
        self._replies.extend(replies)
        return self

    @property
    def pending(self) -> int:
        """Replies not yet used; a test can assert it reaches 0."""
        return len(self._replies)

    def _take(self, messages: list[dict[str, str]]) -> LLMReply:
        # Copy so later mutation by the caller cannot rewrite what the test asserts on.
        self.history.append([dict(m) for m in messages])
        if not self._replies:
            raise AssertionError(
                f"ScriptedLLM was called {len(self.history)} time(s) but has no reply queued; "
                "add one with .enqueue(...)"
            )
        text = self._replies.popleft()
        prompt = sum(_count_tokens(m.get("content", "")) for m in messages)
        completion = _count_tokens(text)
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        return LLMReply(text=text, usage=dict(usage), model=self.model)

    def complete(self, messages: list[dict[str, str]]) -> LLMReply:
        return self._take(messages)

    async def acomplete(self, messages: list[dict[str, str]]) -> LLMReply:
        return self._take(messages)

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str | LLMReply]:
        """Yield the reply in pieces of a few characters, like a real server's deltas, then
        the whole reply with its usage."""
        reply = self._take(messages)
        size = 4
        for start in range(0, len(reply.text), size):
            yield reply.text[start : start + size]
        yield reply
