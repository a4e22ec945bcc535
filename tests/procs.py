"""Helpers for tests that run real servers on this machine (Chroma, llama.cpp, the chat page)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(proc: subprocess.Popen, timeout: float = 10) -> None:
    """Ask a server to stop, and kill it if it has not within `timeout` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def cli_process(*argv: str, home: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`rag-papers --home HOME ...` in its own process, as a user runs it; by default without
    the OPENAI_* and RAG_PAPERS_* settings of the test run."""
    if env is None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RAG_PAPERS_"))}
    return subprocess.Popen(
        [sys.executable, "-m", "rag_papers", "--home", str(home), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
