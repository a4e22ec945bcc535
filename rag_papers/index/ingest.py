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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag_papers import _offline  # noqa: F401
from rag_papers.errors import InputError
from rag_papers.index.locking import file_lock
from rag_papers.settings import Settings
from rag_papers.types import Paper, ProgressCallback

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

    from rag_papers.index.reconcile import Reconciled
    from rag_papers.index.store import PaperState, PaperStore

log = logging.getLogger(__name__)

WRITE_GROUP_BATCHES = 8

# Metadata fields kept out of the embedded and prompted text (the title goes in, via the template).
_HIDDEN_KEYS = [
    "paper_id",
    "abstract",
    "published",
    "year",
    "published_ord",
    "date_text",
    "n_authors",
    "authors",
    "url",
    "arxiv_id",
    "categories",
    "source",
    "content_hash",
    "n_chunks",
    "chunk_index",
    "doi",
    "venue",
]


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
    # entries without an abstract (cannot be answered from): "title (path:line)"
    no_abstract: list[str] = field(default_factory=list)
    # files in the given folders that no reader reads: "path: why"
    skipped_files: list[str] = field(default_factory=list)

    def line(self) -> str:
        extra = ""
        if self.no_abstract:
            extra += f" ({len(self.no_abstract)} without abstract)"
        if self.skipped_files:
            extra += f"; {len(self.skipped_files)} files skipped"
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


def paper_metadata(paper: Paper) -> dict[str, Any]:
    """Flat metadata Chroma can filter on (no None: unknown numbers are 0 / -1)."""
    published = paper.published or ""
    meta: dict[str, Any] = {
        "paper_id": paper.paper_id,
        "title": paper.title,
        "published": published,
        "year": paper.year or 0,
        "published_ord": int(published.replace("-", "")) if published else 0,
        "date_text": paper.date_text or "",
        "n_authors": paper.n_authors if paper.n_authors is not None else len(paper.authors) or -1,
        "authors": "; ".join(paper.authors),
        "url": paper.url or "",
        "arxiv_id": paper.arxiv_id or "",
        "categories": "; ".join(paper.categories),
        "source": paper.source,
        "content_hash": paper.content_hash,
    }
    if paper.doi:  # only when known: older stores and most sources have neither
        meta["doi"] = paper.doi
    if paper.venue:
        meta["venue"] = paper.venue
    return meta


