"""One paper once across ingests: match incoming papers against what the store already holds.

`dedupe` merges repeats within one read. A paper ingested last week from a listing (no arXiv
id, so stored as ``title:<hash>``) and today from an arXiv export (``arxiv:<id>``) would
otherwise be two papers, and the result of two ingests would depend on their order and
grouping. The same rule as `dedupe` applies here: equal arXiv ids, or equal normalised
titles unless both carry different ids. A match merges into the stored paper (the stored
text wins, missing fields are filled in), is embedded once under the merged paper's id, and
any stored copy under another id is superseded (deleted once the merged paper is written).
A paper read again from the file it was stored from is compared by content hash as before,
so editing a file and ingesting it again updates the paper.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rag_papers.readers.dedupe import merge_into
from rag_papers.types import Paper, normalize_title


def paper_from_metadata(meta: Mapping[str, Any]) -> Paper:
    """The Paper a stored chunk-0 record describes (the inverse of ingest's paper_metadata)."""

    def split(value: Any) -> list[str]:
        return [v for v in str(value or "").split("; ") if v]

    arxiv_id = str(meta.get("arxiv_id") or "") or None
    n_authors = meta.get("n_authors")
    return Paper(
        title=str(meta.get("title") or ""),
        abstract=str(meta.get("abstract") or ""),
        authors=split(meta.get("authors")),
        n_authors=int(n_authors) if isinstance(n_authors, int) and n_authors >= 0 else None,
        published=str(meta.get("published") or "") or None,
        date_text=str(meta.get("date_text") or "") or None,
        url=str(meta.get("url") or "") or None,
        arxiv_id=arxiv_id,
        categories=split(meta.get("categories")),
        source=str(meta.get("source") or ""),
        doi=str(meta.get("doi") or "") or None,
        venue=str(meta.get("venue") or "") or None,
    )


def same_file(a: object, b: object) -> bool:
    """Whether two `source` values ("path:line") name the same file.

    A paper read again from the file it was stored from is that file's new version (an edit
    replaces it); the same paper from another file is another copy, merged into the stored one.
    """

    def path(value: object) -> str:
        text = str(value or "")
        head, _, line = text.rpartition(":")
        return head if head and line.isdigit() else text

    return path(a) == path(b)


def _fields(paper: Paper) -> tuple[Any, ...]:
    return (
        paper.title,
        paper.abstract,
        tuple(paper.authors),
        paper.n_authors if paper.n_authors is not None else (len(paper.authors) or None),
        paper.published,
        paper.date_text,
        paper.url,
        paper.arxiv_id,
        tuple(paper.categories),
        paper.doi,
        paper.venue,
    )


@dataclass
class Reconciled:
    """Incoming papers after matching them against the store.

    `papers` replaces the incoming list (merged papers in place of their incoming copy).
    Papers whose id is in `updated` must be (re-)embedded; those in `unchanged` need
    nothing; every other paper is classified as before, by its id and content hash.
    `superseded` are stored paper ids that a merged paper replaces: delete them after the
    merged paper is written (a run that dies in between leaves a duplicate the next ingest
    of either copy merges again).
    """

    papers: list[Paper]
    updated: set[str] = field(default_factory=set)
    unchanged: set[str] = field(default_factory=set)
    superseded: list[str] = field(default_factory=list)


def reconcile(papers: Sequence[Paper], stored: Iterable[Mapping[str, Any]]) -> Reconciled:
    """Match `papers` (already deduplicated among themselves) against stored chunk metadata.

    `stored` is any chunk metadata of the store (every chunk carries paper_id, title and
    arxiv_id; chunk 0 also carries the abstract): one record per paper is enough.
    """
    by_pid: dict[str, Mapping[str, Any]] = {}
    for meta in stored:
        pid = str(meta.get("paper_id") or "")
        if pid and (pid not in by_pid or "abstract" in meta):
            by_pid[pid] = meta
    by_arxiv: dict[str, list[str]] = {}
    by_title: dict[str, list[str]] = {}
    for pid, meta in by_pid.items():
        if meta.get("arxiv_id"):
            by_arxiv.setdefault(str(meta["arxiv_id"]), []).append(pid)
        by_title.setdefault(normalize_title(str(meta.get("title") or "")), []).append(pid)

    def matches(paper: Paper) -> list[str]:
        found = list(by_arxiv.get(paper.arxiv_id, [])) if paper.arxiv_id else []
        for pid in by_title.get(paper.dedup_key, []):
            other_id = by_pid[pid].get("arxiv_id")
            if pid not in found and not (
                paper.arxiv_id and other_id and other_id != paper.arxiv_id
            ):
                found.append(pid)
        return found

    out: list[Paper] = []
    merged_by_stored: dict[str, Paper] = {}  # stored id -> the merged paper that took it over
    groups: dict[int, tuple[Paper, list[str]]] = {}  # id(merged) -> (merged, stored ids)
    for paper in papers:
        hits = matches(paper)
        if not hits or (
            hits == [paper.paper_id] and same_file(by_pid[hits[0]].get("source"), paper.source)
        ):
            out.append(paper)  # new, or the same file again: compared by content hash
            continue
        taken = next((merged_by_stored[h] for h in hits if h in merged_by_stored), None)
        if taken is None:
            # Prefer the stored copy under the incoming id, then one with an arXiv id.
            hits.sort(key=lambda h: (h != paper.paper_id, not by_pid[h].get("arxiv_id")))
            taken = paper_from_metadata(by_pid[hits[0]])
            groups[id(taken)] = (taken, [])
            out.append(taken)
            for h in hits[1:]:
                merge_into(taken, paper_from_metadata(by_pid[h]))
        group = groups[id(taken)][1]
        for h in hits:
            merged_by_stored[h] = taken
            if h not in group:
                group.append(h)
        merge_into(taken, paper)

    result = Reconciled(papers=out)
    for merged, stored_ids in groups.values():
        pid = merged.paper_id
        result.superseded.extend(h for h in stored_ids if h != pid)
        before = by_pid.get(pid)
        same = before is not None and _fields(paper_from_metadata(before)) == _fields(merged)
        if same and len(stored_ids) == 1:
            result.unchanged.add(pid)
        else:
            result.updated.add(pid)
    return result
