"""The one HTTP retry policy, shared by the chat client, the embeddings client and arXiv.

Exponential backoff with jitter, bounded by `max_attempts`; when the server says how long
to wait (`Retry-After` in seconds or as an HTTP date, or `retry-after-ms`), that wins,
capped by `max_wait`. Which failures are worth retrying is the caller's call (a 401 never
gets better by waiting, a 503 may), passed in as `retry_on`. Built on tenacity.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
)

__all__ = ["RetryPolicy", "attempts_made", "requested_wait", "retry_after_seconds"]


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds the server asked us to wait, from `retry-after-ms` or `Retry-After`.

    `Retry-After` may be seconds (floats tolerated) or an HTTP date; None when absent or
    unreadable. Servers that throttle tell us exactly when to come back, which beats guessing.
    """
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def requested_wait(exc: BaseException | None) -> float | None:
    """The wait an error carries: its own `retry_after`, else its HTTP response's headers."""
    if exc is None:
        return None
    asked = getattr(exc, "retry_after", None)
    if isinstance(asked, int | float):
        return float(asked)
    return retry_after_seconds(getattr(getattr(exc, "response", None), "headers", None))


def attempts_made(retrying: Retrying | AsyncRetrying) -> int:
    """How many attempts a retry loop made (tenacity keeps the count in its statistics)."""
    return int(retrying.statistics.get("attempt_number", 1))


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently one kind of request is retried.

    `base` is the first back-off step (doubling each retry), `jitter` the most random extra
    seconds added to it, `floor` the least wait in any case (arXiv asks for polite spacing).
    """

    max_attempts: int
    max_wait: float
    base: float = 0.5
    jitter: float = 1.0
    floor: float = 0.0

    def wait_seconds(self, attempt: int, asked: float | None = None) -> float:
        """The pause after failed attempt number `attempt` (from 1)."""
        if asked is not None:
            return max(self.floor, min(asked, self.max_wait))
        step = self.base * 2 ** (attempt - 1)
        extra = random.uniform(0, min(self.jitter, self.max_wait)) if self.jitter else 0.0
        return max(self.floor, min(self.max_wait, step + extra))

    def _tenacity_kwargs(
        self,
        retry_on: Callable[[BaseException], bool],
        describe: Callable[[BaseException], str],
        what: str,
        log: logging.Logger,
    ) -> dict[str, Any]:
        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            return self.wait_seconds(state.attempt_number, requested_wait(exc))

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "%s failed on attempt %d/%d: %s; retrying in %.2f s",
                what,
                state.attempt_number,
                self.max_attempts,
                describe(exc) if exc else "?",
                state.next_action.sleep if state.next_action else 0.0,
            )

        return {
            "stop": stop_after_attempt(self.max_attempts),
            "wait": wait,
            "retry": retry_if_exception(retry_on),
            "before_sleep": before_sleep,
            "reraise": True,
        }

    def retrying(
        self,
        retry_on: Callable[[BaseException], bool],
        *,
        describe: Callable[[BaseException], str] = str,
        what: str = "request",
        log: logging.Logger | None = None,
    ) -> Retrying:
        """A tenacity loop for one call: `retrying(fn, *args)` or `for attempt in retrying`."""
        return Retrying(
            **self._tenacity_kwargs(retry_on, describe, what, log or logging.getLogger(__name__))
        )

    def async_retrying(
        self,
        retry_on: Callable[[BaseException], bool],
        *,
        describe: Callable[[BaseException], str] = str,
        what: str = "request",
        log: logging.Logger | None = None,
    ) -> AsyncRetrying:
        """`retrying` for coroutines."""
        return AsyncRetrying(
            **self._tenacity_kwargs(retry_on, describe, what, log or logging.getLogger(__name__))
        )
