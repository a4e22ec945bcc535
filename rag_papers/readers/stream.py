"""The entries of paper files in read order, as often as asked, never all held at once.

A streamed ingest reads its inputs twice: once for the keys that decide which entries are
one paper (`scan`), then again for the papers themselves, a slice at a time (`again`).
JSON Lines and JSON arrays are read as they stream; the other formats (reference-manager
exports, listings, Atom: small files) are parsed whole, one file at a time, as before.
`scan` gives the same entries, warnings and log lines as `read_paths`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

from rag_papers.errors import InputError
from rag_papers.readers.base import RawEntries, text_lines
from rag_papers.readers.csl import looks_csl_items
from rag_papers.readers.jsonstream import NotStreamed, json_array_members
from rag_papers.readers.records import jsonl_papers, record_paper
from rag_papers.readers.registry import by_suffix, expand_paths, read_file
from rag_papers.types import Paper

logger = logging.getLogger(__name__)

CSL_SNIFF = 20  # CSL-JSON is told apart by its first 20 items (csl.looks_csl)


def file_papers(path: Path, raw: RawEntries) -> Iterator[Paper]:
    """One file's papers in order, what was skipped noted in `raw`; `raw.papers` stays empty."""
    reader = by_suffix(path)
    if reader is not None and reader.kind == "jsonl":
        yield from jsonl_papers(path, text_lines(path), raw)
        return
    if path.suffix.lower() == ".json":
        try:
            yield from _json_array_papers(path, raw)
            return
        except NotStreamed:
            pass  # not an array of papers: read whole below, as before
    _, whole = read_file(path)
    raw.warnings.extend(whole.warnings)
    raw.skipped += whole.skipped
    raw.no_abstract.extend(whole.no_abstract)
    yield from whole.papers


def _json_array_papers(path: Path, raw: RawEntries) -> Iterator[Paper]:
    """A JSON array's papers as the file streams. Raises NotStreamed before yielding when it
    is CSL-JSON or no array; if the array turns out broken later, reading it whole must
    refuse it (with the message json.loads gives)."""
    members = json_array_members(path)
    head: list[tuple[object, int]] = []
    for member in members:
        head.append(member)
        if sum(isinstance(m, dict) for m, _ in head) >= CSL_SNIFF:
            break
    if looks_csl_items([m for m, _ in head]):
        raise NotStreamed("CSL-JSON")
    try:
        for record, line in _chain(head, members):
            paper = record_paper(raw, record, f"{path}:{line}")
            if paper is not None:
                yield paper
    except NotStreamed:
        read_file(path)  # raises the InputError that names what is wrong
        raise InputError(f"{path}: changed while it was being read — read it again") from None


def _chain(
    head: list[tuple[object, int]], rest: Iterator[tuple[object, int]]
) -> Iterator[tuple[object, int]]:
    yield from head
    yield from rest


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


class EntryStream:
    """The papers of files and folders (as `read_paths` finds them), entry by entry."""

    def __init__(self, paths: Iterable[str | Path]) -> None:
        self.files, self.skipped_files = expand_paths(paths)
        if not self.files:
            raise InputError("no input paths given — pass files or directories of papers")
        self._stamps: list[tuple[int, int]] = []

    def scan(self, raw: RawEntries) -> Iterator[Paper]:
        """Every entry's paper, in order; warnings, skips and entries without an abstract
        are added to `raw` file by file (its `papers` stay empty)."""
        self._stamps = []
        for path in self.files:
            one = RawEntries()
            count = 0
            for paper in file_papers(path, one):
                count += 1
                yield paper
            logger.info("read %d entries from %s (%d skipped)", count, path, one.skipped)
            raw.warnings.extend(one.warnings)
            raw.skipped += one.skipped
            raw.no_abstract.extend(one.no_abstract)
            self._stamps.append(_stamp(path))

    def again(self) -> Iterator[Paper]:
        """The same papers as `scan` gave, read again (refused if a file changed since)."""
        if len(self._stamps) != len(self.files):
            raise RuntimeError("EntryStream.again() before a whole scan()")
        for path, stamp in zip(self.files, self._stamps, strict=True):
            if not path.exists() or _stamp(path) != stamp:
                raise InputError(f"{path}: changed while it was being read — read it again")
            yield from file_papers(path, RawEntries())
