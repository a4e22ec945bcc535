"""Which reader reads a file: suffixes, content sniffing, folders, and read_paths()."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path

from rag_papers.errors import InputError
from rag_papers.readers.atom import atom_entries
from rag_papers.readers.base import SUPPORTED_SUFFIXES, RawEntries, ReadResult, load_text
from rag_papers.readers.dedupe import finish
from rag_papers.readers.listing import listing_entries
from rag_papers.readers.records import csv_entries, json_entries, jsonl_entries

logger = logging.getLogger(__name__)

# -- public readers -------------------------------------------------------------------------


def read_listing(path: str | Path) -> ReadResult:
    """Hugging Face Papers listing text: title, blank line, abstract, optional author/date lines."""
    p, text = load_text(path)
    return finish([listing_entries(p, text)])


def read_jsonl(path: str | Path) -> ReadResult:
    """One JSON paper object per line; a malformed line is a warning, not the end of the file."""
    p, text = load_text(path)
    return finish([jsonl_entries(p, text)])


def read_json(path: str | Path) -> ReadResult:
    """A list of papers, {"papers": [...]}, or an object keyed by arXiv id."""
    p, text = load_text(path)
    return finish([json_entries(p, text)])


def read_csv(path: str | Path) -> ReadResult:
    """CSV (or .tsv) with a header row naming at least title and abstract (or summary)."""
    p, text = load_text(path)
    return finish([csv_entries(p, text)])


def _looks_jsonl(text: str) -> bool:
    try:
        json.loads(text)
        return False
    except json.JSONDecodeError:
        first = next((ln for ln in text.splitlines() if ln.strip()), "")
        try:
            return isinstance(json.loads(first), dict)
        except json.JSONDecodeError:
            return False


def _detect(path: Path, text: str) -> str:
    """The format of a file: its extension decides, content breaks ties (.txt, .json, unknown)."""
    suffix = path.suffix.lower()
    head = text.lstrip()[:200]
    if suffix in (".xml", ".atom"):
        return "atom"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix == ".json" or head.startswith(("{", "[")):
        return "jsonl" if _looks_jsonl(text) else "json"
    if head.startswith("<"):
        return "atom"
    first = text.lstrip().split("\n", 1)[0].lower()
    if (
        suffix != ".txt"
        and "title" in first
        and ("abstract" in first or "summary" in first)
        and ("," in first or "\t" in first)
    ):
        return "csv"
    return "listing"


def _expand(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for item in paths:
        p = Path(item)
        if p.is_dir():
            found = sorted(
                f
                for f in p.rglob("*")
                if f.is_file()
                and f.suffix.lower() in SUPPORTED_SUFFIXES
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
            if not found:
                raise InputError(
                    f"{p}: no paper files inside — expected {', '.join(SUPPORTED_SUFFIXES)}"
                )
            files.extend(found)
        else:
            files.append(p)  # missing files are reported by load_text
    unique: dict[Path, Path] = {}
    for f in files:
        unique.setdefault(f.resolve(), f)
    return list(unique.values())


def read_paths(paths: Iterable[str | Path], *, strict: bool = False) -> ReadResult:
    """Read files and directories (recursively) of any supported format, deduped across all.

    With strict=True any warning (skipped entry, ignored line) raises InputError instead, for
    pipelines that must not silently lose papers.
    """
    raws: list[RawEntries] = []
    files = _expand([paths] if isinstance(paths, (str, Path)) else paths)
    if not files:
        raise InputError("no input paths given — pass files or directories of papers")
    for path in files:
        p, text = load_text(path)
        kind = _detect(p, text)
        if kind == "atom":
            raw, _ = atom_entries(text, str(p))
        else:
            raw = {
                "listing": listing_entries,
                "jsonl": jsonl_entries,
                "json": json_entries,
                "csv": csv_entries,
            }[kind](p, text)
        logger.info(
            "read %d entries from %s (%s, %d skipped)", len(raw.papers), p, kind, raw.skipped
        )
        raws.append(raw)
    result = finish(raws)
    if strict and result.warnings:
        shown = "\n  ".join(result.warnings[:10])
        more = f"\n  ... and {len(result.warnings) - 10} more" if len(result.warnings) > 10 else ""
        raise InputError(
            f"{len(result.warnings)} problem(s) in the input (strict mode):\n  "
            f"{shown}{more}\nFix them, or read without strict to skip those entries."
        )
    return result
