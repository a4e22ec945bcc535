"""RIS (.ris) exports of Zotero, Mendeley, EndNote and publishers -> papers.

One record is the lines from `TY  - ` to `ER  - `; tags are two characters, two spaces,
a dash. Titles come as TI or T1, abstracts as AB or N2, dates as DA/PY or the older Y1.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rag_papers.errors import InputError
from rag_papers.readers.base import RawEntries, arxiv_id_in, clean_text, partial_date, person_name
from rag_papers.readers.records import add_record

_FIX = "add an AB  - line with the abstract"
_TAG = re.compile(r"^([A-Z][A-Z0-9])  -(?: (.*))?$")


def looks_ris(text: str) -> bool:
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    return first.startswith("TY  -")


def _date(tags: dict[str, list[str]]) -> str | None:
    """DA "2024/01/08/" (or Y1 "2022/03/") first, else PY "2024"."""
    for tag in ("DA", "Y1", "PY"):
        for value in tags.get(tag, []):
            parts = [p for p in value.split("/") if p.strip()]
            if parts and parts[0].strip()[:4].isdigit():
                return partial_date(*parts[:3])
    return None


def _record(tags: dict[str, list[str]]) -> dict[str, Any]:
    def first(*names: str) -> str | None:
        for name in names:
            for value in tags.get(name, []):
                if value.strip():
                    return clean_text(value)
        return None

    authors = [person_name(a) for tag in ("AU", "A1") for a in tags.get(tag, [])]
    url = first("UR")
    doi = first("DO")
    return {
        "title": first("TI", "T1", "CT"),
        "abstract": first("AB", "N2"),
        "authors": [a for a in authors if a],
        "published": _date(tags),
        "url": url,
        "arxiv_id": arxiv_id_in(first("M3"), url, doi, first("JO", "T2")),
        "doi": doi,
        "venue": first("T2", "JO", "JF", "BT"),
    }


def ris_entries(path: Path, text: str) -> RawEntries:
    raw = RawEntries()
    tags: dict[str, list[str]] | None = None
    start = 0
    last: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        m = _TAG.match(line.rstrip("\r"))
        if not m:
            if tags is not None and last and line.strip():  # a wrapped value continues
                tags[last][-1] += " " + line.strip()
            continue
        tag, value = m.group(1), (m.group(2) or "").strip()
        if tag == "TY":
            if tags is not None:
                raw.skip(f"{path}:{start}", "RIS record has no ER line — read up to the next TY")
                add_record(raw, _record(tags), f"{path}:{start}", no_abstract_fix=_FIX)
            tags, start, last = {}, number, None
        elif tag == "ER":
            if tags is not None:
                add_record(raw, _record(tags), f"{path}:{start}", no_abstract_fix=_FIX)
            tags, last = None, None
        elif tags is not None:
            tags.setdefault(tag, []).append(value)
            last = tag
    if tags is not None:
        add_record(raw, _record(tags), f"{path}:{start}", no_abstract_fix=_FIX)
    if not raw.papers and not raw.skipped:
        raise InputError(f"{path}:1: no RIS records (TY  - ... ER  - ) found")
    return raw
