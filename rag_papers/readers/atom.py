"""arXiv API Atom responses (saved to a file, or as text) -> papers."""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from rag_papers.errors import InputError
from rag_papers.readers.base import (
    LineIndex,
    RawEntries,
    ReadResult,
    clean_text,
    load_text,
)
from rag_papers.readers.dedupe import finish
from rag_papers.readers.records import add_record
from rag_papers.types import clean_arxiv_id

logger = logging.getLogger(__name__)

_ATOM = "{http://www.w3.org/2005/Atom}"
_ARXIV_NS = "{http://arxiv.org/schemas/atom}"
_OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"

# -- arXiv Atom -----------------------------------------------------------------------------


def atom_entries(text: str, label: str) -> tuple[RawEntries, int | None]:
    """Papers in an arXiv API Atom response, and its opensearch:totalResults."""

    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else 1
        raise InputError(
            f"{label}:{line}: not well-formed XML ({exc}) — save the arXiv API "
            "response unchanged (curl -o file.xml URL)"
        ) from None
    if root.tag != f"{_ATOM}feed":
        raise InputError(
            f"{label}:1: XML root is <{root.tag}>, not an Atom <feed> — expected a "
            "saved arXiv API response (export.arxiv.org/api/query?...)"
        )
    total_text = root.findtext(f"{_OPENSEARCH}totalResults")
    total = int(total_text) if total_text and total_text.strip().isdigit() else None
    lines = LineIndex(text)
    entry_lines = [lines.line(m.start()) for m in re.finditer(r"<(?:\w+:)?entry[\s>]", text)]
    raw = RawEntries()
    for number, entry in enumerate(root.findall(f"{_ATOM}entry")):
        line = entry_lines[number] if number < len(entry_lines) else 1
        where = f"{label}:{line}"
        entry_id = clean_text(entry.findtext(f"{_ATOM}id"))
        if "/api/errors" in entry_id:
            raise InputError(
                f"{where}: arXiv API error: {clean_text(entry.findtext(f'{_ATOM}summary'))}"
                " — fix the query (see https://info.arxiv.org/help/api/user-manual.html)"
            )
        links = {ln.get("rel", "alternate"): ln.get("href") for ln in entry.findall(f"{_ATOM}link")}
        arxiv_id = clean_arxiv_id(entry_id)
        # a version-less abs link for new-style ids; old-style ids keep arXiv's own link
        url = f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else links.get("alternate")
        primary = entry.find(f"{_ARXIV_NS}primary_category")
        categories = [primary.get("term", "")] if primary is not None else []
        categories += [c.get("term", "") for c in entry.findall(f"{_ATOM}category")]
        record = {
            "title": entry.findtext(f"{_ATOM}title"),
            "abstract": entry.findtext(f"{_ATOM}summary"),
            "published": entry.findtext(f"{_ATOM}published"),
            "authors": [
                clean_text(a.findtext(f"{_ATOM}name")) for a in entry.findall(f"{_ATOM}author")
            ],
            "url": url or entry_id,
            "arxiv_id": arxiv_id,
            "categories": list(dict.fromkeys(c for c in categories if c)),
        }
        add_record(raw, record, where)
    return raw, total


def read_arxiv_atom(path_or_text: str | Path) -> ReadResult:
    """A saved arXiv API response (Atom XML), given as a path or as the XML text itself."""

    if isinstance(path_or_text, str) and path_or_text.lstrip().startswith("<"):
        raw, _ = atom_entries(path_or_text, "<atom text>")
    else:
        p, text = load_text(path_or_text)
        raw, _ = atom_entries(text, str(p))
    return finish([raw])