def chunk_papers(papers: Sequence[Paper], settings: Settings) -> list[Any]:
    """Split each abstract with a token-aware splitter; every chunk's embedded text has the title."""
    from llama_index.core import Document
    from llama_index.core.node_parser import SentenceSplitter

    splitter = SentenceSplitter(
        chunk_size=settings.chunk_tokens, chunk_overlap=settings.chunk_overlap
    )
    nodes: list[Any] = []
    for paper in papers:
        meta = paper_metadata(paper)
        doc = Document(
            text=paper.abstract,
            metadata=meta,
            excluded_embed_metadata_keys=list(_HIDDEN_KEYS),
            excluded_llm_metadata_keys=list(_HIDDEN_KEYS),
            metadata_template="{value}",
            text_template="{metadata_str}\n\n{content}",
        )
        pieces = splitter.get_nodes_from_documents([doc])
        for i, node in enumerate(pieces):
            node.id_ = f"{paper.paper_id}#{i}"
            node.metadata["chunk_index"] = i
            node.metadata["n_chunks"] = len(pieces)
            if i == 0:  # the whole abstract once per paper, for quotes and display
                node.metadata["abstract"] = paper.abstract
            node.relationships = {}
            nodes.append(node)
    return nodes


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
    `progress` is a ProgressCallback told each phase as it starts (reading, chunking,
    loading the model, embedding, BM25) and the embedding count every model batch; True
    (or None on a terminal) shows a tqdm bar on stderr instead.

    `store` and `embed_model` are the dependencies, built from the settings when not given
    (tests pass their own); a given model is recorded as the one the settings name.
    """
    from rag_papers.index.bm25 import ensure_bm25, mark_changed, rebuild_bm25
    from rag_papers.index.reconcile import reconcile
    from rag_papers.index.store import PaperStore, damage_error, move_aside
    from rag_papers.providers.embed import embed_model_id, embedding_dim, make_embed_model

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
    all_papers = _read_inputs(paths, papers, strict, summary, report)

    # One writer per home folder: a second ingest waits (and says so) instead of racing.
    home = Path(settings.home).expanduser()
    lock = home / "ingest.lock"
    with file_lock(
        lock, waiting=f"waiting for another ingest into {home} to finish (it holds {lock})"
    ):
        if rebuild and store is None and damage_error(settings) is not None:
            move_aside(settings)  # a damaged store cannot even be reset: start a fresh one
        store = store if store is not None else PaperStore(settings)
        if rebuild:
            store.reset()
        model_id = embed_model_id(settings)
        store.check_model(model_id)
        store.check_chunking(f"{settings.chunk_tokens}/{settings.chunk_overlap}")
        states = store.paper_states()
        # The same paper may be stored under another id (from a listing without arXiv ids, say).
        stored = (m for _, _, metas in store.iter_chunks(include_documents=False) for m in metas)
        known = reconcile(all_papers, stored)
        all_papers = known.papers
        summary.read = len(all_papers)

        todo, stale_ids = _classify(all_papers, states, known, summary)

        if todo and settings.embed_backend == "openai" and confirm is not None:
            tokens, cost = estimate_embedding_cost(todo, settings)
            if not confirm(tokens, cost):
                raise InputError(
                    f"ingest cancelled before embedding {len(todo)} papers (~{tokens:,} tokens, "
                    f"~${cost:.4f}) — nothing was written; pass --yes to skip the question"
                )
        superseded = known.superseded
        changed = bool(todo or superseded)
        if todo:
            report("loading the embedding model")
            # loaded only when there is something to embed
            model = embed_model if embed_model is not None else make_embed_model(settings)
            store.bind_model(model_id, embedding_dim(model))
            mark_changed(store)
            summary.chunks = _embed_and_write(todo, stale_ids, store, model, settings, report)
        if superseded:  # only now that the merged papers are written
            if not todo:
                mark_changed(store)
            store.delete_papers(superseded)
        # Every paper is in the store now: let them go before the BM25 build, which reads the
        # store page by page and needs none of them (120,000 papers hold about 0.3 GB).
        del all_papers, todo, stale_ids, known, states
        if changed or rebuild or not settings.bm25_dir.exists():
            report("building the keyword (BM25) index")
            rebuild_bm25(store, settings, bump=True, load=False)
        else:  # nothing changed, but the keyword index may have been damaged since
            ensure_bm25(store, settings)
        _write_manifest(settings, summary, store.location, store.count_chunks())
    summary.seconds = time.perf_counter() - start
    log.info(summary.line())
    return summary


def _classify(
    papers: Sequence[Paper],
    states: Mapping[str, PaperState],
    known: Reconciled,
    summary: IngestSummary,
) -> tuple[list[Paper], list[str]]:
    """The papers to (re-)embed and the ids whose stored chunks they replace; counts new,
    updated and unchanged papers in the summary."""
    todo: list[Paper] = []
    stale_ids: list[str] = []
    for paper in papers:
        st = states.get(paper.paper_id)
        if paper.paper_id in known.unchanged and st is not None and st.complete:
            summary.unchanged += 1
        elif paper.paper_id in known.updated:
            summary.updated += 1
            todo.append(paper)
            if st is not None:
                stale_ids.append(paper.paper_id)
        elif st is None:
            summary.new += 1
            todo.append(paper)
        elif st.content_hash != paper.content_hash or not st.complete:
            summary.updated += 1
            todo.append(paper)
            stale_ids.append(paper.paper_id)
        else:
            summary.unchanged += 1
    return todo, stale_ids


def _read_inputs(
    paths: list[str | Path],
    papers: Sequence[Paper] | None,
    strict: bool,
    summary: IngestSummary,
    report: ProgressCallback,
) -> list[Paper]:
    """The papers to ingest, deduplicated, with what reading found noted in the summary."""
    from rag_papers import readers as sources

    all_papers: list[Paper] = list(papers or [])
    if paths:
        report("reading papers")
        result = sources.read_paths(paths, strict=strict)
        all_papers.extend(result.papers)
        summary.warnings = list(result.warnings)
        summary.skipped = result.skipped
        summary.merged = result.entries - len(result.papers)
        summary.no_abstract = list(result.no_abstract)
        summary.skipped_files = list(result.skipped_files)
    if papers is not None:  # two Papers with one id would collide in the store
        all_papers, merged = sources.dedupe(all_papers)
        summary.merged += merged
    summary.read = len(all_papers)
    return all_papers


def estimate_embedding_cost(papers: Sequence[Paper], settings: Settings) -> tuple[int, float]:
    """Tokens the embedding API would be sent for these papers, and their price in USD."""
    import tiktoken
    from llama_index.core.schema import MetadataMode

    from rag_papers.providers.names import openai_embed_model_name

    enc = tiktoken.get_encoding("cl100k_base")
    tokens = sum(
        len(enc.encode(n.get_content(MetadataMode.EMBED))) for n in chunk_papers(papers, settings)
    )
    price_in, _ = settings.prices.get(openai_embed_model_name(settings), (0.0, 0.0))
    return tokens, tokens * price_in / 1e6


def _embed_and_write(
    todo: Sequence[Paper],
    stale_ids: Sequence[str],
    store: PaperStore,
    model: BaseEmbedding,
    settings: Settings,
    report: ProgressCallback,
) -> int:
    """Replace the chunks of `todo` in the store; returns how many chunks were written.

    Streamed in bounded batches: a slice of papers is chunked, embedded and written before
    the next slice is chunked, so memory does not grow with the collection and the first
    papers are searchable (dense) while the rest are still embedding. The chunk total shown
    in progress is an estimate (chunks per paper so far) until the last slice is chunked.

    A changed paper's old chunks are deleted in the batch that writes its first new chunk,
    not all up front: if the run dies, papers it had not reached keep their old version
    searchable, and the next run sees their hash differ and redoes them.
    """
    from llama_index.core.schema import MetadataMode

    stale = set(stale_ids)
    vector_store = store.vector_store()
    batch = max(settings.embed_batch_size, 1)
    group = write_group_size(settings)
    done = chunked = 0
    report("chunking abstracts", 0, None)
    for start in range(0, len(todo), group):
        papers = todo[start : start + group]
        nodes = chunk_papers(papers, settings)
        chunked += len(nodes)
        left = len(todo) - start - len(papers)
        total = chunked + round(left * chunked / (start + len(papers)))
        for i in range(0, len(nodes), group):
            part = nodes[i : i + group]
            texts = [n.get_content(MetadataMode.EMBED) for n in part]
            # Longest first, as sentence-transformers does within one call: each model batch
            # then holds texts of similar length and pads little (unsorted 64-text batches
            # did ~30% more work than the bare model on the sample corpus).
            order = sorted(range(len(part)), key=lambda j: -len(texts[j]))
            for b in range(0, len(order), batch):  # one model batch at a time, reported
                some = order[b : b + batch]
                vectors = model.get_text_embedding_batch([texts[j] for j in some])
                for j, vec in zip(some, vectors, strict=False):
                    part[j].embedding = vec
                done += len(some)
                report("embedding chunks", done, max(total, done))
            replaced = sorted({n.metadata["paper_id"] for n in part} & stale)
            if replaced:
                store.delete_papers(replaced)
                stale.difference_update(replaced)
            vector_store.add(part)
        del nodes  # the slice is in the store; nothing of it is kept
    return done


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


def write_group_size(settings: Settings) -> int:
    """Chunks embedded and written to the store together: 8 model batches.

    Big enough that sorting by length within it removes most padding, small enough that a
    crash loses little work (the store keeps every group written before it).
    """
    return max(settings.embed_batch_size, 1) * WRITE_GROUP_BATCHES
