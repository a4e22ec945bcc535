"""Run the README's terminal commands exactly as written, against the sample corpus.

    RAG_PAPERS_HOME=.ci-home rag-papers ingest --sample && python .ci/readme_terminal.py

Each line of the README's `<!-- terminal-commands -->` block runs in bash; it must exit 0
and print what the README says it does (the checks below, keyed by a piece of the command).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
# A piece of the command -> text its output must contain (or a check function).
EXPECT: dict[str, object] = {
    "stats --json": lambda out: json.loads(out)["papers"] == 445,
    "--year 2023-2025 --include-undated": "Performance-Guided LLM Knowledge Distillation",
    "--year 2023-2025\n": "without a publication date were left out by the date filter",
    'budgets?" --json': lambda out: json.loads(out)["citations"],
    "rag-papers repl": "papers searched",
}


def commands() -> list[str]:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- terminal-commands -->\n```bash\n(.*?)```", text, re.S)
    if block is None:
        sys.exit("README lost its terminal-commands block")
    return [line for line in block.group(1).splitlines() if "rag-papers " in line]


def main() -> int:
    failures = []
    for command in commands():
        run = command.split("  #", 1)[0].rstrip()
        proc = subprocess.run(
            ["bash", "-c", run],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        print(f"$ {run}\n{proc.stdout}{proc.stderr}", flush=True)
        if proc.returncode != 0:
            failures.append(f"{run}: exit {proc.returncode}")
            continue
        for piece, want in EXPECT.items():
            if piece in run + "\n":
                ok = want(proc.stdout) if callable(want) else str(want) in proc.stdout
                if not ok:
                    failures.append(f"{run}: output does not show {piece!r}'s expectation")
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
