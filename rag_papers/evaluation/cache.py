"""The evaluation harness's result cache: raw results keyed by a hash of everything they depend on.

An interrupted run resumes from the JSONL file in its output folder; metrics are always
recomputed from the raw results, so only what was expensive to get is cached.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from rag_papers.evaluation import facts

log = logging.getLogger(__name__)

CACHE_FILE = "cache.jsonl"
# Bump when what a cached record means changes; fact matches also key on the matcher's thresholds.
CACHE_VERSION = "1"
FACTS_VERSION = f"{facts.FACT_TERM_MATCH}/{facts.FACT_TERM_FLOOR}/{facts.FACT_COSINE_MATCH}"


class ResultCache:
    """Append-only JSONL of raw results keyed by a hash; an interrupted run resumes from it."""

    def __init__(self, path: Path, *, enabled: bool = True) -> None:
        self.path = path
        self.enabled = enabled
        self.records: dict[str, dict[str, Any]] = {}
        self.hits = self.misses = 0
        if enabled and path.is_file():
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                try:
                    rec = json.loads(line)
                    self.records[rec["key"]] = rec["result"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    log.warning(
                        "%s:%d: unreadable cache line ignored (an interrupted write?)", path, n
                    )

    @staticmethod
    def key(*parts: object) -> str:
        return sha(json.dumps([CACHE_VERSION, *parts], sort_keys=True, default=str))

    def get(self, key: str) -> dict[str, Any] | None:
        found = self.records.get(key) if self.enabled else None
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def put(self, key: str, result: dict[str, Any], **label: Any) -> None:
        self.records[key] = result
        if self.enabled:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps({"key": key, **label, "result": result}, default=str) + "\n")


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


__all__ = ["CACHE_FILE", "CACHE_VERSION", "FACTS_VERSION", "ResultCache", "file_sha256"]
