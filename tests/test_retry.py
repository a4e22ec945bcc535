"""The one HTTP retry policy (providers/retry.py) shared by chat, embeddings and arXiv."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest

from rag_papers.providers.retry import (
    RetryPolicy,
    attempts_made,
    requested_wait,
    retry_after_seconds,
)


def test_retry_after_seconds_reads_every_form() -> None:
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"retry-after": " 7 "}) == 7.0
    assert retry_after_seconds({"retry-after": "0.5"}) == 0.5
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    in_ten = email.utils.formatdate(time.time() + 10, usegmt=True)
    assert 8.0 <= retry_after_seconds({"retry-after": in_ten}) <= 10.5
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # past
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None and retry_after_seconds(None) is None
    # httpx headers are case-insensitive
    assert retry_after_seconds(httpx.Headers({"Retry-After": "4"})) == 4.0


def test_requested_wait_comes_from_the_error_or_its_response() -> None:
    class Throttled(Exception):
        retry_after = 2.5

    response = httpx.Response(429, headers={"Retry-After": "6"})
    error = httpx.HTTPStatusError(
        "429", request=httpx.Request("GET", "http://x"), response=response
    )
    assert requested_wait(Throttled()) == 2.5
    assert requested_wait(error) == 6.0
    assert requested_wait(ValueError("no hint")) is None and requested_wait(None) is None


def test_backoff_doubles_with_bounded_jitter_and_caps_at_max_wait() -> None:
    policy = RetryPolicy(max_attempts=5, max_wait=10.0, base=0.5, jitter=1.0)
    for attempt, step in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0)]:
        waits = [policy.wait_seconds(attempt) for _ in range(50)]
        assert all(step <= w <= step + 1.0 for w in waits)
        assert len(set(waits)) > 1  # jittered: clients that failed together do not retry together
    assert policy.wait_seconds(10) == 10.0


def test_server_requested_wait_wins_capped_and_floored() -> None:
    policy = RetryPolicy(max_attempts=3, max_wait=5.0)
    assert policy.wait_seconds(1, asked=2.0) == 2.0
    assert policy.wait_seconds(1, asked=60.0) == 5.0
    polite = RetryPolicy(max_attempts=3, max_wait=120.0, base=3.0, jitter=0.0, floor=3.0)
    assert polite.wait_seconds(1, asked=0.0) == 3.0  # never sooner than the polite delay
    assert polite.wait_seconds(1) == 3.0 and polite.wait_seconds(2) == 6.0  # no jitter


def test_retrying_retries_only_what_retry_on_accepts_and_counts_attempts() -> None:
    policy = RetryPolicy(max_attempts=3, max_wait=0.001)
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("dropped")
        return "ok"

    retrying = policy.retrying(lambda e: isinstance(e, ConnectionError))
    assert retrying(flaky) == "ok" and attempts_made(retrying) == 3

    def refused() -> None:
        calls.append(1)
        raise PermissionError("401")

    calls.clear()
    retrying = policy.retrying(lambda e: isinstance(e, ConnectionError))
    with pytest.raises(PermissionError):
        retrying(refused)
    assert len(calls) == 1 and attempts_made(retrying) == 1

    calls.clear()
    retrying = policy.retrying(lambda e: True)
    with pytest.raises(PermissionError):
        retrying(refused)
    assert len(calls) == 3  # bounded by max_attempts, and the last error is re-raised
