"""The page's sign-in check: constant-time comparison and a growing delay after wrong passwords.

Gradio shows its own login form (a POST to /login, not HTTP Basic) and calls `auth(user,
password)`. Checks are taken one at a time, and each wrong password makes the next check
wait longer (1 s, 2 s, 4 s ... up to MAX_DELAY_S), so guessing is slow however many
connections a guesser opens; a right password resets the delay.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

FIRST_DELAY_S = 1.0
MAX_DELAY_S = 16.0


class SignInGuard:
    """`auth=` for gradio's launch(): True for the configured user and password."""

    def __init__(
        self, user: str, password: str, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._user = user.encode()
        self._password = password.encode()
        self._sleep = sleep
        self._lock = threading.Lock()
        self.failures = 0

    def delay(self) -> float:
        """Seconds the next check waits: zero until a wrong password, then doubling."""
        if not self.failures:
            return 0.0
        return min(FIRST_DELAY_S * 2 ** (self.failures - 1), MAX_DELAY_S)

    def __call__(self, user: str, password: str) -> bool:
        with self._lock:  # one check at a time: parallel guesses queue behind the delay
            wait = self.delay()
            if wait:
                self._sleep(wait)
            ok = hmac.compare_digest(str(user).encode(), self._user) & hmac.compare_digest(
                str(password).encode(), self._password
            )
            if ok:
                self.failures = 0
            else:
                self.failures += 1
                log.warning(
                    "wrong password at the page's sign-in (%d in a row); the next check waits %.0f s",
                    self.failures,
                    self.delay(),
                )
            return bool(ok)
