"""The indexed papers as the page lists them: the Collection tab, its search, the examples."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from rag_papers.errors import QuestionError
from rag_papers.index.store import PaperStore

ANY_YEAR = "Any"
# A year as the page's dropdowns (or an API caller) give it: ANY_YEAR, "2023", 2023 or None.
YearChoice = int | str | None
N_EXAMPLES = 4
TABLE_HEADERS = ["Title", "Published", "Authors", "arXiv id", "Chunks"]


def parse_year(value: YearChoice) -> int | None:
    """A year from the page's dropdowns (or an API caller): None for Any, else an int."""
    if value is None or value in ("", ANY_YEAR):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise QuestionError(
            f"year {value!r} not understood — pick a year such as 2023, or {ANY_YEAR}"
        ) from None


@dataclass
class Found:
    """What a Collection search returns: the papers, and the undated ones its years left out."""

    papers: list[dict[str, Any]]
    undated_excluded: int = 0


class Catalog:
    """Paper metadata read from the store, reloaded when the number of chunks changes."""

    def __init__(self, store: PaperStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._chunks = -1
        self._papers: list[dict[str, Any]] = []

    def papers(self) -> list[dict[str, Any]]:
        with self._lock:
            chunks = self.store.count_chunks()
            if chunks != self._chunks:
                metas = self.store.list_papers() if chunks else []
                metas.sort(
                    key=lambda m: (
                        -int(m.get("published_ord") or 0),
                        str(m.get("title", "")).lower(),
                    )
                )
                self._papers, self._chunks = metas, chunks
            return self._papers

    def years(self) -> list[int]:
        return sorted({int(m.get("year") or 0) for m in self.papers()} - {0}, reverse=True)

    def examples(self, n: int = N_EXAMPLES) -> list[str]:
        """Questions about a few indexed papers, spread over the collection (titles short enough to read)."""
        titles = [str(m["title"]) for m in self.papers() if 8 <= len(str(m.get("title", ""))) <= 70]
        step = max(len(titles) // n, 1)
        return [f"What does {t} propose?" for t in titles[::step][:n]]

    def find(self, title: str) -> dict[str, Any] | None:
        return next((m for m in self.papers() if m.get("title") == title), None)

    def search(
        self,
        query: str,
        year_from: YearChoice = None,
        year_to: YearChoice = None,
        *,
        include_undated: bool = False,
    ) -> Found:
        """Papers whose title or abstract contains every word of the query, within the years.

        A paper without a year cannot be placed in a year range: it is left out (and counted)
        unless include_undated is set.
        """
        words = (query or "").lower().split()
        lo, hi = parse_year(year_from), parse_year(year_to)
        if lo and hi and lo > hi:
            lo, hi = hi, lo
        found = Found([])
        for m in self.papers():
            text = f"{m.get('title', '')} {m.get('abstract', '')}".lower()
            if not all(w in text for w in words):
                continue
            year = int(m.get("year") or 0)
            if (lo or hi) and not year:
                if not include_undated:
                    found.undated_excluded += 1
                    continue
            elif (lo and year < lo) or (hi and year > hi):
                continue
            found.papers.append(m)
        return found


def table(papers: list[dict[str, Any]]) -> dict[str, Any]:
    """Rows for the Collection tab's table."""
    rows = []
    for m in papers:
        authors = str(m.get("authors") or "")
        n_authors = int(m.get("n_authors") or -1)
        if not authors and n_authors > 0:
            authors = f"{n_authors} author{'s' if n_authors > 1 else ''}"
        published = m.get("published") or m.get("date_text") or "—"
        rows.append(
            [
                str(m.get("title", "")),
                str(published),
                authors or "—",
                str(m.get("arxiv_id") or "—"),
                int(m.get("n_chunks") or 0),
            ]
        )
    return {"headers": TABLE_HEADERS, "data": rows}
