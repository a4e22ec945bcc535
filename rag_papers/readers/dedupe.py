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
            merge_into(match, paper)
            merges += 1
            if paper.dedup_key != match.dedup_key:  # met by id under another title
                aliases = by_title.setdefault(paper.dedup_key, [])
                if not any(a is match for a in aliases):
                    aliases.append(match)
        if match.arxiv_id:
            by_id.setdefault(match.arxiv_id, match)
    return kept, merges


def finish(raws: list[RawEntries]) -> ReadResult:
    everything = [p for raw in raws for p in raw.papers]
    papers, _ = dedupe(everything)
    return ReadResult(
        papers=papers,
        entries=len(everything),
        warnings=[w for raw in raws for w in raw.warnings],
        skipped=sum(raw.skipped for raw in raws),
        no_abstract=missing_abstracts([p for raw in raws for p in raw.no_abstract], papers),
    )


def missing_abstracts(without: Iterable[Paper], papers: Iterable[Paper]) -> list[str]:
    """Entries without an abstract whose paper no other entry supplied, as "title (where)".

    A paper listed without an abstract in a .bib file but with one in a .ris file is indexed
    from the .ris entry: only papers that end up missing are worth telling the user about.
    """
    ids = set()
    keys = set()
    for paper in papers:
        keys.add(paper.dedup_key)
        if paper.arxiv_id:
            ids.add(paper.arxiv_id)
    out: list[str] = []
    for entry in without:
        if (entry.arxiv_id and entry.arxiv_id in ids) or entry.dedup_key in keys:
            continue
        out.append(f"{entry.title} ({entry.source})")
        keys.add(entry.dedup_key)
        if entry.arxiv_id:
            ids.add(entry.arxiv_id)
    return out
