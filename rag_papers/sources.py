"""Readers: paper collections in the formats people actually have -> deduplicated `Paper`s.

Supported: Hugging Face Papers listing text (what a browser's "save as text" gives), JSON
Lines, JSON (a list, ``{"papers": [...]}`` or an object keyed by arXiv id), CSV, saved arXiv
API Atom responses, and, optionally, the live arXiv API (those two live in `rag_papers.arxiv`
and are re-exported here). Every reader returns a `ReadResult`; problems with single entries
become warnings that name the file and line (so a user can fix the file), problems with a
whole file raise `InputError`.

The same paper turns up in several listings and formats, wrapped and punctuated
differently, with or without an arXiv id, so everything goes through `dedupe`.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import io
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

# The arXiv readers live in rag_papers.arxiv; re-exported here, where callers import them from.
from rag_papers.arxiv import (  # noqa: F401 (re-exports)
    ARXIV_API,
    USER_AGENT,
    _atom_raw,
    fetch_arxiv,
    read_arxiv_atom,
)
from rag_papers.errors import InputError
from rag_papers.types import Paper, clean_arxiv_id

logger = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".xml", ".atom")


@dataclass
class ReadResult:
    """Papers read from one or more inputs, plus the bookkeeping a user needs to trust them."""

    papers: list[Paper]  # deduplicated, in first-seen order
    entries: int  # entries read and kept before dedup (entries - len(papers) = merges)
    warnings: list[str] = field(default_factory=list)  # "path:LINE: what is wrong — what to do"
    skipped: int = 0  # entries dropped (no title, no abstract, malformed line)


@dataclass
class _Raw:
    """One file's worth of entries before dedup."""

    papers: list[Paper] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: int = 0

    def skip(self, where: str, problem: str) -> None:
        self.warnings.append(f"{where}: {problem}")
        self.skipped += 1


def sample_corpus_dir() -> Path:
    """The five bundled HF Papers listing files, so a fresh install has something to index."""
    res = resources.files("rag_papers") / "data" / "sample"
    path = res if isinstance(res, Path) else Path(str(res))
    if not path.is_dir():  # zipped install or namespace package: fall back to the source tree
        path = Path(__file__).resolve().parent / "data" / "sample"
    return path


# -- shared helpers -------------------------------------------------------------------------


def _clean(text: Any) -> str:
    """Collapse line wraps and runs of spaces (arXiv and JSON dumps wrap titles at ~80 chars)."""
    return " ".join(str(text).split()) if text is not None else ""


def _load_text(path: str | Path) -> tuple[Path, str]:
    """Read a file as UTF-8 text, refusing what is missing, empty or binary with the fix."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file — check the path (run `ls {p.parent}`)")
    if p.is_dir():
        raise InputError(f"{p}: is a directory — pass it to read_paths(), which recurses")
    data = p.read_bytes()
    if b"\x00" in data:
        raise InputError(
            f"{p}: looks binary (contains NUL bytes) — give a UTF-8 text file "
            "(listing .txt, .jsonl, .json, .csv or arXiv Atom .xml); "
            "re-save UTF-16 files as UTF-8"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{p}:{line}: not UTF-8 text ({exc.reason} at byte {exc.start}) — "
            "re-save the file as UTF-8"
        ) from None
    if not text.strip():
        raise InputError(f"{p}: file is empty — add papers to it or leave it out")
    return p, text


class _Lines:
    """Character offset -> 1-based line number, in O(log n) per lookup."""

    def __init__(self, text: str) -> None:
        self._starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self._starts, offset)


# -- dates ----------------------------------------------------------------------------------

_MONTHS = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
    )
}
# "Oct 12, 2021", "Apr 1", "Oct 7 3" (date then a count), "Aug 30, 2023 4"
_LISTING_DATE = re.compile(
    r"^(?P<mon>[A-Z][a-z]{2})[a-z]*\.? (?P<day>\d{1,2})(?:, (?P<year>\d{4}))?(?: (?P<count>\d+))?$"
)
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:$|[T ])")


def _iso(year: int, month: int, day: int) -> str | None:
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def _listing_date(line: str) -> tuple[str, str | None] | None:
    """("Oct 12, 2021", "2021-10-12") or ("Apr 1", None) for a listing date line, else None.

    A date without a year stays without one: guessing the year would put papers in the wrong
    year for every year filter downstream.
    """
    m = _LISTING_DATE.match(line.strip())
    if not m or m["mon"].lower() not in _MONTHS:
        return None
    date_text = f"{m['mon']} {int(m['day'])}" + (f", {m['year']}" if m["year"] else "")
    published = (
        _iso(int(m["year"]), _MONTHS[m["mon"].lower()], int(m["day"])) if m["year"] else None
    )
    return date_text, published


def _parse_date(value: Any) -> tuple[str | None, str | None]:
    """(published ISO date or None, date_text or None) from a structured record's date field."""
    if value is None or value == "":
        return None, None
    text = _clean(value)
    m = _ISO_DATE.match(text)
    if m:
        iso = _iso(int(m[1]), int(m[2]), int(m[3]))
        return (iso, None) if iso else (None, text)
    listing = _listing_date(text)
    if listing:
        return listing[1], listing[0]
    return None, text  # "2021", "2021-10": shown as given, never padded into a fake day


