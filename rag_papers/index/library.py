"""A researcher's library: the collections in one home, the papers in one, removing papers.

Each collection is a Chroma collection with its own BM25 index and manifest (see
`Settings.collection_dir`); the default collection keeps the paths it had before
collections existed. Removal keeps vectors, BM25 and manifest in step the way ingest does:
the store's BM25 version is bumped before any chunk is deleted, so a removal that dies
part-way leaves every reader rebuilding its keyword index from the vectors that remain.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from rag_papers.errors import IndexNotFoundError, InputError
from rag_papers.index.locking import writer_lock
from rag_papers.index.reconcile import paper_from_metadata
from rag_papers.settings import DEFAULT_COLLECTION, Settings
from rag_papers.types import Paper, clean_arxiv_id, normalize_title

log = logging.getLogger(__name__)


@dataclass
class CollectionInfo:
    """One line of `rag-papers collections`."""

    name: str
    papers: int
    chunks: int
    embedding_model: str | None
    last_ingest: str | None
    current: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RemoveSummary:
    removed: list[str] = field(default_factory=list)  # paper ids
    not_found: list[str] = field(default_factory=list)  # ids as given

    def line(self) -> str:
        text = f"removed {len(self.removed)} paper{'' if len(self.removed) == 1 else 's'}"
        if self.not_found:
            text += f"; not in the collection: {', '.join(self.not_found)}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def for_collection(settings: Settings, name: str) -> Settings:
    return settings.model_copy(update={"collection": name})


def read_manifest(settings: Settings) -> dict[str, Any]:
    path = settings.manifest_path
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def update_manifest(settings: Settings, **values: Any) -> None:
    """Merge values into the collection's manifest, written atomically."""
    data = read_manifest(settings)
    data.update(values)
    path = settings.manifest_path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(path)


def list_collections(settings: Settings | None = None) -> list[CollectionInfo]:
    """Every collection in the home (or on the server), with paper counts and last ingest."""
    from rag_papers.index.store import PaperStore

    settings = settings or Settings()
    names = PaperStore(settings).collection_names()
    out = []
    for name in names:
        one = for_collection(settings, name)
        store = PaperStore(one)
        model, _ = store.model_info()
        out.append(
            CollectionInfo(
                name=name,
                papers=store.count_papers(),
                chunks=store.count_chunks(),
                embedding_model=model,
                last_ingest=read_manifest(one).get("last_ingest"),
                current=name == settings.collection,
            )
        )
    return out


def require_collection(settings: Settings) -> None:
    """Refuse a named collection that does not exist, naming the ones that do: a mistyped
    `--collection` would otherwise read as an empty collection (0 papers, "ingest --sample
    first"). The default collection is left to the commands, as before collections."""
    from rag_papers.index.store import PaperStore

    if settings.collection == DEFAULT_COLLECTION:
        return
    store = PaperStore(settings)
    if store.exists():
        return
    names = store.collection_names()
    have = f"collections here: {', '.join(names)}" if names else "no collections here yet"
    raise IndexNotFoundError(
        f"no collection {settings.collection!r} in {store.location} ({have}) — pick one with "
        f"--collection (`rag-papers collections` lists them), or create it with "
        f"`rag-papers ingest PATH --collection {settings.collection}`"
    )


def paper_records(settings: Settings | None = None, search: str | None = None) -> list[Paper]:
    """The papers of the current collection, sorted by date then title; `search` keeps those
    whose title, authors or id contain the text (case and punctuation ignored)."""
    from rag_papers.index.store import PaperStore

    settings = settings or Settings()
    store = PaperStore(settings)
    if not store.exists():
        return []
    papers = [paper_from_metadata(m) for m in store.list_papers()]
    if search:
        needle = normalize_title(search)
        papers = [
            p
            for p in papers
            if needle in normalize_title(" ".join([p.title, *p.authors, p.paper_id]))
        ]
    papers.sort(key=lambda p: (p.published or p.date_text or "", p.title.lower()))
    return papers


def _resolve_ids(wanted: list[str], known: set[str]) -> tuple[list[str], list[str]]:
    """Paper ids as stored: "arxiv:2401.04081", "2401.04081" and arXiv URLs all name one."""
    found: list[str] = []
    missing: list[str] = []
    for raw in wanted:
        candidates = [raw]
        arxiv_id = clean_arxiv_id(raw)
        if arxiv_id:
            candidates.append(f"arxiv:{arxiv_id}")
        hit = next((c for c in candidates if c in known), None)
        if hit is None:
            missing.append(raw)
        elif hit not in found:
            found.append(hit)
    return found, missing


def remove_papers(paper_ids: list[str], settings: Settings | None = None) -> RemoveSummary:
    """Remove papers (all their chunks) from the collection, then its BM25 index.

    Order matters for a removal that is interrupted: the BM25 version is bumped first (every
    reader's keyword index is now stale and is rebuilt from the vectors), chunks are deleted
    per paper, the BM25 index is rebuilt and the manifest updated last. Ingesting the same
    file again adds the papers back as new.
    """
    from rag_papers.index.bm25 import mark_changed, rebuild_bm25
    from rag_papers.index.store import PaperStore

    settings = settings or Settings()
    if not paper_ids:
        raise InputError("no paper ids given — `rag-papers papers` lists them")
    store = PaperStore(settings)
    known = {str(m["paper_id"]) for m in store.list_papers()} if store.exists() else set()
    known |= set(store.paper_states()) if store.exists() else set()
    found, missing = _resolve_ids(list(paper_ids), known)
    summary = RemoveSummary(removed=found, not_found=missing)
    if not found:
        raise InputError(
            f"none of {', '.join(paper_ids)} is in collection {settings.collection!r} — "
            "`rag-papers papers --search TEXT` shows the ids"
        )
    with writer_lock(settings, "removal"):  # a removal is a writer too: one at a time with ingests
        mark_changed(store)
        for pid in found:
            store.delete_papers([pid])
        rebuild_bm25(store, settings, bump=True, load=False)
        update_manifest(
            settings,
            store=store.location,
            store_chunks=store.count_chunks(),
            last_removal={
                "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "papers": found,
            },
        )
    log.info(summary.line())
    return summary
