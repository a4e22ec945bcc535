"""Shared reader machinery: one file's entries, results, text loading, dates.

Every reader returns entries as `RawEntries`; problems with single entries become warnings
that name the file and line, problems with a whole file raise `InputError`.
"""

from __future__ import annotations

import bisect
import datetime as dt
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import NoReturn

from rag_papers.errors import InputError
from rag_papers.types import Paper

logger = logging.getLogger(__name__)


@dataclass
class ReadResult:
    """Papers read from one or more inputs, plus the bookkeeping a user needs to trust them."""

    papers: list[Paper]  # deduplicated, in first-seen order
    entries: int  # entries read and kept before dedup (entries - len(papers) = merges)
    warnings: list[str] = field(default_factory=list)  # "path:LINE: what is wrong — what to do"
    skipped: int = 0  # entries dropped (no title, no abstract, malformed line)
    # entries without an abstract whose paper no other entry supplied: "title (path:line)"
    no_abstract: list[str] = field(default_factory=list)
    # files a folder held that no reader reads: "path: why"
    skipped_files: list[str] = field(default_factory=list)
    # the entries `no_abstract` describes (title, arXiv id and where only)
    no_abstract_entries: list[Paper] = field(default_factory=list, repr=False)


@dataclass
class RawEntries:
    """One file's worth of entries before dedup."""

    papers: list[Paper] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: int = 0
    no_abstract: list[Paper] = field(default_factory=list)  # title and id only, for the summary

    def skip(self, where: str, problem: str) -> None:
        self.warnings.append(f"{where}: {problem}")
        self.skipped += 1


def sample_corpus_dir() -> Path:
    """The five bundled HF Papers listing files, so a fresh install has something to index."""
    res = resources.files("rag_papers") / "data" / "sample"
    path = res if isinstance(res, Path) else Path(str(res))
    if not path.is_dir():  # zipped install or namespace package: fall back to the source tree
        path = Path(__file__).resolve().parents[1] / "data" / "sample"
    return path


# -- shared helpers -------------------------------------------------------------------------


def clean_text(text: object) -> str:
    """Collapse line wraps and runs of spaces (arXiv and JSON dumps wrap titles at ~80 chars)."""
    return " ".join(str(text).split()) if text is not None else ""


def load_text(path: str | Path) -> tuple[Path, str]:
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


def text_lines(path: str | Path) -> Iterator[str]:
    """The lines of a UTF-8 text file, read one at a time: `load_text(path)[1].splitlines()`
    without ever holding the whole file (a 120,000-paper JSON Lines file is 190 MB).

    Refuses what load_text refuses, with its messages (missing, a folder, empty, NUL bytes,
    not UTF-8); a problem met part-way through is raised there, after the lines before it
    were yielded, so a caller keeps nothing it read until the iterator is exhausted.
    """
    p = Path(path)
    if not p.exists() or p.is_dir():
        _refuse(p)
    seen_text = False
    with p.open("rb") as f:
        for number, raw in enumerate(f):  # split at b"\n" only: never inside a character
            if b"\x00" in raw:
                _refuse(p)
            try:
                line = raw.decode("utf-8-sig" if number == 0 else "utf-8")
            except UnicodeDecodeError:
                _refuse(p)
            seen_text = seen_text or bool(line.strip())
            yield from line.splitlines()  # also \r, \u2028 ... as str.splitlines() does
    if not seen_text:
        _refuse(p)


def _refuse(p: Path) -> NoReturn:
    """Raise load_text's InputError for a file text_lines cannot read (it reads it whole to
    name the first problem exactly as load_text does: only ever for a broken file)."""
    load_text(p)
    raise InputError(f"{p}: changed while it was being read — read it again")


class LineIndex:
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


def iso_date(year: int, month: int, day: int) -> str | None:
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def listing_date(line: str) -> tuple[str, str | None] | None:
    """("Oct 12, 2021", "2021-10-12") or ("Apr 1", None) for a listing date line, else None.

    A date without a year stays without one: guessing the year would put papers in the wrong
    year for every year filter downstream.
    """
    m = _LISTING_DATE.match(line.strip())
    if not m or m["mon"].lower() not in _MONTHS:
        return None
    date_text = f"{m['mon']} {int(m['day'])}" + (f", {m['year']}" if m["year"] else "")
    published = (
        iso_date(int(m["year"]), _MONTHS[m["mon"].lower()], int(m["day"])) if m["year"] else None
    )
    return date_text, published


def parse_date(value: object) -> tuple[str | None, str | None]:
    """(published ISO date or None, date_text or None) from a structured record's date field."""
    if value is None or value == "":
        return None, None
    text = clean_text(value)
    m = _ISO_DATE.match(text)
    if m:
        iso = iso_date(int(m[1]), int(m[2]), int(m[3]))
        return (iso, None) if iso else (None, text)
    listing = listing_date(text)
    if listing:
        return listing[1], listing[0]
    return None, text  # "2021", "2021-10": shown as given, never padded into a fake day


def date_matches(date_text: str | None, published: str) -> bool:
    """True when a year-less "Apr 1" agrees with 2024-04-01 (so both can stay on one paper)."""
    m = _LISTING_DATE.match((date_text or "").strip())
    if not m or m["mon"].lower() not in _MONTHS:
        return False
    return published[5:] == f"{_MONTHS[m['mon'].lower()]:02d}-{int(m['day']):02d}"


# -- reference-manager fields -----------------------------------------------------------------


def arxiv_id_in(*values: object) -> str | None:
    """The arXiv id in the first value that names arXiv ("arXiv:2401.04081", an arxiv.org
    URL, the DataCite DOI 10.48550/arXiv.2401.04081); other DOIs and URLs are never read as
    ids (10.1145/3581783.3612345 holds digits that look like one)."""
    from rag_papers.types import clean_arxiv_id

    for value in values:
        text = clean_text(value)
        if "arxiv" in text.lower():
            found = clean_arxiv_id(text)
            if found:
                return found
    return None


def partial_date(year: object, month: object = None, day: object = None) -> str | None:
    """ "2024-01-08", "2024-01" or "2024" from parts a reference manager gives (month as a
    number or a name such as "jan"); parse_date keeps a date without its day as text."""
    try:
        y = int(str(year).strip()[:4])
    except (TypeError, ValueError):
        return None
    m: int | None = None
    if month not in (None, ""):
        text = str(month).strip().lower()
        m = int(text) if text.isdigit() else _MONTHS.get(text[:3])
    if not m or not 1 <= m <= 12:
        return f"{y:04d}"
    try:
        d = int(str(day).strip()) if day not in (None, "") else None
    except ValueError:
        d = None
    if d and iso_date(y, m, d):
        return f"{y:04d}-{m:02d}-{d:02d}"
    return f"{y:04d}-{m:02d}"


def person_name(name: str) -> str:
    """ "Last, First" (RIS, Zotero CSV) -> "First Last", the form the other sources use."""
    if "," in name:
        family, _, given = name.partition(",")
        return clean_text(f"{given} {family}")
    return clean_text(name)