def _date_matches(date_text: str | None, published: str) -> bool:
    """True when a year-less "Apr 1" agrees with 2024-04-01 (so both can stay on one paper)."""
    m = _LISTING_DATE.match((date_text or "").strip())
    if not m or m["mon"].lower() not in _MONTHS:
        return False
    return published[5:] == f"{_MONTHS[m['mon'].lower()]:02d}-{int(m['day']):02d}"


# -- HF Papers listing text -----------------------------------------------------------------

_BOILERPLATE = {
    "new",
    "get trending papers in your email inbox!",
    "subscribe",
    "daily papers",
    "byak and the research community",
}
_AUTHORS_LINE = re.compile(r"^\s*[•*·-]?\s*(\d+)\s+authors?\s*$")
_DOT_LINE = re.compile(r"^\s*[·•]\s*$")
_ORG_LINE = re.compile(r"^\S+ \S.{0,60}$")  # "google Google", "KaLM-Embedding KaLM-Embedding"


def _meta_kind(line: str) -> str | None:
    if _AUTHORS_LINE.match(line):
        return "authors"
    if _DOT_LINE.match(line):
        return "dot"
    if _listing_date(line):
        return "date"
    return None


def _split_meta(lines: list[str]) -> tuple[list[str], list[str]]:
    """Split a paragraph into its text lines and the author/date lines that close it.

    An organisation line ("apple Apple") counts only when it opens a "·"/date block in place
    of the author count; elsewhere any two-word title would be taken for one.
    """
    meta: list[str] = []
    while lines and _meta_kind(lines[-1]):
        meta.insert(0, lines.pop())
    anchored = any(_meta_kind(m) in ("dot", "date") for m in meta)
    if (
        lines
        and anchored
        and not _AUTHORS_LINE.match(meta[0])
        and _ORG_LINE.match(lines[-1].strip())
    ):
        meta.insert(0, lines.pop())
    return lines, meta


def _looks_like_abstract(text: str) -> bool:
    return len(text) >= 300 or (len(text) >= 150 and text.endswith("."))


