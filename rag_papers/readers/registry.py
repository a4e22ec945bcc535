"""Which reader reads a file: one table of readers, folders, and read_paths().

Adding a format is one module with a sniff and an entries function, plus one line in
`READERS`. A file's reader is the first whose suffixes include the file's and whose sniff
accepts its text; a file whose suffix no reader claims goes to the first sniff that accepts
it; failing both, the first reader claiming the suffix reads it (and explains what is
wrong), and text without a claim is read as a listing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from rag_papers.errors import InputError
from rag_papers.readers.atom import atom_entries
from rag_papers.readers.base import RawEntries, ReadResult, load_text, text_lines
from rag_papers.readers.bibtex import bibtex_entries, looks_bibtex
from rag_papers.readers.csl import csl_entries, looks_csl
from rag_papers.readers.dedupe import finish
from rag_papers.readers.listing import listing_entries
from rag_papers.readers.records import (
    csv_entries,
    json_entries,
    jsonl_entries,
    jsonl_line_entries,
)
from rag_papers.readers.ris import looks_ris, ris_entries
from rag_papers.readers.zotero import looks_zotero_csv, zotero_csv_entries

logger = logging.getLogger(__name__)

# -- public readers -------------------------------------------------------------------------


def read_listing(path: str | Path) -> ReadResult:
    """Hugging Face Papers listing text: title, blank line, abstract, optional author/date lines."""
    p, text = load_text(path)
    return finish([listing_entries(p, text)])


def read_jsonl(path: str | Path) -> ReadResult:
    """One JSON paper object per line; a malformed line is a warning, not the end of the file."""
    p = Path(path)
    return finish([jsonl_line_entries(p, text_lines(p))])


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
    except (ValueError, RecursionError):  # not one document (or too deep to tell): try a line
        first = next((ln for ln in text.splitlines() if ln.strip()), "")
        try:
            return isinstance(json.loads(first), dict)
        except (ValueError, RecursionError):
            return False


def _looks_json(text: str) -> bool:
    return text.lstrip()[:1] in ("{", "[") and not _looks_jsonl(text)


def _looks_atom(text: str) -> bool:
    return text.lstrip()[:1] == "<"


def _looks_csv(text: str) -> bool:
    first = text.lstrip().split("\n", 1)[0].lower()
    return (
        "title" in first
        and ("abstract" in first or "summary" in first)
        and ("," in first or "\t" in first)
    )


def _atom_file_entries(path: Path, text: str) -> RawEntries:
    raw, _ = atom_entries(text, str(path))
    return raw


def _never(text: str) -> bool:
    return False


@dataclass(frozen=True)
class Reader:
    """One input format: the suffixes it claims, a content test, and its entries function."""

    kind: str
    suffixes: tuple[str, ...]
    sniff: Callable[[str], bool]
    entries: Callable[[Path, str], RawEntries]
    label: str  # what a user calls it, for help and messages
    # the same entries from the file's lines as they are read, for formats that allow it
    line_entries: Callable[[Path, Iterable[str]], RawEntries] | None = None


READERS: tuple[Reader, ...] = (
    Reader("atom", (".xml", ".atom"), _looks_atom, _atom_file_entries, "arXiv API Atom"),
    Reader("bibtex", (".bib", ".bibtex"), looks_bibtex, bibtex_entries, "BibTeX"),
    Reader("ris", (".ris",), looks_ris, ris_entries, "RIS"),
    Reader("zotero_csv", (".csv",), looks_zotero_csv, zotero_csv_entries, "Zotero CSV"),
    Reader("csl_json", (".json",), looks_csl, csl_entries, "CSL-JSON"),
    Reader(
        "jsonl",
        (".jsonl", ".ndjson", ".json"),
        _looks_jsonl,
        jsonl_entries,
        "JSON Lines",
        jsonl_line_entries,
    ),
    Reader("json", (".json",), _looks_json, json_entries, "JSON"),
    Reader("csv", (".csv", ".tsv"), _looks_csv, csv_entries, "CSV"),
    Reader("listing", (".txt",), _never, listing_entries, "HF Papers listing text"),
)

SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(dict.fromkeys(s for r in READERS for s in r.suffixes))


def _sniffs(reader: Reader, text: str) -> bool:
    """Whether a reader recognises the text; text no parser can take (JSON nested 200,000
    deep, a 5,000-digit number) is recognised by none, and the reader itself says why."""
    try:
        return bool(reader.sniff(text))
    except (ValueError, RecursionError):
        return False


def detect(path: Path, text: str) -> Reader:
    """The reader for a file (see the module docstring for the order of the tests)."""
    suffix = path.suffix.lower()
    claiming = [r for r in READERS if suffix in r.suffixes]
    for reader in claiming:
        if _sniffs(reader, text):
            return reader
    if not claiming or suffix == ".txt":
        for reader in READERS:
            if _sniffs(reader, text) and (suffix != ".txt" or not reader.kind.endswith("csv")):
                return reader
    return claiming[0] if claiming else READERS[-1]


def by_suffix(path: Path) -> Reader | None:
    """The reader `detect` picks from the suffix alone, whatever the text (the one reader
    claiming it, unless .txt, which is sniffed), so the file can be read as it streams."""
    suffix = path.suffix.lower()
    claiming = [r for r in READERS if suffix in r.suffixes]
    return claiming[0] if len(claiming) == 1 and suffix != ".txt" else None


def read_file(path: Path) -> tuple[Reader, RawEntries]:
    """One file's reader and entries: line by line when its format allows (JSON Lines: the
    file is never held whole), else from its whole text (a JSON array needs a full parse)."""
    reader = by_suffix(path)
    if reader is not None and reader.line_entries is not None:
        return reader, reader.line_entries(path, text_lines(path))
    p, text = load_text(path)
    reader = detect(p, text)
    return reader, reader.entries(p, text)


def _skip_reason(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        why = "PDF full text is not read — export the reference list (.bib, .ris, Zotero CSV)"
    elif suffix:
        why = f"unsupported {suffix} file"
    else:
        why = "no file extension"
    return f"{path}: {why} (supported: {', '.join(SUPPORTED_SUFFIXES)})"


def expand_paths(paths: Iterable[str | Path]) -> tuple[list[Path], list[str]]:
    """Files to read, and the files folders held that no reader claims, with why."""
    files: list[Path] = []
    skipped: list[str] = []
    for item in paths:
        p = Path(item)
        if p.is_dir():
            found = []
            for f in sorted(p.rglob("*")):
                if not f.is_file() or any(part.startswith(".") for part in f.relative_to(p).parts):
                    continue
                if f.suffix.lower() in SUPPORTED_SUFFIXES:
                    found.append(f)
                else:
                    skipped.append(_skip_reason(f))
            if not found:
                raise InputError(
                    f"{p}: no paper files inside — expected {', '.join(SUPPORTED_SUFFIXES)}"
                    + (f"; skipped {len(skipped)} other file(s)" if skipped else "")
                )
            files.extend(found)
        else:
            files.append(p)  # named explicitly: read whatever it is (missing: load_text says so)
    unique: dict[Path, Path] = {}
    for f in files:
        unique.setdefault(f.resolve(), f)
    return list(unique.values()), skipped


def read_paths(paths: Iterable[str | Path], *, strict: bool = False) -> ReadResult:
    """Read files and directories (recursively) of any supported format, deduped across all.

    With strict=True any warning (skipped entry, ignored line) raises InputError instead, for
    pipelines that must not silently lose papers.
    """
    raws: list[RawEntries] = []
    files, skipped_files = expand_paths([paths] if isinstance(paths, (str, Path)) else paths)
    if not files:
        raise InputError("no input paths given — pass files or directories of papers")
    for path in files:
        reader, raw = read_file(path)
        logger.info(
            "read %d entries from %s (%s, %d skipped)",
            len(raw.papers),
            path,
            reader.kind,
            raw.skipped,
        )
        raws.append(raw)
    result = finish(raws)
    result.skipped_files = skipped_files
    if strict and result.warnings:
        raise strict_error(result.warnings)
    return result


def strict_error(warnings: list[str]) -> InputError:
    """What strict mode raises when reading warned (the first ten warnings, and how many)."""
    shown = "\n  ".join(warnings[:10])
    more = f"\n  ... and {len(warnings) - 10} more" if len(warnings) > 10 else ""
    return InputError(
        f"{len(warnings)} problem(s) in the input (strict mode):\n  "
        f"{shown}{more}\nFix them, or read without strict to skip those entries."
    )
