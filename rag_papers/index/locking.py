"""Locks that let writers (and BM25 rebuilds) take turns, within one home and across machines.

Two flocks live in the home folder: `ingest.lock` (one writer at a time) and `bm25.lock`
(readers hold it shared while they load the keyword index, a rebuild holds it exclusive
while it swaps the new index in). The kernel releases a flock when its process dies, so a
killed ingest never leaves a stale one behind.

A flock only reaches processes sharing the home. When the store is a Chroma server, writers
on other machines (or in other homes) share the collection, so `writer_lock` also takes a
lock held in the server itself (`ServerLock`, records in `lease.py`): created atomically,
renewed by a heartbeat while the writer runs, and taken over once it has not been renewed
for `writer_lease_s` seconds (its writer was killed or cut off). Readers never take either.
See docs/deployment.md for what this guarantees and what it does not.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from rag_papers.errors import WriterLockError
from rag_papers.index import lease
from rag_papers.settings import Settings

if TYPE_CHECKING:
    from rag_papers.index.store import PaperStore

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


@contextmanager
def writer_lock(settings: Settings, what: str = "ingest") -> Iterator[None]:
    """One writer at a time: the home's flock, and with a Chroma server its lock there too.

    `what` ("ingest", "removal") is what a waiting writer is told the holder is doing.
    """
    home = Path(settings.home).expanduser()
    lock = home / "ingest.lock"
    with file_lock(
        lock, waiting=f"waiting for another ingest into {home} to finish (it holds {lock})"
    ):
        if not settings.chroma_host:
            yield
            return
        from rag_papers.index.store import PaperStore

        server = ServerLock(PaperStore(settings), settings, what)
        server.acquire()
        try:
            yield
        except BaseException:
            server.release()
            raise
        server.release()
        server.check_kept()


def holder(meta: lease.Meta) -> str:
    """Who holds a lock, for messages: "host H, pid P, since T"."""
    return (
        f"host {meta.get('host', '?')}, pid {meta.get('pid', '?')}, since {meta.get('since', '?')}"
    )


class ServerLock:
    """A writer lock for one collection, held in the Chroma server (see lease.py).

    Acquiring creates the lock collection; only one writer's create can succeed. A waiter
    judges a lock stale by its own clock: the holder's heartbeat counter has not changed
    for the holder's lease (so clocks of different machines need not agree). A stale lock
    is removed by its id and the waiter competes for a new one like any other writer.
    """

    def __init__(self, store: PaperStore, settings: Settings, what: str = "ingest") -> None:
        self.store = store
        self.name = lease.lock_name(settings.collection)
        self.where = f"collection {settings.collection!r} on {store.location}"
        self.lease_s = settings.writer_lease_s
        self.wait_s = settings.writer_wait_s
        self.meta: lease.Meta = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "token": uuid.uuid4().hex,
            "what": what,
            "lease_s": self.lease_s,
            "beat": 0,
        }
        self.record: lease.LockRecord | None = None
        self.lost = False
        self._stop = threading.Event()
        self._beater: threading.Thread | None = None

    # -- taking the lock ------------------------------------------------------------------
    def acquire(self) -> None:
        """Take the lock, waiting for its holder (and saying so once per holder)."""
        deadline = None if self.wait_s is None else time.monotonic() + self.wait_s
        seen: tuple[str, object] | None = None  # (lock id, heartbeat) last observed
        seen_at = 0.0
        told: set[str] = set()
        while True:
            self.meta["since"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
            record = lease.create(self.store, self.name, self.meta)
            if record is not None:
                self.record = record
                self._beater = threading.Thread(
                    target=self._beat, name="writer-lock-heartbeat", daemon=True
                )
                self._beater.start()
                return
            other = lease.read(self.store, self.name)
            if other is None:
                continue  # released between our create and our read: try again at once
            now = time.monotonic()
            if (other.id, other.meta.get("beat")) != seen:
                seen, seen_at = (other.id, other.meta.get("beat")), now
            their_lease = float(other.meta.get("lease_s") or self.lease_s)
            if now - seen_at >= their_lease:
                log.warning(
                    "the writer lock on %s (%s by %s) was not renewed for %.0f s: its writer "
                    "was killed or lost the server; taking the lock over",
                    self.where,
                    "a removal" if other.meta.get("what") == "removal" else "an ingest",
                    holder(other.meta),
                    now - seen_at,
                )
                lease.remove(self.store, other)
                seen = None
                continue
            if deadline is not None and now >= deadline:
                raise WriterLockError(
                    f"another {other.meta.get('what', 'ingest')} ({holder(other.meta)}) holds "
                    f"the writer lock on {self.where}; nothing was written — try again when "
                    "it has finished, or set RAG_PAPERS_WRITER_WAIT_S to wait longer"
                )
            if other.id not in told:
                told.add(other.id)
                log.warning(
                    "waiting for another %s (%s) to finish writing to %s; Ctrl-C stops waiting",
                    other.meta.get("what", "ingest"),
                    holder(other.meta),
                    self.where,
                )
            pause = min(1.0, their_lease / 4)
            if deadline is not None:
                pause = max(0.0, min(pause, deadline - now))
            time.sleep(pause)

    # -- holding it -----------------------------------------------------------------------
    def _beat(self) -> None:
        """Renew the lock every quarter lease until released; notice if it was taken over."""
        failing = False
        while not self._stop.wait(self.lease_s / 4):
            assert self.record is not None
            self.meta["beat"] = int(self.meta["beat"]) + 1
            try:
                kept = lease.renew(self.store, self.name, self.record, self.meta)
            except Exception as exc:  # chromadb and httpx raise many types for a lost server
                if not failing:
                    log.warning("could not renew the writer lock on %s (%s)", self.where, exc)
                failing = True
                continue
            failing = False
            if not kept:
                self.lost = True
                log.error(
                    "another writer took over the writer lock on %s: this process did not "
                    "renew it for %.0f s (was it paused or cut off from the server?)",
                    self.where,
                    self.lease_s,
                )
                return

    def release(self) -> None:
        """Stop renewing and remove the lock (if it is still ours)."""
        self._stop.set()
        if self._beater is not None:
            self._beater.join()
        if self.record is not None and not self.lost:
            try:
                lease.remove(self.store, self.record)
            except Exception as exc:  # the lock expires by itself: say so, do not fail the write
                log.warning(
                    "could not remove the writer lock on %s (%s); other writers take it "
                    "over %.0f s after this process stopped renewing it",
                    self.where,
                    exc,
                    self.lease_s,
                )
        self.record = None

    def check_kept(self) -> None:
        """Raise if another writer took the lock over while this one was writing."""
        if self.lost:
            raise WriterLockError(
                f"this writer lost the writer lock on {self.where} while it ran (it was not "
                f"renewed for {self.lease_s:.0f} s) and another writer may have written at the "
                "same time: run the same ingest again to make sure every paper is in"
            )
