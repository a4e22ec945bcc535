"""Compare two `rag-papers eval` reports, ignoring what varies run to run (timings, run info).

    python eval/compare_reports.py runs/before/report.json runs/after/report.json

Prints every metric that differs and exits 1 if any does; a refactor that must not change
behaviour should print "identical".
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

TIMING = ("latency", "ttft", "duration", "_ms", "timings")


def stable(obj: Any) -> Any:
    """The report without its run section, file list and timing fields."""
    if isinstance(obj, dict):
        return {
            k: stable(v)
            for k, v in obj.items()
            if k not in ("run", "files") and not any(t in k for t in TIMING)
        }
    if isinstance(obj, list):
        return [stable(v) for v in obj]
    return obj


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                out.append(f"{path}/{key}: only in {'after' if key in b else 'before'}")
            else:
                out.extend(differences(a[key], b[key], f"{path}/{key}"))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in differences(x, y, f"{path}[{i}]")
        ]
    return [] if a == b else [f"{path}: {a!r} -> {b!r}"]


def digest(report: Any) -> str:
    return hashlib.sha256(json.dumps(report, sort_keys=True).encode()).hexdigest()[:16]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    before, after = (stable(json.loads(Path(p).read_text(encoding="utf-8"))) for p in argv)
    print(f"before {digest(before)}  after {digest(after)}")
    diffs = differences(before, after)
    for line in diffs:
        print(line)
    print("identical" if not diffs else f"{len(diffs)} difference(s)")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
