"""BibTeX (.bib) exports of reference managers and Google Scholar -> papers.

Parsed with bibtexparser 2: LaTeX escapes and accents decoded (`{\\'o}` -> ó, `\\&` -> &),
author lists split into names, `@string` macros and comments handled by the parser.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from rag_papers.errors import InputError
from rag_papers.readers.base import RawEntries, arxiv_id_in, clean_text, partial_date
from rag_papers.readers.records import add_record

_ENTRY = re.compile(r"^\s*@\s*[A-Za-z]+\s*[{(]", re.MULTILINE)
_BRACES = re.compile(r"(?<!\\)[{}]")
_KEY = re.compile(r"\s*@\s*\w+\s*[{(]\s*([^,\s{}()]+)\s*,")


def looks_bibtex(text: str) -> bool:
    return bool(_ENTRY.search(text[:20000])) and not text.lstrip().startswith(("{", "["))


def _value(fields: dict[str, Any], *names: str) -> Any:
    lowered = {k.lower(): v for k, v in fields.items()}
    for name in names:
        value = lowered.get(name)
        if value not in (None, "", []):
            return value
    return None


def _text(value: Any) -> str:
    """Decoded field text without protective braces ({MoE}-{Mamba} -> MoE-Mamba)."""
    return clean_text(_BRACES.sub("", str(value))) if value is not None else ""


def _names(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [_text(value)]
    out = []
    for name in value:
        merged = getattr(name, "merge_first_name_first", None)
        out.append(_text(merged if merged is not None else name))
    return [n for n in out if n]


def _failed(block: Any, text: str) -> str:
    """What is wrong with a block bibtexparser could not parse, where, and what to do."""
    raw = str(getattr(block, "raw", "") or "")
    key = _KEY.match(raw)
    what = f"BibTeX entry {key.group(1)}" if key else "BibTeX block"
    error = getattr(block, "error", None)
    reason = " ".join(str(getattr(error, "abort_reason", "") or error or "").split())
    end = getattr(error, "end_index", None)
    if isinstance(end, int) and 0 <= end <= len(text):
        reason += f" (at line {text.count(chr(10), 0, end) + 1})"
    reason = f": {reason}" if reason else ""
    return f"{what} cannot be parsed{reason} — skipped; check its braces and commas"


def bibtex_entries(path: Path, text: str) -> RawEntries:
    import bibtexparser
    from bibtexparser.middlewares import (
        LatexDecodingMiddleware,
        SeparateCoAuthors,
        SplitNameParts,
    )

    splitter = logging.getLogger("bibtexparser.splitter")
    level = splitter.level
    splitter.setLevel(logging.CRITICAL)  # its warnings are ours below, with the entry's key
    try:
        library = bibtexparser.parse_string(
            text,
            append_middleware=[LatexDecodingMiddleware(), SeparateCoAuthors(), SplitNameParts()],
        )
    finally:
        splitter.setLevel(level)
    raw = RawEntries()
    for block in library.failed_blocks:
        raw.skip(f"{path}:{(getattr(block, 'start_line', 0) or 0) + 1}", _failed(block, text))
    if not library.entries and not library.failed_blocks:
        raise InputError(f"{path}:1: no BibTeX entries (@article{{key, ...}}) found")
    for entry in library.entries:
        fields = {f.key: f.value for f in entry.fields}
        where = f"{path}:{(entry.start_line or 0) + 1}"
        eprint = _value(fields, "eprint")
        prefix = str(_value(fields, "archiveprefix", "eprinttype") or "arxiv").lower()
        url = _text(_value(fields, "url"))
        doi = _text(_value(fields, "doi"))
        record = {
            "title": _text(_value(fields, "title")),
            "abstract": _text(_value(fields, "abstract")),
            "authors": _names(_value(fields, "author")),
            "published": _text(_value(fields, "date"))
            or partial_date(
                _text(_value(fields, "year")),
                _text(_value(fields, "month")),
                _text(_value(fields, "day")),
            ),
            "url": url or None,
            "arxiv_id": arxiv_id_in(f"arXiv:{eprint}" if eprint and prefix == "arxiv" else "")
            or arxiv_id_in(url, doi, _value(fields, "journal"), _value(fields, "note")),
            "categories": _text(_value(fields, "primaryclass")) or None,
            "doi": doi or None,
            "venue": _text(_value(fields, "journal", "booktitle")) or None,
        }
        add_record(raw, record, where, no_abstract_fix="add an abstract = {...} field")
    return raw
