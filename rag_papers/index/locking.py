"""Advisory file locks (flock) that let processes sharing one home folder take turns.

Two locks live in the home folder: `ingest.lock` (one writer at a time) and `bm25.lock`
(readers hold it shared while they load the keyword index, a rebuild holds it exclusive
while it swaps the new index in). The kernel releases a lock when its process dies, so a
killed ingest never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)


@contextmanager
def file_lock(path: Path, *, shared: bool = False, waiting: str | None = None) -> Iterator[None]:
    """Hold a flock on `path` (created if missing) for the body of the `with`.

    If the lock is busy and `waiting` is given, it is logged as a warning once before
    blocking, so a user sees why nothing happens instead of a silent hang.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    try:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting:
                log.warning(waiting)
            fcntl.flock(fd, mode)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
