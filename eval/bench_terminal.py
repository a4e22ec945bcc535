"""Terminal benchmark: `--help` of the CLI and of each subcommand, a cold `ask`, and the
terminal conversation (`rag-papers repl`) driven through a real pseudo-terminal.

    python eval/bench_terminal.py --home DIR [--repeat 5] [--out eval/results/bench_terminal.json]

DIR must hold the sample corpus (`rag-papers ingest --sample --home DIR`); without --home a
temporary one is built first (a few minutes of embedding). Every process runs under
/usr/bin/time (wall seconds and peak RSS; time.perf_counter around the subprocess when
/usr/bin/time is missing). The conversation runs at 80x40 in a pty: start-up is the time
from launch to the first prompt, then each answer is timed from the Enter that sends the
question to the prompt after the rendered answer. The 1/5/15-minute load averages are
recorded before and after each group: numbers from a busy machine are not comparable.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import re
import select
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUBCOMMANDS = ["ingest", "stats", "ask", "repl", "collections", "papers", "remove", "eval", "chat"]
COLD_QUESTION = "What is UL2's Mixture-of-Denoisers objective?"
CONVERSATION = [
    "What is Matryoshka Representation Learning?",
    "what speed-ups does it report?",
    "which other papers build on it?",
    "How does UL2's Mixture-of-Denoisers objective work?",
]
TIME = shutil.which("time", path="/usr/bin")
DONE = "papers searched"  # the last line of every rendered answer
PROMPT = "\n> "
CSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # readline's bracketed-paste codes, the draft's erasing


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def timed_run(argv: list[str], env: dict[str, str]) -> dict[str, float]:
    """One process: wall seconds and peak RSS (MB) from /usr/bin/time; exit code checked."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        prefix = [TIME, "-f", "%e %M", "-o", report.name] if TIME else []
        t0 = time.perf_counter()
        subprocess.run(
            prefix + argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        wall = time.perf_counter() - t0
        if not TIME:
            return {"wall_s": round(wall, 3)}
        seconds, kb = report.read().split()[-2:]
        return {"wall_s": float(seconds), "max_rss_mb": round(int(kb) / 1024, 1)}


def summary(runs: list[dict[str, float]]) -> dict[str, object]:
    walls = [r["wall_s"] for r in runs]
    return {"median_s": round(statistics.median(walls), 3), "min_s": min(walls), "runs": runs}


class Pty:
    """`rag-papers repl` in a pseudo-terminal of 80 columns and 40 lines."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 80, 0, 0))
        self.proc = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**env, "TERM": "xterm-256color"},
            start_new_session=True,
        )
        os.close(slave)
        self.seen = ""

    def wait_for(self, needle: str, count: int, timeout: float = 600.0) -> float:
        """Read until `needle` has appeared `count` times; returns perf_counter at that moment."""
        end = time.monotonic() + timeout
        while CSI.sub("", self.seen).count(needle) < count:
            if time.monotonic() > end or self.proc.poll() is not None:
                raise RuntimeError(
                    f"{needle!r} x{count} never came; the terminal shows:\n{self.seen}"
                )
            ready, _, _ = select.select([self.master], [], [], 0.5)
            if ready:
                self.seen += os.read(self.master, 65536).decode("utf-8", "replace")
        return time.perf_counter()

    def send(self, line: str) -> float:
        t0 = time.perf_counter()
        os.write(self.master, (line + "\r").encode())
        return t0

    def close(self) -> int:
        os.write(self.master, b"\x04")  # Ctrl-D leaves
        code = self.proc.wait(timeout=60)
        os.close(self.master)
        return code


def conversation(exe: str, env: dict[str, str]) -> dict[str, object]:
    t0 = time.perf_counter()
    term = Pty([exe, "repl", "--mode", "extractive"], env)
    try:
        ready = term.wait_for(PROMPT, 1)
        answers = []
        for n, question in enumerate(CONVERSATION, 1):
            sent = term.send(question)
            term.wait_for(DONE, n)
            shown = term.wait_for(PROMPT, n + 1)
            answers.append({"question": question, "answer_s": round(shown - sent, 3)})
    finally:
        code = term.close()
    return {
        "startup_s": round(ready - t0, 3),
        "first_answer_s": answers[0]["answer_s"],
        "later_answers_s": [a["answer_s"] for a in answers[1:]],
        "answers": answers,
        "exit_code": code,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="a home holding the sample (default: build one)")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each --help and cold ask")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "eval" / "results" / "bench_terminal.json"
    )
    args = parser.parse_args()
    exe = shutil.which("rag-papers", path=str(Path(sys.executable).parent)) or "rag-papers"
    home = args.home or Path(tempfile.mkdtemp(prefix="rag_bench_terminal_"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_PAPERS_", "OPENAI_"))}
    env["RAG_PAPERS_HOME"] = str(home)
    if args.home is None:
        subprocess.run([exe, "ingest", "--sample"], env=env, check=True)

    result: dict[str, object] = {
        "cpus": os.cpu_count(),
        "timer": TIME or "time.perf_counter",
        "python": sys.version.split()[0],
        "load_avg_start": load(),
    }
    helps: dict[str, object] = {}
    for command in [None, *SUBCOMMANDS]:
        argv = [exe, command, "--help"] if command else [exe, "--help"]
        helps[command or "rag-papers"] = summary([timed_run(argv, env) for _ in range(args.repeat)])
        print(f"{' '.join(argv[1:]):>20}: {helps[command or 'rag-papers']['median_s']} s")
    result["help"] = helps
    result["load_avg_after_help"] = load()

    cold = summary(
        [
            timed_run([exe, "ask", "--mode", "extractive", COLD_QUESTION], env)
            for _ in range(args.repeat)
        ]
    )
    result["cold_ask"] = {"question": COLD_QUESTION, **cold}
    result["load_avg_after_cold_ask"] = load()
    print(f"cold ask: median {cold['median_s']} s")

    chat = conversation(exe, env)
    result["conversation"] = chat
    result["load_avg_end"] = load()
    print(
        f"repl: start-up {chat['startup_s']} s, first answer {chat['first_answer_s']} s, "
        f"later {chat['later_answers_s']} s"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
