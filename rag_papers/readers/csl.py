"""CSL-JSON (.json exported by Zotero, Mendeley and citeproc tools) -> papers.

A list of items with `type`, `title`, `author` as [{"family", "given"}] and `issued` as
{"date-parts": [[2024, 1, 8]]}. Told apart from the other JSON shapes by those keys.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rag_papers.errors import InputError
from rag_papers.readers.base import LineIndex, RawEntries, arxiv_id_in, clean_text, partial_date
from rag_papers.readers.records import add_record, json_members

_CSL_KEYS = {"issued", "container-title", "DOI", "URL", "citation-key", "author"}


def looks_csl(text: str) -> bool:
    head = text.lstrip()[:1]
    if head != "[":
        return False
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return False
    return isinstance(data, list) and looks_csl_items(data)


def looks_csl_items(data: list[Any]) -> bool:
    """Whether a JSON array's members are CSL items (judged by the first 20 objects)."""
    items = [d for d in data if isinstance(d, dict)]
    return bool(items) and all("type" in d and _CSL_KEYS & set(d) for d in items[:20])


def _name(person: Any) -> str:
    if not isinstance(person, dict):
        return clean_text(person)
    if person.get("literal"):
        return clean_text(person["literal"])
    parts = [person.get("given"), person.get("non-dropping-particle"), person.get("family")]
    return clean_text(" ".join(str(p) for p in parts if p))


def _issued(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    parts = (value.get("date-parts") or [[]])[0]
    if parts:
        return partial_date(*parts[:3])
    return clean_text(value.get("raw") or value.get("literal")) or None


def csl_entries(path: Path, text: str) -> RawEntries:
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    raw = RawEntries()
    lines = LineIndex(text)
    for _, item, offset in json_members(text, len(text) - len(text.lstrip())):
        where = f"{path}:{lines.line(offset)}"
        if not isinstance(item, dict):
            raw.skip(where, "CSL item is not an object — skipped")
            continue
        url = clean_text(item.get("URL")) or None
        doi = clean_text(item.get("DOI")) or None
        record = {
            "title": item.get("title"),
            "abstract": item.get("abstract"),
            "authors": [n for n in (_name(a) for a in item.get("author") or []) if n],
            "published": _issued(item.get("issued")),
            "url": url,
            "arxiv_id": arxiv_id_in(item.get("number"), url, doi, item.get("archive_location")),
            "doi": doi,
            "venue": clean_text(item.get("container-title")) or None,
        }
        add_record(raw, record, where, no_abstract_fix='add an "abstract" key')
    return raw
