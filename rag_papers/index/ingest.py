"""Papers -> chunks -> embeddings -> Chroma, incrementally.

Chunk ids are `<paper_id>#<i>` and every chunk carries its paper's content hash, so a
second run embeds only papers that are new or changed. The store itself is the record of
what is indexed: an ingest that dies part-way leaves complete papers searchable, and the
next run finishes the rest (a paper whose chunks are incomplete counts as changed).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag_papers import _offline  # noqa: F401
from rag_papers.errors import InputError
from rag_papers.index.chunks import chunk_papers, estimate_embedding_cost, paper_metadata
from rag_papers.index.locking import writer_lock
from rag_papers.index.plan import Entries, IngestPlan, Record
from rag_papers.index.reconcile import StoredKeys, refresh
from rag_papers.index.write import SliceWriter, write_group_size
from rag_papers.readers.dedupe import describe_missing, missing_abstracts
from rag_papers.settings import Settings
from rag_papers.types import Paper, ProgressCallback

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

    from rag_papers.index.store import PaperState, PaperStore

log = logging.getLogger(__name__)


@dataclass
class IngestSummary:
    """What one ingest did; printed as one line by the CLI and returned by ingest()."""

    read: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    merged: int = 0  # entries that repeated a paper already read (same id or title), merged into it
    chunks: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    # entries without an abstract whose paper the collection does not hold (cannot be
    # answered from): "title (path:line)"
    no_abstract: list[str] = field(default_factory=list)
    # entries without an abstract whose paper the collection already holds, with one
    no_abstract_indexed: int = 0
    # files in the given folders that no reader reads: "path: why"
    skipped_files: list[str] = field(default_factory=list)

    def line(self) -> str:
        extra = ""
        missing = [f"{len(self.no_abstract)} without abstract"] if self.no_abstract else []
        if self.no_abstract_indexed:
            missing.append(f"{self.no_abstract_indexed} without abstract but already indexed")
        if missing:
            extra += f" ({', '.join(missing)})"
        if self.skipped_files:
            n = len(self.skipped_files)
            extra += f"; {n} file{'' if n == 1 else 's'} skipped"
        merged = ""
        if self.merged:
            merged = f" ({self.merged} duplicate entr{'y' if self.merged == 1 else 'ies'} merged)"
        return (
            f"read {self.read} paper{'' if self.read == 1 else 's'}{merged}: {self.new} new, "
            f"{self.updated} updated, {self.unchanged} unchanged, {self.skipped} skipped{extra}; "
            f"{self.chunks} chunks embedded in {self.seconds:.1f} s"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _write_manifest(
    settings: Settings, summary: IngestSummary, store_location: str, store_chunks: int
) -> None:
    path = settings.manifest_path
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "last_ingest": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "store": store_location,
        "store_chunks": store_chunks,
        "summary": summary.to_dict(),
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(path)


def ingest(
    paths: Iterable[str | Path] = (),
    *,
    sample: bool = False,
    settings: Settings | None = None,
    rebuild: bool = False,
    strict: bool = False,
    progress: bool | ProgressCallback | None = None,
    papers: Sequence[Paper] | None = None,
    confirm: Callable[[int, float], bool] | None = None,
    store: PaperStore | None = None,
    embed_model: BaseEmbedding | None = None,
) -> IngestSummary:
    """Index paper collections (files or folders) into the store; returns what changed.

    `sample=True` adds the bundled sample corpus. `papers` indexes Paper objects directly.
    With the OpenAI embedding backend, `confirm(tokens, usd)` is asked before anything is
    sent (the CLI asks the user unless --yes); returning False cancels the ingest.
    `progress` is a ProgressCallback told each phase as it starts (reading, loading the
    model, chunking, embedding, BM25) and the embedding count every model batch; True
    (or None on a terminal) shows a tqdm bar on stderr instead.

    Files are streamed: a first pass keeps a few keys per entry to decide which entries are
    one paper (index/plan.py), a second reads them again and writes slice by slice, so
    memory stays flat as the files grow and the first slice is searchable while the rest
    is written.

    `store` and `embed_model` are the dependencies, built from the settings when not given
    (tests pass their own); a given model is recorded as the one the settings name.
    """
    from rag_papers.index.bm25 import ensure_bm25, rebuild_bm25
    from rag_papers.index.store import PaperStore, damage_error, move_aside
    from rag_papers.providers.embed import embed_model_id

    settings = settings or Settings()
    report = as_callback(progress)
    start = time.perf_counter()
    paths = list(paths)
    from rag_papers import readers as sources

    if sample:
        paths.append(sources.sample_corpus_dir())
    if not paths and papers is None:
        raise InputError(
            "nothing to ingest — give files or folders, or --sample for the bundled corpus"
        )

    summary = IngestSummary()
    plan, entries, without = _read_inputs(paths, papers, strict, summary, report)

    # One writer at a time (per home, and per collection on a Chroma server): a second
    # ingest waits (and says so) instead of racing.
    with writer_lock(settings):
        if rebuild and store is None and damage_error(settings) is not None:
            move_aside(settings)  # a damaged store cannot even be reset: start a fresh one
        store = store if store is not None else PaperStore(settings)
        if rebuild:
            store.reset()
        model_id = embed_model_id(settings)
        store.check_model(model_id)
        store.check_chunking(f"{settings.chunk_tokens}/{settings.chunk_overlap}")
        # The same paper may be stored under another id (from a listing without arXiv ids, say).
        stored = StoredKeys(
            m for _, _, metas in store.iter_chunks(include_documents=False) for m in metas
        )
        plan.match(stored)
        # an entry without abstract whose paper is already here (from another file) is fine
        missing = [p for p in without if not stored.matches(p.arxiv_id, p.dedup_key)]
        summary.no_abstract = describe_missing(missing)
        summary.no_abstract_indexed = len(without) - len(missing)
        del without
        summary.read = plan.outputs
        changed = _write_papers(
            plan, entries, stored, store, settings, summary, report, confirm, embed_model
        )
        # Every paper is in the store now: let the keys go before the BM25 build, which
        # reads the store page by page.
        del plan, entries, stored
        if changed or rebuild or not settings.bm25_dir.exists():
            report("building the keyword (BM25) index")
            rebuild_bm25(store, settings, bump=True, load=False)
        else:  # nothing changed, but the keyword index may have been damaged since
            ensure_bm25(store, settings)
        _write_manifest(settings, summary, store.location, store.count_chunks())
    summary.seconds = time.perf_counter() - start
    log.info(summary.line())
    return summary


def _write_papers(
    plan: IngestPlan,
    entries: Entries,
    stored: StoredKeys,
    store: PaperStore,
    settings: Settings,
    summary: IngestSummary,
    report: ProgressCallback,
    confirm: Callable[[int, float], bool] | None,
    embed_model: BaseEmbedding | None,
) -> bool:
    """The second pass: embed and write what is new or changed, slice by slice, then delete
    the stored papers merged ones replace; counts papers and chunks in the summary. Returns
    whether the store changed."""
    from rag_papers.index.bm25 import mark_changed
    from rag_papers.providers.embed import embed_model_id, embedding_dim, make_embed_model

    states = store.paper_states()

    def record(pid: str) -> dict[str, Any] | None:
        ids = stored.chunk_ids([pid])
        return store.get_chunks(ids).get(ids[0]) if ids else None

    if settings.embed_backend == "openai" and confirm is not None:
        n_todo, tokens, cost = _embedding_cost(plan, entries, record, states, settings)
        if n_todo and not confirm(tokens, cost):
            raise InputError(
                f"ingest cancelled before embedding {n_todo} papers (~{tokens:,} tokens, "
                f"~${cost:.4f}) — nothing was written; pass --yes to skip the question"
            )

    def load_model() -> BaseEmbedding:
        report("loading the embedding model")
        # loaded only when there is something to embed
        model = embed_model if embed_model is not None else make_embed_model(settings)
        store.bind_model(embed_model_id(settings), embedding_dim(model))
        mark_changed(store)
        return model

    yielded = 0
    writer = SliceWriter(store, settings, report, load_model, lambda: plan.outputs - yielded)
    for paper, verdict in _judged(plan, entries, record, states):
        yielded += 1
        embed, stale = _classify(paper, verdict, states, summary)
        if embed:
            writer.add(paper, stale)
    summary.chunks = writer.close()
    if plan.superseded:  # only now that the merged papers are written
        if not writer.papers:
            mark_changed(store)
        store.delete_papers(plan.superseded)
    return bool(writer.papers or plan.superseded)


def _judged(
    plan: IngestPlan, entries: Entries, record: Record, states: Mapping[str, PaperState]
) -> Iterator[tuple[Paper, bool | None]]:
    """IngestPlan.papers, with a paper read again from its own file whose content hash
    differs refreshed against the stored paper (reconcile.refresh): True when that leaves
    the stored paper as it is."""
    for paper, verdict in plan.papers(entries, record):
        st = states.get(paper.paper_id)
        if verdict is None and st is not None and st.content_hash != paper.content_hash:
            paper, same = refresh(paper, record(paper.paper_id))
            verdict = True if same else None
        yield paper, verdict


def _classify(
    paper: Paper, verdict: bool | None, states: Mapping[str, PaperState], summary: IngestSummary
) -> tuple[bool, bool]:
    """Whether to (re-)embed the paper and whether stored chunks of it are replaced; counts
    it as new, updated or unchanged. `verdict` is IngestPlan.papers' (True: a takeover that
    left the stored paper as it was; False: a takeover that changed it)."""
    st = states.get(paper.paper_id)
    if verdict is True and st is not None and st.complete:
        summary.unchanged += 1
        return False, False
    if verdict is False:
        summary.updated += 1
        return True, st is not None
    if st is None:
        summary.new += 1
        return True, False
    if st.content_hash != paper.content_hash or not st.complete:
        summary.updated += 1
        return True, True
    summary.unchanged += 1
    return False, False


def _read_inputs(
    paths: list[str | Path],
    papers: Sequence[Paper] | None,
    strict: bool,
    summary: IngestSummary,
    report: ProgressCallback,
) -> tuple[IngestPlan, Entries, list[Paper]]:
    """The first pass over the inputs (which entries are one paper), the entries to read
    again, and the entries without an abstract whose paper no other entry supplied; what
    reading found is noted in the summary. Files are streamed; `papers` given
    directly are held (with the files' papers, deduplicated first as read_paths does)."""
    from rag_papers import readers as sources
    from rag_papers.readers.base import RawEntries
    from rag_papers.readers.registry import strict_error
    from rag_papers.readers.stream import EntryStream

    if papers is not None:  # two Papers with one id would collide in the store
        held: list[Paper] = list(papers)
        without: list[Paper] = []
        if paths:
            report("reading papers")
            result = sources.read_paths(paths, strict=strict)
            held.extend(result.papers)
            summary.warnings = list(result.warnings)
            summary.skipped = result.skipped
            summary.merged = result.entries - len(result.papers)
            without = missing_abstracts(result.no_abstract_entries, held)
            summary.skipped_files = list(result.skipped_files)
        plan = IngestPlan.read(held)
        summary.merged += plan.merged
        summary.read = len(plan.groups)
        return plan, lambda: held, without
    report("reading papers")
    stream = EntryStream(paths)
    raw = RawEntries()
    plan = IngestPlan.read(stream.scan(raw))
    if strict and raw.warnings:
        raise strict_error(raw.warnings)
    summary.warnings = raw.warnings
    summary.skipped = raw.skipped
    summary.merged = plan.merged
    summary.skipped_files = list(stream.skipped_files)
    summary.read = len(plan.groups)
    return plan, stream.again, plan.missing_abstracts(raw)


def _embedding_cost(
    plan: IngestPlan,
    entries: Entries,
    record: Record,
    states: Mapping[str, PaperState],
    settings: Settings,
) -> tuple[int, int, float]:
    """Papers the ingest would embed, and the tokens and USD the embedding API would be
    sent for them: a dry run of the second pass, a slice at a time."""
    scratch = IngestSummary()
    todo: list[Paper] = []
    count = tokens = 0
    cost = 0.0
    for paper, verdict in _judged(plan, entries, record, states):
        if _classify(paper, verdict, states, scratch)[0]:
            todo.append(paper)
        if len(todo) >= 256:
            count, tokens, cost = _add_cost(todo, settings, count, tokens, cost)
    count, tokens, cost = _add_cost(todo, settings, count, tokens, cost)
    plan.superseded.clear()  # filled again by the pass that writes
    return count, tokens, cost


def _add_cost(
    todo: list[Paper], settings: Settings, count: int, tokens: int, cost: float
) -> tuple[int, int, float]:
    if todo:
        more, usd = estimate_embedding_cost(todo, settings)
        count, tokens, cost = count + len(todo), tokens + more, cost + usd
        todo.clear()
    return count, tokens, cost


class _Bar:
    """The library's own progress when no callback is given: a tqdm bar for the embedding."""

    def __init__(self, show: bool) -> None:
        self.show = show
        self.bar: Any = None

    def __call__(self, phase: str, done: int = 0, total: int | None = None) -> None:
        if not self.show or not total:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="chunk", desc=phase, file=sys.stderr)
        self.bar.update(done - self.bar.n)
        if done >= total:
            self.bar.close()


def as_callback(progress: bool | ProgressCallback | None) -> ProgressCallback:
    """A ProgressCallback for ingest's `progress` argument (a callable, True/False or None)."""
    if callable(progress):
        return progress
    return _Bar(sys.stderr.isatty() if progress is None else bool(progress))


__all__ = [
    "IngestSummary",
    "as_callback",
    "chunk_papers",
    "estimate_embedding_cost",
    "ingest",
    "paper_metadata",
    "write_group_size",
]
