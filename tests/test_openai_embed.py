"""The OpenAI embeddings client's logic over httpx.MockTransport (no socket). The round trip
through ingest over real HTTP is in tests/test_ingest.py (FakeEmbeddingsServer)."""

from __future__ import annotations

import json
from collections import deque

import httpx
import pytest

from rag_papers.errors import LLMError
from rag_papers.providers.openai_embed import OpenAIEmbedding
from rag_papers.settings import Settings

BASE_URL = "http://embeddings-mock.test/v1"


class ScriptedEmbeddings:
    """Answers /v1/embeddings from a queue of statuses; 200 gives one-hot vectors, reversed."""

    def __init__(self, *statuses: int | tuple[int, dict[str, str]]) -> None:
        self.statuses = deque(statuses)
        self.bodies: list[dict[str, object]] = []
        self.drop_one = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        status = self.statuses.popleft() if self.statuses else 200
        code, headers = status if isinstance(status, tuple) else (status, {})
        if code != 200:
            return httpx.Response(code, headers=headers, json={"error": {"message": f"{code}"}})
        texts = body["input"]
        data = [
            {"object": "embedding", "index": i, "embedding": [float(i == j) for j in range(4)]}
            for i in range(len(texts))
        ]
        data.reverse()  # servers may answer out of order: `index` is what counts
        if self.drop_one:
            data = data[1:]
        return httpx.Response(200, json={"object": "list", "data": data, "model": body["model"]})

    def model(self, **settings: object) -> OpenAIEmbedding:
        values: dict[str, object] = {
            "embed_backend": "openai",
            "openai_base_url": BASE_URL,
            "llm_max_attempts": 3,
            "llm_max_wait": 0.001,
        }
        values.update(settings)
        client = httpx.Client(transport=httpx.MockTransport(self.handle))
        return OpenAIEmbedding(Settings(**values), http_client=client)  # type: ignore[arg-type]


def test_vectors_come_back_in_input_order() -> None:
    server = ScriptedEmbeddings()
    vectors = server.model().get_text_embedding_batch(["a", "b", "c"])
    assert vectors == [[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0]]
    [body] = server.bodies  # one request per batch
    assert body["input"] == ["a", "b", "c"] and body["model"] == "text-embedding-3-small"


def test_throttling_and_server_errors_are_retried() -> None:
    server = ScriptedEmbeddings((429, {"Retry-After": "0"}), 503)
    assert server.model().get_query_embedding("q") == [1.0, 0, 0, 0]
    assert len(server.bodies) == 3 and server.bodies[0] == server.bodies[2]


def test_a_refused_key_fails_at_once_and_says_what_to_check() -> None:
    server = ScriptedEmbeddings(401, 200)
    with pytest.raises(LLMError, match=r"after 1 attempt\(s\): HTTP 401.*OPENAI_API_KEY"):
        server.model(openai_api_key="sk-test-x").get_query_embedding("q")
    assert len(server.bodies) == 1


def test_persistent_failure_is_bounded_by_max_attempts() -> None:
    server = ScriptedEmbeddings(500, 500, 500, 200)
    with pytest.raises(LLMError, match=r"after 3 attempt\(s\)"):
        server.model().get_query_embedding("q")
    assert len(server.bodies) == 3


def test_a_missing_vector_is_an_error_not_a_misaligned_store() -> None:
    server = ScriptedEmbeddings()
    server.drop_one = True
    with pytest.raises(LLMError, match="returned 1 vectors for 2 texts"):
        server.model().get_text_embedding_batch(["a", "b"])
