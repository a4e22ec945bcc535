"""The merging rules as they were before the streamed ingest (rag_papers d773482: dedupe on
Paper objects, reconcile on whole stored records), kept verbatim as the oracle that the
key-level versions (readers.dedupe.Groups, index.reconcile.match_stored, index.plan) are
checked against."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from rag_papers.index.reconcile import Reconciled, paper_from_metadata, same_file
from rag_papers.readers.dedupe import merge_into
from rag_papers.types import Paper, normalize_title


def old_dedupe(papers: Iterable[Paper]) -> tuple[list[Paper], int]:
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


def old_reconcile(papers: Sequence[Paper], stored: Iterable[Mapping[str, Any]]) -> Reconciled:
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