def _paragraphs(text: str) -> list[tuple[int, list[str]]]:
    """(first line number, lines) for each run of non-blank lines."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            if not current:
                start = number
            current.append(line)
        elif current:
            blocks.append((start, current))
            current = []
    if current:
        blocks.append((start, current))
    return blocks


def _apply_meta(paper: Paper, meta: list[str]) -> None:
    for line in meta:
        m = _AUTHORS_LINE.match(line)
        if m:
            paper.n_authors = int(m[1])
            continue
        parsed = _listing_date(line)
        if parsed:
            paper.date_text, paper.published = parsed
    # organisation lines and the trailing count ("Oct 7 3") have no Paper field; dropped.


def _listing_raw(path: Path, text: str) -> _Raw:
    raw = _Raw()
    # Paragraphs become a flat stream of ("text"|"meta", line, payload) items.
    items: list[tuple[str, int, Any]] = []
    for start, lines in _paragraphs(text):
        if len(lines) == 1 and lines[0].strip().lower() in _BOILERPLATE:
            continue
        body, meta = _split_meta(list(lines))
        if body:
            items.append(("text", start, _clean(" ".join(body))))
        if meta:
            items.append(("meta", start + len(body), meta))

    pending: tuple[int, str] | None = None  # a title waiting for its abstract
    last: Paper | None = None  # the paper trailing metadata may still belong to
    for index, (kind, line, payload) in enumerate(items):
        where = f"{path}:{line}"
        if kind == "meta":
            if pending:
                raw.skip(
                    f"{path}:{pending[0]}",
                    f'paper "{pending[1][:80]}" has no abstract '
                    "(its title is followed by the author/date lines) — skipped; add the "
                    "abstract paragraph under the title",
                )
                pending = None
            elif last is not None:
                _apply_meta(last, payload)
            elif raw.papers:
                raw.warnings.append(
                    f"{where}: author/date lines that follow no abstract — "
                    "ignored; put them right after the paper's abstract"
                )
            last = None  # the header's date line before the first paper lands here too
            continue
        if pending is None:
            if last is not None and _looks_like_abstract(payload):
                last.abstract += " " + payload  # an abstract of several paragraphs
                continue
            pending = (line, payload)
            last = None
            continue
        # `payload` should be the abstract of `pending`; but title, title, long text means the
        # first title lost its abstract.
        nxt = items[index + 1] if index + 1 < len(items) else None
        if (
            not _looks_like_abstract(payload)
            and nxt is not None
            and nxt[0] == "text"
            and _looks_like_abstract(nxt[2])
        ):
            raw.skip(
                f"{path}:{pending[0]}",
                f'paper "{pending[1][:80]}" has no abstract '
                "(the next paragraph reads like another title) — skipped; add the abstract "
                "paragraph under the title",
            )
            pending = (line, payload)
            continue
        last = Paper(title=pending[1], abstract=payload, source=f"{path}:{pending[0]}")
        raw.papers.append(last)
        pending = None
    if pending:
        raw.skip(
            f"{path}:{pending[0]}",
            f'paper "{pending[1][:80]}" has no abstract (the file '
            "ends after its title) — skipped; add the abstract paragraph under the title",
        )
    if not raw.papers and not raw.skipped:
        raw.warnings.append(
            f"{path}:1: no papers found — expected a title line, a blank line "
            "and an abstract paragraph per paper (HF Papers listing text)"
        )
    return raw


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
    return [_clean(p) for p in parts if _clean(p)]


def _split_categories(value: Any) -> list[str]:
    if value is None:
        return []
    parts = re.split(r"[,;\s]+", value) if isinstance(value, str) else [str(v) for v in value]
    return [p.strip() for p in parts if p.strip()]


def _record_to_paper(record: Any, where: str, key_id: str | None = None) -> Paper | str:
    """A Paper, or the reason (with the fix) the record cannot be one."""
    if not isinstance(record, dict):
        kind = type(record).__name__
        return f"entry is {kind}, not an object — make each paper an object with title, abstract"
    record = {str(k).strip().lower(): v for k, v in record.items()}
    title = _clean(_field(record, "title"))
    abstract = _clean(_field(record, "abstract"))
    if not title:
        return 'paper has no title — skipped; add a "title" field'
    if not abstract:
        fix = 'add an "abstract" (or "summary") field'
        return f'paper "{title[:80]}" has no abstract — skipped; {fix}'
    url = _clean(_field(record, "url")) or None
    candidates = [record.get("arxiv_id"), record.get("id"), url, key_id]
    arxiv_id = next((i for i in (clean_arxiv_id(str(c)) for c in candidates if c) if i), None)
    if not url and arxiv_id:
        url = f"https://arxiv.org/abs/{arxiv_id}"
    published, date_text = _parse_date(_field(record, "published"))
    date_text = _clean(_field(record, "date_text")) or date_text
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
    )


def _add_record(raw: _Raw, record: Any, where: str, key_id: str | None = None) -> None:
    result = _record_to_paper(record, where, key_id)
    if isinstance(result, Paper):
        raw.papers.append(result)
    else:
        raw.skip(where, result)


def _jsonl_raw(path: Path, text: str) -> _Raw:
    raw = _Raw()
    for number, line in enumerate(text.splitlines(), 1):
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
        _add_record(raw, record, f"{path}:{number}")
    return raw


_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def _skip_ws(text: str, pos: int) -> int:
    match = _WS.match(text, pos)
    return match.end() if match else pos


def _json_members(text: str, pos: int) -> Iterator[tuple[Any, Any, int]]:
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


def _json_raw(path: Path, text: str) -> _Raw:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}:{exc.lineno}: not valid JSON ({exc.msg}, column {exc.colno}) — "
            "fix the file; one JSON object per line belongs in a .jsonl file"
        ) from None
    raw = _Raw()
    lines = _Lines(text)
    top = _skip_ws(text, 0)
    if isinstance(data, list):
        for _, record, offset in _json_members(text, top):
            _add_record(raw, record, f"{path}:{lines.line(offset)}")
    elif isinstance(data, dict) and isinstance(data.get("papers"), list):
        for key, value, offset in _json_members(text, top):
            if key == "papers":
                for _, record, off in _json_members(text, offset):
                    _add_record(raw, record, f"{path}:{lines.line(off)}")
    elif isinstance(data, dict) and isinstance(data.get("title"), str):
        _add_record(raw, data, f"{path}:{lines.line(top)}")  # a single paper
    elif isinstance(data, dict) and data and all(isinstance(v, dict) for v in data.values()):
        for key, record, offset in _json_members(text, top):  # keyed by arXiv id
            _add_record(raw, record, f"{path}:{lines.line(offset)}", key_id=str(key))
    else:
        raise InputError(
            f"{path}:1: JSON holds no papers — expected a list of paper objects, "
            '{"papers": [...]}, or an object keyed by arXiv id whose values are papers'
        )
    return raw


def _csv_raw(path: Path, text: str) -> _Raw:
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
    raw = _Raw()
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
            _add_record(raw, {k: v for k, v in row.items() if k is not None}, where)
    except csv.Error as exc:
        raise InputError(
            f"{path}:{reader.line_num}: CSV cannot be parsed ({exc}) — check the quoting there"
        ) from None
    return raw


# -- dedup ----------------------------------------------------------------------------------


def _merge_into(kept: Paper, other: Paper) -> None:
    """Fill what `kept` lacks from `other`; the first occurrence's text wins."""
    if not kept.title:
        kept.title = other.title
    if not kept.abstract:
        kept.abstract = other.abstract
    kept.url = kept.url or other.url
    kept.arxiv_id = kept.arxiv_id or other.arxiv_id
    if not kept.authors and other.authors:
        kept.authors = list(other.authors)
    kept.n_authors = kept.n_authors or other.n_authors or (len(kept.authors) or None)
    if not kept.categories and other.categories:
        kept.categories = list(other.categories)
    if kept.published is None and other.published is not None:
        # A date with a year beats "Apr 1"; keep "Apr 1" only if it is the same day.
        if other.date_text or not _date_matches(kept.date_text, other.published):
            kept.date_text = other.date_text
        kept.published = other.published
    elif kept.date_text is None and kept.published is None:
        kept.date_text = other.date_text


