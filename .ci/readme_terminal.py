"""Run the README's commands exactly as written, against the sample corpus.

    RAG_PAPERS_HOME=.ci-home rag-papers ingest --sample && python .ci/readme_terminal.py

The commands are read from README.md itself, from the fenced blocks marked
`<!-- install-command -->`, `<!-- use-commands -->`, `<!-- terminal-commands -->` (each line
runs in bash from the repository root; it must exit 0 and print what the README says it does,
the checks below) and `<!-- python-example -->` (run with this python). `rag-papers chat` is
started, its page fetched, then stopped with Ctrl-C. The few lines that cannot run as written
are in NOT_RUN with the reason; tests/test_readme_commands.py checks that every command block
of the README is run here, by tests/test_readme_library.py, or by .ci/run itself.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SHELL_BLOCKS = ("install-command", "use-commands", "terminal-commands")
PYTHON_BLOCK = "python-example"
NOT_RUN = {
    "rag-papers ingest papers.jsonl exports/ listing.txt": "placeholder file names (the "
    "library-commands block ingests real files of every format, tests/test_readme_library.py)",
    'rag-papers ask "..." --json': 'placeholder question ("..."); the terminal-commands block '
    "runs ask --json with a real one",
}
Check = Callable[[str], bool]
# A piece of the command (matched against the command and a newline) -> what its output shows.
EXPECT: list[tuple[str, Check]] = [
    ("stats --json\n", lambda out: json.loads(out)["papers"] == 445),
    ('objective?"\n', lambda out: "Mixture-of-Denoisers" in out and "References" in out),
    (
        "--year 2023-2025 --include-undated",
        lambda out: "Performance-Guided LLM Knowledge Distillation" in out,
    ),
    (
        "--year 2023-2025\n",
        lambda out: "without a publication date were left out by the date filter" in out,
    ),
    ('budgets?" --json', lambda out: bool(json.loads(out)["citations"])),
    ("| rag-papers repl", lambda out: out.count("papers searched") == 2),
    ("\nrag-papers repl\n", lambda out: '"exit" or Ctrl-D leaves' in out),  # stdin at its end
    ("rag-papers eval ", lambda out: "recall@5" in out and "report: eval/out/report.md" in out),
    (PYTHON_BLOCK, lambda out: "[1]" in out and "Matryoshka" in out),
]


def block(name: str) -> str:
    text = README.read_text(encoding="utf-8")
    found = re.search(rf"<!-- {name} -->\n```\w+\n(.*?)```", text, re.S)
    if found is None:
        sys.exit(f"README lost its {name} block")
    return found.group(1)


def commands() -> list[str]:
    """Every command line of the marked shell blocks, comments cut, in README order."""
    lines = []
    for name in SHELL_BLOCKS:
        for line in block(name).splitlines():
            command = line.split("  #", 1)[0].strip()
            if command and not command.startswith("#"):
                lines.append(command)
    return lines


def serve_and_stop(command: str) -> tuple[int, str]:
    """Start the page as written (on a free port, through RAG_PAPERS_UI_PORT), fetch it, Ctrl-C."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "RAG_PAPERS_UI_PORT": str(port)}
    proc = subprocess.Popen(
        ["bash", "-c", f"exec {command}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    page = ""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and not page:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as reply:
                page = reply.read().decode("utf-8", "replace")
        except OSError:
            time.sleep(1)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    served = "<html" in page.lower()
    return (0 if served else 1), f"{out}(page served on port {port}: {served})\n"


def run(command: str) -> tuple[int, str]:
    if command == "rag-papers chat":
        return serve_and_stop(command)
    proc = subprocess.run(
        ["bash", "-c", command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def check(label: str, code: int, out: str, failures: list[str]) -> None:
    print(f"$ {label}\n{out}", flush=True)
    if code != 0:
        failures.append(f"{label}: exit {code}")
        return
    for piece, want in EXPECT:
        if piece in f"\n{label}\n" and not want(out):
            failures.append(f"{label}: the output does not show what the README says ({piece!r})")


def main() -> int:
    failures: list[str] = []
    for command in commands():
        if command in NOT_RUN:
            print(f"$ {command}\n(not run: {NOT_RUN[command]})\n", flush=True)
            continue
        code, out = run(command)
        check(command, code, out, failures)
    proc = subprocess.run(
        [sys.executable, "-c", block(PYTHON_BLOCK)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    check(PYTHON_BLOCK, proc.returncode, proc.stdout + proc.stderr, failures)
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
