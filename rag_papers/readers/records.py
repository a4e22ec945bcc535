"""Structured records: JSON Lines, JSON (a list, {"papers": [...]}, an object keyed by arXiv id) and CSV."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from rag_papers.errors import InputError
from rag_papers.readers.base import LineIndex, RawEntries, clean_text, parse_date
from rag_papers.types import Paper, clean_arxiv_id

logger = logging.getLogger(__name__)

# -- structured records (JSON, JSONL, CSV) --------------------------------------------------

_ALIASES = {
    "title": ("title",),
    "abstract": ("abstract", "summary"),
    "published": ("published", "publication_date", "date"),
    "date_text": ("date_text",),
    "url": ("url", "link"),
    "arxiv_id": ("arxiv_id", "id"),
    "authors": ("authors",),
    "n_authors": ("n_authors",),
    "categories": ("categories",),
    "doi": ("doi",),
    "venue": ("venue", "journal", "booktitle"),
}


def _field(record: dict[str, Any], name: str) -> Any:
    """The first non-empty value among a field's aliases (keys already lower-cased)."""
    for alias in _ALIASES[name]:
        value = record.get(alias)
        if value not in (None, "", []):
            return value
    return None


def _split_names(value: Any) -> list[str]:
    """Authors as a list, a list of {"name": ...} or one string "A, B and C" / "A; B"."""
    if value is None:
        return []
    if isinstance(value, str):
        parts = re.split(r"\s*(?:,|;|&|\band\b)\s*", value)
    elif isinstance(value, list):
        parts = [v.get("name", "") if isinstance(v, dict) else str(v) for v in value]
    else:
        parts = [str(value)]
    return [clean_text(p) for p in parts if clean_text(p)]


def _split_categories(value: Any) -> list[str]:
    if value is None:
        return []
    parts = re.split(r"[,;\s]+", value) if isinstance(value, str) else [str(v) for v in value]
    return [p.strip() for p in parts if p.strip()]


def _record_to_paper(
    record: Any, where: str, key_id: str | None = None, fix: str | None = None
) -> Paper | str:
    """A Paper, or the reason (with the fix) the record cannot be one."""
    if not isinstance(record, dict):
        kind = type(record).__name__
        return f"entry is {kind}, not an object — make each paper an object with title, abstract"
    record = {str(k).strip().lower(): v for k, v in record.items()}
    for name in ("title", "abstract"):
        value = _field(record, name)
        if value is not None and not isinstance(value, str):
            kind = {"list": "a list", "dict": "an object"}.get(type(value).__name__, "not text")
            return f'the {name} is {kind}, not text — skipped; make "{name}" a string'
    title = clean_text(_field(record, "title"))
    abstract = clean_text(_field(record, "abstract"))
    if not title:
        return 'paper has no title — skipped; add a "title" field'
    if not abstract:
        return f'paper "{title[:80]}" has no abstract — skipped; {fix or NO_ABSTRACT_FIX}'
    url = clean_text(_field(record, "url")) or None
    candidates = [record.get("arxiv_id"), record.get("id"), url, key_id]
    arxiv_id = next((i for i in (clean_arxiv_id(str(c)) for c in candidates if c) if i), None)
    if not url and arxiv_id:
        url = f"https://arxiv.org/abs/{arxiv_id}"
    published, date_text = parse_date(_field(record, "published"))
    date_text = clean_text(_field(record, "date_text")) or date_text
    authors = _split_names(_field(record, "authors"))
    n_authors = _field(record, "n_authors")
    try:
        n_authors = int(n_authors) if n_authors is not None else (len(authors) or None)
    except (TypeError, ValueError):
        n_authors = len(authors) or None
    return Paper(
        title=title,
        abstract=abstract,
        authors=authors,
        n_authors=n_authors,
        published=published,
        date_text=date_text,
        url=url,
        arxiv_id=arxiv_id,
        categories=_split_categories(_field(record, "categories")),
        source=where,
        doi=clean_text(_field(record, "doi")) or None,
        venue=clean_text(_field(record, "venue")) or None,
    )


NO_ABSTRACT_FIX = 'add an "abstract" (or "summary") field'


def add_record(
    raw: RawEntries,
    record: object,
    where: str,
    key_id: str | None = None,
    *,
    no_abstract_fix: str | None = None,
) -> None:
    """Append the record's paper, or skip it with a warning; a paper without an abstract is
    also listed in `raw.no_abstract` (it cannot be answered from, but the user should know)."""
    paper = record_paper(raw, record, where, key_id, no_abstract_fix=no_abstract_fix)
    if paper is not None:
        raw.papers.append(paper)


def record_paper(
    raw: RawEntries,
    record: object,
    where: str,
    key_id: str | None = None,
    *,
    no_abstract_fix: str | None = None,
) -> Paper | None:
    """The record's paper, or None with the record skipped in `raw` (as `add_record` does);
    `no_abstract_fix` says how the record's own format gives an abstract."""
    result = _record_to_paper(record, where, key_id, no_abstract_fix)
    if isinstance(result, Paper):
        return result
    raw.skip(where, result)
    if "has no abstract" in result and isinstance(record, dict):
        lowered = {str(k).strip().lower(): v for k, v in record.items()}
        url = clean_text(_field(lowered, "url"))
        ids = [lowered.get("arxiv_id"), lowered.get("id"), url, key_id]
        raw.no_abstract.append(
            Paper(
                title=clean_text(_field(lowered, "title")),
                abstract="",
                arxiv_id=next((i for i in (clean_arxiv_id(str(c)) for c in ids if c) if i), None),
                source=where,
            )
        )
    return None


