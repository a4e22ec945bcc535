"""Which papers an ingest writes, decided from a few keys per entry before any paper is held.

A streamed ingest reads its entries twice. The first pass (`IngestPlan.read`) keeps of
each entry only the group it joins (`Groups`: the rule `dedupe` applies, on arXiv id and
normalised title); `match` then matches the groups against the store's keys (`StoredKeys`,
the rule `reconcile` applies). The second pass (`papers`) reads the entries again and
yields each output paper when its first entry comes by, merged exactly as `dedupe` and
`reconcile` merge it, in the same order; the few entries it needs from further on (the
later copies of a duplicated paper) are fetched by a second reader running ahead, which
keeps only entries still to be merged. Memory is a few dozen bytes an entry plus what a
caller holds of the papers yielded, whatever the size of the input.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from rag_papers.errors import InputError
from rag_papers.index.reconcile import StoredKeys, Takeover, match_stored, source_file, take_over
from rag_papers.readers.base import RawEntries
from rag_papers.readers.dedupe import Groups, merge_into, missing_from
from rag_papers.types import Paper

Entries = Callable[[], Iterable[Paper]]  # the same entries, in the same order, on each call
Record = Callable[[str], Mapping[str, Any] | None]  # a stored paper's record by id

CHANGED = "an input file changed while it was being ingested — ingest it again"


class IngestPlan:
    """Entry -> group -> output paper, as index arrays; see the module docstring."""

    def __init__(self) -> None:
        self.groups = Groups()
        self.entry_group = array("q")  # entry -> group
        self.group_first = array("q")  # group -> its first entry
        self.group_source = array("q")  # group -> index in self.sources of its first entry's file
        self.sources: list[str] = []
        self.group_entries: dict[int, list[int]] = {}  # groups of several entries -> entries
        self.group_item = array("q")  # group -> output paper (after match)
        self.item_lead = array("q")  # output paper -> its first entry
        self.takeovers: dict[int, Takeover] = {}  # output papers that take over stored ones
        self.superseded: list[str] = []  # filled in as `papers` yields takeovers

    @property
    def entries(self) -> int:
        return len(self.entry_group)

    @property
    def merged(self) -> int:
        """Entries merged into an earlier entry of the same paper."""
        return len(self.entry_group) - len(self.groups)

    @property
    def outputs(self) -> int:
        return len(self.item_lead)

    @classmethod
    def read(cls, entries: Iterable[Paper]) -> IngestPlan:
        """The first pass: every entry's group, from its keys."""
        plan = cls()
        files: dict[str, int] = {}
        sizes = array("q")
        for paper in entries:
            group = plan.groups.add(paper.arxiv_id, paper.dedup_key)
            if group == len(plan.group_first):
                plan.group_first.append(len(plan.entry_group))
                name = sys.intern(source_file(paper.source))
                plan.group_source.append(files.setdefault(name, len(files)))
                sizes.append(0)
            sizes[group] += 1
            plan.entry_group.append(group)
        plan.sources = list(files)
        for entry, group in enumerate(plan.entry_group):
            if sizes[group] > 1:
                plan.group_entries.setdefault(group, []).append(entry)
        return plan

    def missing_abstracts(self, raw: RawEntries) -> list[Paper]:
        """`dedupe.missing_abstracts` of what reading found without an abstract."""
        ids = {a for a in self.groups.arxiv if a}
        return missing_from(raw.no_abstract, ids, set(self.groups.key))

    def match(self, stored: StoredKeys) -> None:
        """Match the groups against the store: which output paper each group goes to."""
        groups = self.groups
        incoming = (
            (groups.arxiv[g], groups.key[g], self.sources[self.group_source[g]])
            for g in range(len(groups))
        )
        where, self.takeovers = match_stored(incoming, stored)
        self.group_item = array("q", where)
        self.item_lead = array("q", [-1]) * (max(where) + 1 if where else 0)
        for group, item in enumerate(where):
            if self.item_lead[item] < 0:
                self.item_lead[item] = self.group_first[group]

    def papers(self, entries: Entries, record: Record) -> Iterator[tuple[Paper, bool | None]]:
        """The second pass: each output paper, merged, in order, with whether a takeover
        left it unchanged (None: not a takeover; classify it by id and content hash)."""
        ahead = _Ahead(entries, self._later)
        count = 0
        for entry, paper in enumerate(entries()):
            count += 1
            if entry >= self.entries:
                raise InputError(CHANGED)
            group = self.entry_group[entry]
            item = self.group_item[group]
            if self.item_lead[item] != entry:
                continue  # merged into its paper when that paper's first entry came by
            takeover = self.takeovers.get(item)
            if takeover is None:
                yield self._group_paper(group, entry, paper, ahead), None
                continue
            merged = [self._group_paper(g, entry, paper, ahead) for g in takeover.incoming]
            out, unchanged, superseded = take_over(takeover, record, merged)
            self.superseded.extend(superseded)
            yield out, unchanged
        if count != self.entries:
            raise InputError(CHANGED)

    def _later(self, entry: int) -> bool:
        """Whether an entry is merged into a paper whose first entry comes before it."""
        return self.item_lead[self.group_item[self.entry_group[entry]]] != entry

    def _group_paper(self, group: int, entry: int, paper: Paper, ahead: _Ahead) -> Paper:
        """A group's entries merged as `dedupe` merges them (`paper` is entry `entry`)."""
        members = self.group_entries.get(group) or [self.group_first[group]]
        first = paper if members[0] == entry else ahead.get(members[0])
        kept = replace(first, authors=list(first.authors), categories=list(first.categories))
        for member in members[1:]:
            merge_into(kept, paper if member == entry else ahead.get(member))
        return kept


class _Ahead:
    """A second reader of the entries for those a paper needs from further on: it keeps the
    entries it passes that are still to be merged (`wanted`), and no others."""

    def __init__(self, entries: Entries, wanted: Callable[[int], bool]) -> None:
        self.entries = entries
        self.wanted = wanted
        self.reader: Iterator[Paper] | None = None
        self.next = 0
        self.held: dict[int, Paper] = {}

    def get(self, entry: int) -> Paper:
        if entry in self.held:
            return self.held.pop(entry)
        if self.reader is None:
            self.reader = iter(self.entries())
        for paper in self.reader:
            at = self.next
            self.next += 1
            if at == entry:
                return paper
            if self.wanted(at):
                self.held[at] = paper
        raise InputError(CHANGED)
