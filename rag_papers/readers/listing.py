"""Hugging Face Papers listing text (what a browser's "save as text" gives)."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from rag_papers.readers.base import (
    RawEntries,
    clean_text,
    listing_date,
)
from rag_papers.types import Paper

logger = logging.getLogger(__name__)

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
    if listing_date(line):
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
        parsed = listing_date(line)
        if parsed:
            paper.date_text, paper.published = parsed
    # organisation lines and the trailing count ("Oct 7 3") have no Paper field; dropped.


def listing_entries(path: Path, text: str) -> RawEntries:
    raw = RawEntries()
    # Paragraphs become a flat stream of ("text"|"meta", line, payload) items.
    items: list[tuple[str, int, Any]] = []
    for start, lines in _paragraphs(text):
        if len(lines) == 1 and lines[0].strip().lower() in _BOILERPLATE:
            continue
        body, meta = _split_meta(list(lines))
        if body:
            items.append(("text", start, clean_text(" ".join(body))))
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
