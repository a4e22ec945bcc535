"""Writer-lock records in a Chroma server: the Chroma calls of `locking.ServerLock`.

With store.py, the only module that imports chromadb. A lock is an empty collection named
`rag-papers-lock.<collection>` whose metadata says who holds it. Chroma has no
compare-and-swap on records (an `add` of an id that exists is silently ignored), but its
server refuses to create a collection whose name exists (its catalogue has a unique
constraint on the name), so creating that collection is the one atomic step: of writers
creating it at once, exactly one succeeds. Everything after that works on the lock's
collection id, never its name, so a writer can only change or remove the lock it looked
at, never one that another writer created since: a lock is removed by renaming its id to
a name of the remover's own (a tombstone) and deleting that name.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

LOCK_PREFIX = "rag-papers-lock."

Meta = dict[str, str | int | float | bool]


class ChromaStore(Protocol):
    """What the lock needs of a store: its Chroma client (`index.store.PaperStore` has it;
    naming the protocol, not the class, keeps store.py and this module out of a circle)."""

    @property
    def client(self) -> ClientAPI: ...


@dataclass(frozen=True)
class LockRecord:
    """A lock as read from the server: its collection (addressed by id) and holder's metadata."""

    handle: Collection
    meta: Meta

    @property
    def id(self) -> str:
        return str(self.handle.id)


def lock_name(collection: str) -> str:
    """The lock collection's name for a paper collection (kept within Chroma's 512 chars)."""
    if len(collection) > 400:
        collection = hashlib.sha1(collection.encode()).hexdigest()
    return LOCK_PREFIX + collection


def is_lock(name: str) -> bool:
    """Whether a collection name is a lock (or a tombstone of one), not a paper collection."""
    return name.startswith(LOCK_PREFIX)


def create(store: ChromaStore, name: str, meta: Meta) -> LockRecord | None:
    """Create the lock; None if it exists already (another writer holds it)."""
    try:
        made = store.client.create_collection(name, metadata=meta, embedding_function=None)
    except Exception:  # chromadb reports an existing name as a bare ChromaError
        if read(store, name) is not None:
            return None
        raise  # not the name: the server failed (unreachable, refused the write)
    return LockRecord(made, dict(made.metadata or meta))


def read(store: ChromaStore, name: str) -> LockRecord | None:
    """The lock as it is now on the server; None if nobody holds it."""
    from chromadb.errors import NotFoundError

    try:
        got = store.client.get_collection(name, embedding_function=None)
    except NotFoundError:
        return None
    return LockRecord(got, dict(got.metadata or {}))


def renew(store: ChromaStore, name: str, mine: LockRecord, meta: Meta) -> bool:
    """Write new metadata (a heartbeat) on our lock; False if the lock is no longer ours."""
    from chromadb.errors import NotFoundError

    now = read(store, name)
    if now is None or now.id != mine.id:
        return False
    try:  # by id: if our lock was removed since the read, this fails or changes a tombstone
        mine.handle.modify(metadata=meta)
    except NotFoundError:
        return False
    return True


def remove(store: ChromaStore, record: LockRecord) -> None:
    """Remove exactly this lock (by its id); nothing happens if it is gone already."""
    from chromadb.errors import NotFoundError

    tombstone = f"{LOCK_PREFIX}gone-{uuid.uuid4().hex}"
    try:
        record.handle.modify(name=tombstone)
    except NotFoundError:
        return  # removed already (by its holder, or by a writer that took it over)
    with contextlib.suppress(NotFoundError):
        store.client.delete_collection(tombstone)
