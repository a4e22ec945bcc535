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

import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from rag_papers.readers.dedupe import merge_into
from rag_papers.types import Paper, normalize_title, paper_id_of


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


def source_file(value: object) -> str:
    """The file part of a `source` value ("path:line" -> "path")."""
    text = str(value or "")
    head, _, line = text.rpartition(":")
    return head if head and line.isdigit() else text


def same_file(a: object, b: object) -> bool:
    """Whether two `source` values ("path:line") name the same file.

    A paper read again from the file it was stored from is that file's new version (an edit
    replaces it); the same paper from another file is another copy, merged into the stored one.
    """
    return source_file(a) == source_file(b)


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


class StoredKeys:
    """What matching needs of each stored paper: its arXiv id, title key and source file.

    Built from any chunk metadata of the store (every chunk carries paper_id, title and
    arxiv_id); the record a paper is later merged from is its chunk 0 when there is one
    (which carries the abstract), else the first chunk seen: `chunk_ids` names it, for a
    caller to fetch when it needs the whole record. `keep=True` also keeps those records.
    """

    def __init__(self, stored: Iterable[Mapping[str, Any]], *, keep: bool = False) -> None:
        self.chunk: dict[str, int] = {}  # paper id -> chunk index of its record
        self.arxiv: dict[str, str] = {}
        self.source: dict[str, str] = {}  # paper id -> file it was read from
        self.records: dict[str, Mapping[str, Any]] = {}
        titles: dict[str, str] = {}
        for meta in stored:
            pid = str(meta.get("paper_id") or "")
            if pid and (pid not in self.chunk or "abstract" in meta):
                self.chunk[pid] = int(meta.get("chunk_index") or 0)
                if meta.get("arxiv_id"):
                    self.arxiv[pid] = str(meta["arxiv_id"])
                else:
                    self.arxiv.pop(pid, None)
                self.source[pid] = sys.intern(source_file(meta.get("source")))
                titles[pid] = normalize_title(str(meta.get("title") or ""))
                if keep:
                    self.records[pid] = meta
        self.by_arxiv: dict[str, list[str]] = {}
        self.by_title: dict[str, list[str]] = {}
        for pid in self.chunk:
            if pid in self.arxiv:
                self.by_arxiv.setdefault(self.arxiv[pid], []).append(pid)
            self.by_title.setdefault(titles[pid], []).append(pid)

    def chunk_ids(self, paper_ids: Iterable[str]) -> list[str]:
        return [f"{pid}#{self.chunk[pid]}" for pid in paper_ids if pid in self.chunk]

    def matches(self, arxiv_id: str | None, key: str) -> list[str]:
        """Stored papers an incoming paper is: same arXiv id, or same title unless both
        carry different ids."""
        found = list(self.by_arxiv.get(arxiv_id, [])) if arxiv_id else []
        for pid in self.by_title.get(key, []):
            other_id = self.arxiv.get(pid)
            if pid not in found and not (arxiv_id and other_id and other_id != arxiv_id):
                found.append(pid)
        return found


@dataclass
class Takeover:
    """An output paper that takes over stored papers: it starts from the record of
    `base[0]`, fills in from the rest of `base`, then from the incoming papers `incoming`
    (their positions in the incoming order); every id in `stored` is replaced by it."""

    base: list[str]
    stored: list[str] = field(default_factory=list)
    incoming: list[int] = field(default_factory=list)


def match_stored(
    incoming: Iterable[tuple[str | None, str, str]], stored: StoredKeys
) -> tuple[list[int], dict[int, Takeover]]:
    """Where each incoming paper goes, from its keys (arXiv id, title key, source file).

    Returns the output position of every incoming paper (output papers are numbered in the
    order their first incoming paper comes) and the takeovers by output position; an output
    paper that is not a takeover is its one incoming paper, unchanged.
    """
    where: list[int] = []
    takeovers: dict[int, Takeover] = {}
    taken_by: dict[str, int] = {}  # stored id -> the output paper that took it over
    outputs = 0
    for position, (arxiv_id, key, source) in enumerate(incoming):
        hits = stored.matches(arxiv_id, key)
        pid = paper_id_of(arxiv_id, key)
        if not hits or (hits == [pid] and stored.source[pid] == source_file(source)):
            where.append(outputs)  # new, or the same file again: compared by content hash
            outputs += 1
            continue
        taken = next((taken_by[h] for h in hits if h in taken_by), None)
        if taken is None:
            # Prefer the stored copy under the incoming id, then one with an arXiv id.
            hits.sort(key=lambda h: (h != pid, h not in stored.arxiv))
            taken = outputs
            outputs += 1
            takeovers[taken] = Takeover(base=list(hits))
        takeover = takeovers[taken]
        takeover.incoming.append(position)
        for h in hits:
            taken_by[h] = taken
            if h not in takeover.stored:
                takeover.stored.append(h)
        where.append(taken)
    return where, takeovers


def take_over(
    takeover: Takeover,
    record: Callable[[str], Mapping[str, Any] | None],
    incoming: Iterable[Paper],
) -> tuple[Paper, bool, list[str]]:
    """The merged paper, whether it is unchanged (the stored paper under its id, alone and
    the same in every field), and the stored ids it supersedes. `record(id)` is a stored
    paper's record (see StoredKeys), None when it is not stored."""

    def stored(pid: str) -> Paper:
        found = record(pid)
        if found is None:
            raise RuntimeError(f"stored paper {pid} vanished during the ingest")
        return paper_from_metadata(found)

    merged = stored(takeover.base[0])
    for pid in takeover.base[1:]:
        merge_into(merged, stored(pid))
    for paper in incoming:
        merge_into(merged, paper)
    pid = merged.paper_id
    before = record(pid)
    same = before is not None and _fields(paper_from_metadata(before)) == _fields(merged)
    return merged, same and len(takeover.stored) == 1, [h for h in takeover.stored if h != pid]


def refresh(paper: Paper, stored: Mapping[str, Any] | None) -> tuple[Paper, bool]:
    """A paper read again from the file it was stored from whose content differs from the
    stored one: the file's version wins and the stored paper fills in what it lacks (what
    other files merged in, such as a day-precise date or a DOI); returns that paper and
    whether it is the stored paper unchanged. Without this, ingesting a.bib, b.csv, a.bib
    dropped b.csv's fields again and re-embedded the paper on every alternation."""
    if stored is None:
        return paper, False
    before = paper_from_metadata(stored)
    merged = replace(paper, authors=list(paper.authors), categories=list(paper.categories))
    merge_into(merged, before)
    return merged, _fields(merged) == _fields(before)


def reconcile(papers: Sequence[Paper], stored: Iterable[Mapping[str, Any]]) -> Reconciled:
    """Match `papers` (already deduplicated among themselves) against stored chunk metadata.

    `stored` is any chunk metadata of the store (every chunk carries paper_id, title and
    arxiv_id; chunk 0 also carries the abstract): one record per paper is enough.
    """
    keys = StoredKeys(stored, keep=True)
    where, takeovers = match_stored(((p.arxiv_id, p.dedup_key, p.source) for p in papers), keys)
    out: dict[int, Paper] = {}
    for position, paper in enumerate(papers):
        if where[position] not in takeovers:
            out[where[position]] = paper
    result = Reconciled(papers=[])
    for position, takeover in takeovers.items():
        merged, unchanged, superseded = take_over(
            takeover, keys.records.get, [papers[i] for i in takeover.incoming]
        )
        out[position] = merged
        (result.unchanged if unchanged else result.updated).add(merged.paper_id)
        result.superseded.extend(superseded)
    result.papers = [out[i] for i in range(len(out))]
    return result