def jsonl_entries(path: Path, text: str) -> RawEntries:
    return jsonl_line_entries(path, text.splitlines())


def jsonl_line_entries(path: Path, lines: Iterable[str]) -> RawEntries:
    """One paper per line, taking lines as they come (a file is read by `text_lines`)."""
    raw = RawEntries()
    raw.papers.extend(jsonl_papers(path, lines, raw))
    return raw


def jsonl_papers(path: Path, lines: Iterable[str], raw: RawEntries) -> Iterator[Paper]:
    """The papers of JSON Lines as they come; what is skipped is noted in `raw`."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raw.skip(
                f"{path}:{number}",
                f"not valid JSON ({exc.msg} at column {exc.colno}) — "
                "skipped; each line must be one JSON object",
            )
            continue
        except (ValueError, RecursionError) as exc:  # a 5,000-digit number, nesting too deep
            raw.skip(f"{path}:{number}", f"unreadable JSON ({json_limit(exc)}) — skipped")
            continue
        paper = record_paper(raw, record, f"{path}:{number}")
        if paper is not None:
            yield paper


_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def _skip_ws(text: str, pos: int) -> int:
    match = _WS.match(text, pos)
    return match.end() if match else pos


def json_members(text: str, pos: int) -> Iterator[tuple[Any, Any, int]]:
    """(key or index, value, offset) of each member of the array/object at `pos`.

    Only called on text json.loads accepted; it exists to know each record's line number.
    """
    pos = _skip_ws(text, pos)
    closer = "]" if text[pos] == "[" else "}"
    is_object = closer == "}"
    pos += 1
    index = 0
    while True:
        pos = _skip_ws(text, pos)
        if text[pos] == closer:
            return
        key: Any = index
        if is_object:
            key, pos = _DECODER.raw_decode(text, pos)
            pos = _skip_ws(text, _skip_ws(text, pos) + 1)  # past the ':'
        start = pos
        value, pos = _DECODER.raw_decode(text, pos)
        yield key, value, start
        pos = _skip_ws(text, pos)
        if text[pos] == ",":
            pos += 1
        index += 1


def json_limit(exc: BaseException) -> str:
    """Why Python's JSON parser gave up on valid-looking JSON, in words."""
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc).split(";")[0]


def json_entries(path: Path, text: str) -> RawEntries:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}:{exc.lineno}: not valid JSON ({exc.msg}, column {exc.colno}) — "
            "fix the file; one JSON object per line belongs in a .jsonl file"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise InputError(
            f"{path}: unreadable JSON ({json_limit(exc)}) — a paper collection is a list of "
            "flat paper objects; fix or remove the file"
        ) from None
    raw = RawEntries()
    lines = LineIndex(text)
    top = _skip_ws(text, 0)
    if isinstance(data, list):
        for _, record, offset in json_members(text, top):
            add_record(raw, record, f"{path}:{lines.line(offset)}")
    elif isinstance(data, dict) and isinstance(data.get("papers"), list):
        for key, _value, offset in json_members(text, top):
            if key == "papers":
                for _, record, off in json_members(text, offset):
                    add_record(raw, record, f"{path}:{lines.line(off)}")
    elif isinstance(data, dict) and isinstance(data.get("title"), str):
        add_record(raw, data, f"{path}:{lines.line(top)}")  # a single paper
    elif isinstance(data, dict) and data and all(isinstance(v, dict) for v in data.values()):
        for key, record, offset in json_members(text, top):  # keyed by arXiv id
            add_record(raw, record, f"{path}:{lines.line(offset)}", key_id=str(key))
    else:
        raise InputError(
            f"{path}:1: JSON holds no papers — expected a list of paper objects, "
            '{"papers": [...]}, or an object keyed by arXiv id whose values are papers'
        )
    return raw


def csv_entries(path: Path, text: str) -> RawEntries:
    first = text.split("\n", 1)[0]
    delimiter = (
        "\t" if path.suffix.lower() == ".tsv" or ("\t" in first and "," not in first) else ","
    )
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    found = [str(c).strip() for c in (reader.fieldnames or [])]
    lowered = {c.lower() for c in found}
    missing = [n for n in ("title", "abstract") if not lowered & set(_ALIASES[n])]
    if missing:
        raise InputError(
            f"{path}:1: CSV header has columns {found} but needs {missing} "
            '(columns "title" and "abstract" or "summary") — add or rename the header row'
        )
    raw = RawEntries()
    previous = reader.line_num
    try:
        for row in reader:
            where = f"{path}:{previous + 1}"  # first physical line of the record
            previous = reader.line_num
            if None in row:
                raw.skip(
                    where,
                    f"row has {len(found) + len(row[None])} cells for {len(found)} "
                    "columns — skipped; quote cells that contain the delimiter",
                )
                continue
            add_record(raw, {k: v for k, v in row.items() if k is not None}, where)
    except csv.Error as exc:
        raise InputError(
            f"{path}:{reader.line_num}: CSV cannot be parsed ({exc}) — check the quoting there"
        ) from None
    return raw