def dedupe(papers: Iterable[Paper]) -> tuple[list[Paper], int]:
    """Merge repeats of one paper; returns (papers in first-seen order, number of merges).

    Two entries are one paper when their arXiv ids are equal, or, unless both carry different
    ids, when their normalised titles are equal: listing text has no ids, so the same paper
    from a listing and from arXiv must meet by title. Inputs are not modified.
    """
    kept: list[Paper] = []
    by_id: dict[str, Paper] = {}
    by_title: dict[str, list[Paper]] = {}
    merges = 0
    for paper in papers:
        match = by_id.get(paper.arxiv_id) if paper.arxiv_id else None
        if match is None:
            for candidate in by_title.get(paper.dedup_key, []):
                if not (candidate.arxiv_id and paper.arxiv_id):
                    match = candidate
                    break
        if match is None:
            match = replace(paper, authors=list(paper.authors), categories=list(paper.categories))
            kept.append(match)
            by_title.setdefault(match.dedup_key, []).append(match)
        else:
            _merge_into(match, paper)
            merges += 1
            if paper.dedup_key != match.dedup_key:  # met by id under another title
                aliases = by_title.setdefault(paper.dedup_key, [])
                if not any(a is match for a in aliases):
                    aliases.append(match)
        if match.arxiv_id:
            by_id.setdefault(match.arxiv_id, match)
    return kept, merges


