"""The keyword index: LlamaIndex's BM25 retriever over every chunk, persisted beside the store.

It is rebuilt from the store's own chunks after each ingest that changed anything, and its
folder records the store version it was built from (kept in the collection's metadata), so
a reader whose copy is stale (another process ingested, or an ingest died) rebuilds it
instead of searching an index that disagrees with the vectors.

It is derived data, so it is never trusted blindly: `version.json` also records how many
chunks it holds and the size of every file, and a copy that is missing a file, has a file
of another size, or does not load is rebuilt from the store (with one warning saying so).

Several processes may share a home folder (four `ask` at once, an ingest beside the page):
a rebuild writes a folder of its own and renames it into place while holding `bm25.lock`
exclusively; a reader holds the lock shared while it loads, so it never sees a half-swapped
folder, and a reader that finds the index stale waits for a rebuild already under way
instead of starting its own.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag_papers import _offline  # noqa: F401
from rag_papers.index.bm25_build import write_bm25
from rag_papers.index.locking import file_lock
from rag_papers.index.store import PaperStore
from rag_papers.settings import Settings

if TYPE_CHECKING:
    from llama_index.retrievers.bm25 import BM25Retriever

log = logging.getLogger(__name__)

VERSION_KEY = "bm25_version"
MARKER = "version.json"


class BM25Damaged(Exception):
    """The persisted keyword index is incomplete or unreadable (internal: it gets rebuilt)."""


def store_version(store: PaperStore, *, fresh: bool = False) -> str | None:
    """The store's BM25 version; `fresh` asks Chroma again instead of the cached collection."""
    return store.metadata(fresh=fresh).get(VERSION_KEY)


def _set_store_version(store: PaperStore, version: str) -> None:
    store.update_metadata(**{VERSION_KEY: version})


def mark_changed(store: PaperStore) -> None:
    """Called before a writer touches chunks: readers' BM25 copies become stale even if it dies."""
    _set_store_version(store, uuid.uuid4().hex)


def lock_path(settings: Settings) -> Path:
    return settings.bm25_dir.with_name(settings.bm25_dir.name + ".lock")


def _file_sizes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in sorted(folder.iterdir()) if p.name != MARKER}


def _read_marker(folder: Path) -> dict[str, Any]:
    """version.json, or BM25Damaged if it is missing fields or unreadable."""
    try:
        marker = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError) as exc:
        raise BM25Damaged(f"{MARKER}: {exc}") from exc
    if not isinstance(marker, dict) or not isinstance(marker.get("files"), dict):
        raise BM25Damaged(f"{MARKER} does not list the index files")
    return marker


def _load_checked(folder: Path, marker: dict[str, Any]) -> BM25Retriever:
    """Load the persisted retriever, or BM25Damaged if any file differs from what was written."""
    from llama_index.retrievers.bm25 import BM25Retriever

    try:
        sizes = _file_sizes(folder)
    except OSError as exc:
        raise BM25Damaged(str(exc)) from exc
    for name, size in marker["files"].items():
        if name not in sizes:
            raise BM25Damaged(f"{name} is missing")
        if sizes[name] != size:
            raise BM25Damaged(f"{name} has {sizes[name]} bytes, {size} were written")
    try:
        retriever = BM25Retriever.from_persist_dir(str(folder))
    except Exception as exc:  # numpy, json and bm25s raise many types for a damaged file
        raise BM25Damaged(f"{type(exc).__name__}: {exc}") from exc
    chunks = marker.get("chunks")
    corpus = retriever.corpus or []
    if len(corpus) != chunks or retriever.bm25.scores.get("num_docs") != chunks:
        raise BM25Damaged(f"it holds {len(corpus)} chunks, {chunks} were written")
    return retriever


def _swap_in(tmp: Path, target: Path) -> None:
    """Replace `target` by `tmp` (caller holds the lock exclusively); no reader sees the gap."""
    old = target.with_name(f"{target.name}.old-{uuid.uuid4().hex[:8]}")
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _clean_leftovers(target: Path) -> None:
    """Remove temporary folders of rebuilds that died (caller holds the lock exclusively)."""
    for path in target.parent.glob(f"{target.name}.*-*"):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)


def rebuild_bm25(
    store: PaperStore, settings: Settings, *, bump: bool = False, load: bool = True
) -> BM25Retriever | None:
    """Build the BM25 index from every chunk in the store and persist it; None if empty.

    A writer (ingest) passes bump=True to give the store a new version, which tells every
    reader its copy is stale; a reader rebuilding its own copy keeps the store's version,
    and if another process finished a rebuild for that version while this one waited for
    the lock, that rebuild is loaded instead of doing the work twice. With load=False (an
    ingest, which does not search) the index is written but not loaded: always None.
    """
    target = settings.bm25_dir
    with file_lock(lock_path(settings)):
        if not bump:
            current = store_version(store, fresh=True)
            if current is not None and target.is_dir():
                try:
                    marker = _read_marker(target)
                    if marker.get("version") == current:
                        return _load_checked(target, marker) if load else None
                except BM25Damaged:
                    pass
        written = _rebuild_locked(store, settings, bump=bump)
        return _load_checked(target, written) if load and written is not None else None


def _rebuild_locked(store: PaperStore, settings: Settings, *, bump: bool) -> dict[str, Any] | None:
    """Write the index from the store's chunks, page by page, and swap it in; its marker."""
    target = settings.bm25_dir
    _clean_leftovers(target)
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    # The version is read before the chunks: a writer elsewhere (another home on the same
    # Chroma server) that changes chunks during the build changes it after this read, so
    # the copy is labelled stale, never current with the chunks it missed.
    seen = None if bump else store_version(store, fresh=True)
    try:
        chunks = write_bm25(store.iter_chunks(), tmp, top_k=settings.candidates)
        if not chunks:
            if target.exists():
                old = target.with_name(f"{target.name}.old-{uuid.uuid4().hex[:8]}")
                target.rename(old)
                shutil.rmtree(old, ignore_errors=True)
            return None
        version = seen
        if version is None:
            version = uuid.uuid4().hex
            _set_store_version(store, version)
        marker = {"version": version, "chunks": chunks, "files": _file_sizes(tmp)}
        (tmp / MARKER).write_text(json.dumps(marker))
        _swap_in(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("BM25 index rebuilt over %d chunks", chunks)
    return marker


def load_bm25(store: PaperStore, settings: Settings) -> BM25Retriever | None:
    """The persisted BM25 retriever if it matches the store and is whole, else a fresh rebuild.

    A damaged copy (a file deleted, emptied or cut) is rebuilt from the store with one
    warning; a stale one (the store changed since) is rebuilt quietly, as a matter of course.
    """
    target = settings.bm25_dir
    with file_lock(lock_path(settings), shared=True):
        if target.is_dir():
            try:
                marker = _read_marker(target)
                if marker.get("version") == store_version(store):
                    return _load_checked(target, marker)
                # In one home a writer rebuilds the home's copy itself; a stale copy means an
                # ingest died, or (with a Chroma server) another machine wrote: say so then.
                (log.warning if settings.chroma_host else log.info)(
                    "the keyword (BM25) index in %s is out of step with the store (another "
                    "writer changed it since); rebuilding it from the store",
                    target,
                )
            except BM25Damaged as exc:
                log.warning(
                    "the keyword (BM25) index in %s was damaged (%s); rebuilding it from the store",
                    target,
                    exc,
                )
    return rebuild_bm25(store, settings)


def ensure_bm25(store: PaperStore, settings: Settings) -> None:
    """Check the persisted index (an ingest that changed nothing) and rebuild it if damaged."""
    load_bm25(store, settings)
