"""Ctrl-C in a real terminal (a pseudo-terminal): `ask` stops with a plain message."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

from fault_server import FaultServer


def test_ctrl_c_during_ask_does_not_talk_about_the_index(
    fault_server: FaultServer, small_home: Path
) -> None:
    fault_server.slow(60)  # the model "thinks": ask is waiting inside the request
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RAG_PAPERS_"))}
    env |= {"OPENAI_BASE_URL": fault_server.base_url, "RAG_PAPERS_LLM_TIMEOUT": "120"}
    main_fd, child_fd = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag_papers", "--home", str(small_home), "ask", "What is MRL?"],
        stdin=child_fd,
        stdout=child_fd,
        stderr=child_fd,
        env=env,
        start_new_session=True,
    )
    os.close(child_fd)
    try:
        deadline = time.monotonic() + 300
        while not fault_server.requests:  # bounded: the request arrives, or the test fails
            assert proc.poll() is None and time.monotonic() < deadline, "ask never asked"
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        code = proc.wait(timeout=60)
        out = b""
        while True:
            try:
                piece = os.read(main_fd, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not piece:
                break
            out += piece
    finally:
        os.close(main_fd)
        if proc.poll() is None:
            proc.kill()
    text = out.decode(errors="replace")
    assert code == 130, text
    assert "interrupted" in text
    assert "keeps every paper" not in text and "Traceback" not in text
