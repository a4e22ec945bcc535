"""One paper once: merge repeats of a paper met by arXiv id or by normalised title."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace

from rag_papers.readers.base import RawEntries, ReadResult, date_matches
from rag_papers.types import Paper

logger = logging.getLogger(__name__)

# -- dedup ----------------------------------------------------------------------------------


def merge_into(kept: Paper, other: Paper) -> None:
    """Fill what `kept` lacks from `other`, in place; the first occurrence's text wins."""
    if not kept.title:
        kept.title = other.title
    if not kept.abstract:
        kept.abstract = other.abstract
    kept.url = kept.url or other.url
    kept.arxiv_id = kept.arxiv_id or other.arxiv_id
    kept.doi = kept.doi or other.doi
    kept.venue = kept.venue or other.venue
    if not kept.authors and other.authors:
        kept.authors = list(other.authors)
    kept.n_authors = kept.n_authors or other.n_authors or (len(kept.authors) or None)
    if not kept.categories and other.categories:
        kept.categories = list(other.categories)
    if kept.published is None and other.published is not None:
        # A date with a year beats "Apr 1"; keep "Apr 1" only if it is the same day.
        if other.date_text or not date_matches(kept.date_text, other.published):
            kept.date_text = other.date_text
        kept.published = other.published
    elif kept.date_text is None and kept.published is None:
        kept.date_text = other.date_text


class Groups:
    """`dedupe`'s matching on keys alone: which group (paper) each entry joins.

    An entry is its arXiv id and normalised title; a group keeps the same two keys as the
    paper `dedupe` builds (its first entry's title, the first arXiv id any entry gave), so
    the groups of a million entries cost a few strings each, not the papers. `dedupe` uses
    it; a streamed ingest runs it over the keys of every entry before reading any paper.
    """

    def __init__(self) -> None:
        self.arxiv: list[str | None] = []  # group -> its arXiv id (merged: first one given)
        self.key: list[str] = []  # group -> its normalised title (its first entry's)
        self._by_id: dict[str, int] = {}
        self._by_title: dict[str, list[int]] = {}

    def __len__(self) -> int:
        return len(self.key)

    def add(self, arxiv_id: str | None, key: str) -> int:
        """The group an entry joins (a new one, numbered next, when it matches none)."""
        match = self._by_id.get(arxiv_id) if arxiv_id else None
        if match is None:
            for candidate in self._by_title.get(key, []):
                if not (self.arxiv[candidate] and arxiv_id):
                    match = candidate
                    break
        if match is None:
            match = len(self.key)
            self.arxiv.append(arxiv_id)
            self.key.append(key)
            self._by_title.setdefault(key, []).append(match)
        else:
            self.arxiv[match] = self.arxiv[match] or arxiv_id  # as merge_into fills it
            if key != self.key[match]:  # met by id under another title
                aliases = self._by_title.setdefault(key, [])
                if match not in aliases:
                    aliases.append(match)
        found = self.arxiv[match]
        if found:
            self._by_id.setdefault(found, match)
        return match


def dedupe(papers: Iterable[Paper]) -> tuple[list[Paper], int]:
    """Merge repeats of one paper; returns (papers in first-seen order, number of merges).

    Two entries are one paper when their arXiv ids are equal, or, unless both carry different
    ids, when their normalised titles are equal: listing text has no ids, so the same paper
    from a listing and from arXiv must meet by title. Inputs are not modified.
    """
    kept: list[Paper] = []
    groups = Groups()
    merges = 0
    for paper in papers:
        group = groups.add(paper.arxiv_id, paper.dedup_key)
        if group == len(kept):
            kept.append(
                replace(paper, authors=list(paper.authors), categories=list(paper.categories))
            )
        else:
            merge_into(kept[group], paper)
            merges += 1
    return kept, merges


def finish(raws: list[RawEntries]) -> ReadResult:
    everything = [p for raw in raws for p in raw.papers]
    papers, _ = dedupe(everything)
    missing = missing_abstracts([p for raw in raws for p in raw.no_abstract], papers)
    return ReadResult(
        papers=papers,
        entries=len(everything),
        warnings=[w for raw in raws for w in raw.warnings],
        skipped=sum(raw.skipped for raw in raws),
        no_abstract=describe_missing(missing),
        no_abstract_entries=missing,
    )


def missing_abstracts(without: Iterable[Paper], papers: Iterable[Paper]) -> list[Paper]:
    """Entries without an abstract whose paper no other entry supplied (`describe_missing`
    words them "title (where)").

    A paper listed without an abstract in a .bib file but with one in a .ris file is indexed
    from the .ris entry: only papers that end up missing are worth telling the user about.
    """
    ids: set[str] = set()
    keys: set[str] = set()
    for paper in papers:
        keys.add(paper.dedup_key)
        if paper.arxiv_id:
            ids.add(paper.arxiv_id)
    return missing_from(without, ids, keys)


def missing_from(without: Iterable[Paper], ids: set[str], keys: set[str]) -> list[Paper]:
    """`missing_abstracts` given the arXiv ids and title keys of the papers read (the sets
    are extended in place)."""
    out: list[Paper] = []
    for entry in without:
        if (entry.arxiv_id and entry.arxiv_id in ids) or entry.dedup_key in keys:
            continue
        out.append(entry)
        keys.add(entry.dedup_key)
        if entry.arxiv_id:
            ids.add(entry.arxiv_id)
    return out


def describe_missing(entries: Iterable[Paper]) -> list[str]:
    """Entries without an abstract as the summary lists them: "title (path:line)"."""
    return [f"{entry.title} ({entry.source})" for entry in entries]
