"""Docs that cannot drift: every module is described in docs/architecture.md, and the paths
the README, docs and eval/README name exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "docs/architecture.md", "docs/deployment.md", "eval/README.md")


def test_architecture_lists_every_module() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    modules = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "rag_papers").rglob("*.py"))
    packages = {m for m in modules if m.endswith("/__init__.py") and m.count("/") == 2}
    missing = [m for m in modules if m not in packages and f"`{m}`" not in text]
    assert missing == [], "describe these modules in docs/architecture.md"


def test_paths_named_in_the_docs_exist() -> None:
    named = re.compile(r"`((?:rag_papers|eval|tests|prompts|docs)/[\w./-]+\.(?:py|md|jsonl|json))`")
    stale = [
        f"{doc}: {path}"
        for doc in DOCS
        for path in named.findall((ROOT / doc).read_text(encoding="utf-8"))
        if not (ROOT / path).exists()
    ]
    assert stale == []
