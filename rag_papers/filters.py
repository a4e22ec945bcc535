"""Retrieval filters: a plain value that front ends build and the store and retrievers honour.

Dates are compared as `published_ord` (YYYYMMDD as an int, 0 when unknown) in chunk metadata.
The store turns the date part into its own query language; the title test runs in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from rag_papers.errors import QuestionError


@dataclass(frozen=True)
class Filters:
    """Restrict retrieval by publication year or date, or by a phrase in the title."""

    year_from: int | None = None
    year_to: int | None = None
    date_from: str | None = None  # ISO YYYY-MM-DD
    date_to: str | None = None
    title_contains: str | None = None
    # Papers whose date is unknown cannot be placed in a date range: left out unless this is set.
    include_undated: bool = False

    @classmethod
    def parse_years(cls, text: str) -> Filters:
        """'2023' or '2021-2024' (either side may be empty: '2022-')."""
        try:
            if "-" in text:
                lo_text, hi_text = text.split("-", 1)
                lo = int(lo_text) if lo_text.strip() else None
                hi = int(hi_text) if hi_text.strip() else None
            else:
                lo = hi = int(text)
        except ValueError:
            raise QuestionError(
                f"year range {text!r} not understood — use 2023 or 2021-2024"
            ) from None
        if lo is not None and hi is not None and lo > hi:
            raise QuestionError(
                f"year range {text!r} is reversed: {lo} comes after {hi} — did you mean {hi}-{lo}?"
            )
        return cls(year_from=lo, year_to=hi)

    def is_empty(self) -> bool:
        return not any(
            (self.year_from, self.year_to, self.date_from, self.date_to, self.title_contains)
        )

    def has_dates(self) -> bool:
        """True when the filter restricts dates (and so, unless told, leaves undated papers out)."""
        lo, hi = self.ord_bounds()
        return lo is not None or hi is not None

    def ord_bounds(self) -> tuple[int | None, int | None]:
        """Inclusive bounds on `published_ord` (YYYYMMDD as an int); None where open."""
        lo = hi = None
        if self.year_from:
            lo = self.year_from * 10000 + 101
        if self.year_to:
            hi = self.year_to * 10000 + 1231
        if self.date_from:
            lo = max(lo or 0, _date_ord(self.date_from))
        if self.date_to:
            d = _date_ord(self.date_to)
            hi = d if hi is None else min(hi, d)
        return lo, hi

    def match(self, meta: dict[str, Any]) -> bool:
        lo, hi = self.ord_bounds()
        ordv = int(meta.get("published_ord") or 0)
        if ordv == 0 and self.include_undated:
            lo = hi = None
        if lo is not None and ordv < lo:
            return False
        if hi is not None and (ordv > hi or ordv == 0):
            return False
        return not (
            self.title_contains
            and self.title_contains.lower() not in str(meta.get("title", "")).lower()
        )


def _date_ord(text: str) -> int:
    try:
        day = date.fromisoformat(text)
    except (TypeError, ValueError):
        raise QuestionError(
            f"date {text!r} not understood — use a real date as YYYY-MM-DD"
        ) from None
    return day.year * 10000 + day.month * 100 + day.day