def _finish(raws: list[_Raw]) -> ReadResult:
    everything = [p for raw in raws for p in raw.papers]
    papers, _ = dedupe(everything)
    return ReadResult(
        papers=papers,
        entries=len(everything),
        warnings=[w for raw in raws for w in raw.warnings],
        skipped=sum(raw.skipped for raw in raws),
    )


# -- public readers -------------------------------------------------------------------------


def read_listing(path: str | Path) -> ReadResult:
    """Hugging Face Papers listing text: title, blank line, abstract, optional author/date lines."""
    p, text = _load_text(path)
    return _finish([_listing_raw(p, text)])


def read_jsonl(path: str | Path) -> ReadResult:
    """One JSON paper object per line; a malformed line is a warning, not the end of the file."""
    p, text = _load_text(path)
    return _finish([_jsonl_raw(p, text)])


def read_json(path: str | Path) -> ReadResult:
    """A list of papers, {"papers": [...]}, or an object keyed by arXiv id."""
    p, text = _load_text(path)
    return _finish([_json_raw(p, text)])


def read_csv(path: str | Path) -> ReadResult:
    """CSV (or .tsv) with a header row naming at least title and abstract (or summary)."""
    p, text = _load_text(path)
    return _finish([_csv_raw(p, text)])


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
            files.append(p)  # missing files are reported by _load_text
    unique: dict[Path, Path] = {}
    for f in files:
        unique.setdefault(f.resolve(), f)
    return list(unique.values())


def read_paths(paths: Iterable[str | Path], *, strict: bool = False) -> ReadResult:
    """Read files and directories (recursively) of any supported format, deduped across all.

    With strict=True any warning (skipped entry, ignored line) raises InputError instead, for
    pipelines that must not silently lose papers.
    """
    raws: list[_Raw] = []
    files = _expand([paths] if isinstance(paths, (str, Path)) else paths)
    if not files:
        raise InputError("no input paths given — pass files or directories of papers")
    for path in files:
        p, text = _load_text(path)
        kind = _detect(p, text)
        if kind == "atom":
            raw, _ = _atom_raw(text, str(p))
        else:
            raw = {
                "listing": _listing_raw,
                "jsonl": _jsonl_raw,
                "json": _json_raw,
                "csv": _csv_raw,
            }[kind](p, text)
        logger.info(
            "read %d entries from %s (%s, %d skipped)", len(raw.papers), p, kind, raw.skipped
        )
        raws.append(raw)
    result = _finish(raws)
    if strict and result.warnings:
        shown = "\n  ".join(result.warnings[:10])
        more = f"\n  ... and {len(result.warnings) - 10} more" if len(result.warnings) > 10 else ""
        raise InputError(
            f"{len(result.warnings)} problem(s) in the input (strict mode):\n  "
            f"{shown}{more}\nFix them, or read without strict to skip those entries."
        )
    return result
