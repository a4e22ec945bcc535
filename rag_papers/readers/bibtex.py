"""BibTeX (.bib) exports of reference managers and Google Scholar -> papers.

Parsed with bibtexparser 2: LaTeX escapes and accents decoded (`{\\'o}` -> ó, `\\&` -> &),
author lists split into names, `@string` macros and comments handled by the parser.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rag_papers.errors import InputError
from rag_papers.readers.base import RawEntries, arxiv_id_in, clean_text, partial_date
from rag_papers.readers.records import add_record

_ENTRY = re.compile(r"^\s*@\s*[A-Za-z]+\s*[{(]", re.MULTILINE)
_BRACES = re.compile(r"(?<!\\)[{}]")


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


def bibtex_entries(path: Path, text: str) -> RawEntries:
    import bibtexparser
    from bibtexparser.middlewares import (
        LatexDecodingMiddleware,
        SeparateCoAuthors,
        SplitNameParts,
    )

    library = bibtexparser.parse_string(
        text,
        append_middleware=[LatexDecodingMiddleware(), SeparateCoAuthors(), SplitNameParts()],
    )
    raw = RawEntries()
    for block in library.failed_blocks:
        line = (getattr(block, "start_line", 0) or 0) + 1
        raw.skip(f"{path}:{line}", "BibTeX block cannot be parsed — skipped; check its braces")
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
        add_record(raw, record, where)
    return raw
