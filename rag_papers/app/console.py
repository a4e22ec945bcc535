"""Logging and progress for the terminal: quiet libraries, progress that never looks stalled.

Progress is a callable the library calls as `progress(phase, done, total)` (see
rag_papers.types.ProgressCallback). On a terminal it redraws one status line; piped to a
file it prints a line when a phase starts and then at most every few seconds.
"""

from __future__ import annotations

import logging
import shutil
import sys
import threading
import time
from typing import TextIO

# Libraries that log routine work at DEBUG/INFO/WARNING (bm25s: "Building index from IDs
# objects"; llama_index's BM25: "Overriding the value of similarity_top_k" on small stores).
NOISY = {
    "bm25s": logging.ERROR,
    "llama_index": logging.ERROR,
    "chromadb": logging.ERROR,
    "httpx": logging.WARNING,
    "httpx2": logging.WARNING,  # what openai 3.x sends through
    "sentence_transformers": logging.WARNING,
}
PIPE_EVERY_S = 5.0
TTY_EVERY_S = 0.2
TTY_HEARTBEAT_S = 1.0  # the elapsed clock on a terminal ticks every second


class QuietLibraries(logging.Filter):
    """Drops library records below their NOISY level. A handler filter, not logger levels:
    bm25s sets its own logger to DEBUG when it is imported, after any setLevel of ours."""

    def filter(self, record: logging.LogRecord) -> bool:
        top = record.name.split(".", 1)[0]
        return record.levelno >= NOISY.get(top, logging.NOTSET)


def configure_logging(verbose: bool | None = False, stream: TextIO | None = None) -> None:
    """WARNING and up from rag_papers by default (routine library chatter hidden); with -v,
    everything from everyone."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=stream or sys.stderr,
        force=True,
    )
    if not verbose:
        for handler in logging.getLogger().handlers:
            handler.addFilter(QuietLibraries())


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


class Progress:
    """A ProgressCallback that writes to a terminal or a log file.

    Phases are announced as they start ("loading the embedding model …"); counts update in
    place on a terminal and as a line every PIPE_EVERY_S seconds otherwise. A heartbeat
    thread repeats the current state (with the elapsed time) when the library has nothing
    new to say, so a slow model load or batch never sits silent.
    """

    def __init__(self, stream: TextIO, *, tty: bool | None = None) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.every = TTY_HEARTBEAT_S if self.tty else PIPE_EVERY_S
        self.start = time.monotonic()
        self.phase = ""
        self.done = 0
        self.total: int | None = None
        self.phase_start = self.start
        self.last_write = 0.0
        self.line_open = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def __call__(self, phase: str, done: int = 0, total: int | None = None) -> None:
        with self._lock:
            now = time.monotonic()
            new_phase = phase != self.phase
            if new_phase:
                self.phase, self.phase_start = phase, now
            self.done, self.total = done, total
            finished = bool(total) and done >= (total or 0)
            limit = TTY_EVERY_S if self.tty else PIPE_EVERY_S
            if new_phase or finished or now - self.last_write >= limit:
                self._write(new_phase, now)
        if self._beat is None:
            self._beat = threading.Thread(target=self._heartbeat, name="progress", daemon=True)
            self._beat.start()

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.every / 2):
            with self._lock:
                now = time.monotonic()
                if self.phase and now - self.last_write >= self.every:
                    self._write(False, now)

    def _write(self, new_phase: bool, now: float) -> None:
        self.last_write = now
        text = self.describe(now)
        if self.tty:
            if new_phase and self.line_open:
                self.stream.write("\n")
            # one row: a status line the terminal wraps could not be redrawn by \r
            text = text[: max(shutil.get_terminal_size().columns - 1, 20)]
            self.stream.write("\r\x1b[K" + text)
            self.line_open = True
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def describe(self, now: float) -> str:
        elapsed = _clock(now - self.start)
        done, total = self.done, self.total
        if not total:
            return f"[{elapsed}] {self.phase} …"
        pct = 100.0 * done / total
        rate = ""
        spent = now - self.phase_start
        if 0 < done < total and spent > 1:
            rate = f", about {_clock(spent * (total - done) / done)} left"
        return f"[{elapsed}] {self.phase}: {done:,}/{total:,} ({pct:.0f}%{rate})"

    def close(self) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=2)
        with self._lock:
            if self.tty and self.line_open:
                self.stream.write("\n")
                self.stream.flush()
                self.line_open = False
