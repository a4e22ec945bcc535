"""Zotero's CSV export -> papers.

Zotero writes 87 quoted columns ("Key", "Item Type", ... "Title", "Abstract Note", "Author",
"Publication Year", "Date", "Url", "DOI", "Extra", ...), authors as "Last, First; Last, First"
and the arXiv id in Extra as "arXiv: 2401.04081".
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from rag_papers.errors import InputError
from rag_papers.readers.base import (
    RawEntries,
    arxiv_id_in,
    clean_text,
    parse_date,
    partial_date,
    person_name,
)
from rag_papers.readers.records import add_record, csv_entries


def looks_zotero_csv(text: str) -> bool:
    header = text.lstrip("\ufeff").split("\n", 1)[0]
    return '"Abstract Note"' in header or ",Abstract Note," in header


def zotero_csv_entries(path: Path, text: str) -> RawEntries:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    columns = set(reader.fieldnames or [])
    if not {"Title", "Abstract Note"} <= columns:  # not Zotero's: the plain CSV reader says why
        return csv_entries(path, text)
    raw = RawEntries()
    previous = reader.line_num
    try:
        for row in reader:
            where = f"{path}:{previous + 1}"
            previous = reader.line_num
            date = clean_text(row.get("Date"))
            published, _ = parse_date(date)
            url = clean_text(row.get("Url")) or None
            doi = clean_text(row.get("DOI")) or None
            record = {
                "title": row.get("Title"),
                "abstract": row.get("Abstract Note"),
                "authors": [
                    person_name(a) for a in (row.get("Author") or "").split(";") if a.strip()
                ],
                "published": published or date or partial_date(row.get("Publication Year")),
                "url": url,
                "arxiv_id": arxiv_id_in(row.get("Extra"), row.get("Number"), url, doi),
                "doi": doi,
                "venue": clean_text(row.get("Publication Title")) or None,
            }
            add_record(raw, record, where, no_abstract_fix='fill its "Abstract Note" column')
    except csv.Error as exc:
        raise InputError(
            f"{path}:{reader.line_num}: CSV cannot be parsed ({exc}) — check the quoting there"
        ) from None
    return raw
