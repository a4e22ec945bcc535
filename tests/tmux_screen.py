"""A real terminal for tests: tmux runs a command in a pseudo-terminal of a given size and
gives back what is on the screen (and in its scroll-back), as a user would see it."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

TMUX = shutil.which("tmux")


class Screen:
    """One tmux session running a shell at `columns` x `lines`."""

    def __init__(self, columns: int, lines: int = 50, cwd: Path | None = None) -> None:
        if TMUX is None:
            pytest.fail("tmux not found: `apt-get install -y tmux` for the terminal tests")
        self.name = f"rp-{uuid.uuid4().hex[:8]}"
        self.columns, self.lines = columns, lines
        # A private tmux server (it inherits this test's environment, not a running server's),
        # no user config, a plain shell: what is on screen is only what the command prints.
        self.tmux = [TMUX, "-L", self.name, "-f", "/dev/null"]
        subprocess.run(
            [*self.tmux, "new-session", "-d", "-s", self.name]
            + ["-x", str(columns), "-y", str(lines)]
            + (["-c", str(cwd)] if cwd else [])
            + ["env", "PS1=$ ", "TERM=xterm-256color", "bash", "--norc", "--noprofile"],
            check=True,
        )
        self.tmux_do("set-option", "-t", self.name, "history-limit", "10000")
        self.socket = Path(self.tmux_do("display-message", "-p", "#{socket_path}").strip())

    def tmux_do(self, *args: str) -> str:
        return subprocess.run(
            [*self.tmux, *args], check=True, capture_output=True, text=True
        ).stdout

    def type(self, text: str, enter: bool = True) -> None:
        self.tmux_do("send-keys", "-t", self.name, "-l", text)
        if enter:
            self.tmux_do("send-keys", "-t", self.name, "Enter")

    def key(self, name: str) -> None:
        self.tmux_do("send-keys", "-t", self.name, name)

    def command(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        """Run argv in the shell (python is this test's interpreter)."""
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
        self.type(f"{prefix} {shlex.join(argv)}".strip())

    def text(self) -> str:
        """Everything printed so far: scroll-back and screen, wrapped lines as shown."""
        return self.tmux_do("capture-pane", "-p", "-t", self.name, "-S", "-")

    def wait_for(self, needle: str, timeout: float = 180.0, count: int = 1) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            text = self.text()
            if text.count(needle) >= count:
                return text
            time.sleep(0.3)
        raise AssertionError(f"{needle!r} did not appear on the terminal; it shows:\n{self.text()}")

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], check=False, capture_output=True)
        self.socket.unlink(missing_ok=True)  # the private server's socket file


def cli(*args: str) -> list[str]:
    """The rag-papers command line, run with this test's interpreter."""
    return [sys.executable, "-m", "rag_papers.app.cli", *args]
