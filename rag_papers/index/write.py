"""Papers to (re-)embed -> chunks -> vectors -> the store, a slice at a time.

`SliceWriter` takes the papers an ingest decided to embed one by one and writes them in
slices of `write_group_size` papers: a slice is chunked, embedded and written before the
next is gathered, so memory does not grow with the collection and the first papers are
searchable (dense) while the rest are still being read and embedded. The embedding model
is loaded, and the store marked changed, only when the first slice is written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rag_papers.index.chunks import chunk_papers
from rag_papers.settings import Settings
from rag_papers.types import Paper, ProgressCallback

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

    from rag_papers.index.store import PaperStore

WRITE_GROUP_BATCHES = 8


def write_group_size(settings: Settings) -> int:
    """Chunks embedded and written to the store together: 8 model batches.

    Big enough that sorting by length within it removes most padding, small enough that a
    crash loses little work (the store keeps every group written before it).
    """
    return max(settings.embed_batch_size, 1) * WRITE_GROUP_BATCHES


class SliceWriter:
    """Writes the papers `add`ed, a slice at a time; `close` writes the last slice.

    A changed paper's old chunks are deleted in the batch that writes its first new chunk,
    not all up front: if the run dies, papers it had not reached keep their old version
    searchable, and the next run sees their hash differ and redoes them. The chunk total
    shown in progress is an estimate (chunks per paper so far, times the papers that may
    still come: `left()`) until the last slice is written.
    """

    def __init__(
        self,
        store: PaperStore,
        settings: Settings,
        report: ProgressCallback,
        load_model: Callable[[], BaseEmbedding],
        left: Callable[[], int],
    ) -> None:
        self.store = store
        self.settings = settings
        self.report = report
        self.load_model = load_model
        self.left = left
        self.group = write_group_size(settings)
        self.batch = max(settings.embed_batch_size, 1)
        self.model: BaseEmbedding | None = None
        self.vector_store: Any = None
        self.slice: list[Paper] = []
        self.stale: set[str] = set()
        self.papers = 0  # papers written
        self.chunked = 0
        self.done = 0  # chunks embedded and written

    def add(self, paper: Paper, stale: bool) -> None:
        """Embed `paper` (in its turn); `stale`: the store holds an older version of it."""
        self.slice.append(paper)
        if stale:
            self.stale.add(paper.paper_id)
        if len(self.slice) >= self.group:
            self._write()

    def close(self) -> int:
        """Write what is left; returns how many chunks were written in all."""
        if self.slice:
            self._write()
        if self.done:
            self.report("embedding chunks", self.done, self.done)
        return self.done

    def _write(self) -> None:
        from llama_index.core.schema import MetadataMode

        from rag_papers.index.store import release_freed_memory

        if self.model is None:
            self.model = self.load_model()
            self.vector_store = self.store.vector_store()
            self.report("chunking abstracts", 0, None)
        papers, self.slice = self.slice, []
        nodes = chunk_papers(papers, self.settings)
        self.papers += len(papers)
        self.chunked += len(nodes)
        total = self.chunked + round(self.left() * self.chunked / self.papers)
        group = self.group
        # the count shows before the first batch (minutes on a busy machine), not after it
        self.report("embedding chunks", self.done, max(total, self.done))
        for i in range(0, len(nodes), group):
            part = nodes[i : i + group]
            texts = [n.get_content(MetadataMode.EMBED) for n in part]
            # Longest first, as sentence-transformers does within one call: each model batch
            # then holds texts of similar length and pads little (unsorted 64-text batches
            # did ~30% more work than the bare model on the sample corpus).
            order = sorted(range(len(part)), key=lambda j: -len(texts[j]))
            for b in range(0, len(order), self.batch):  # one model batch at a time, reported
                some = order[b : b + self.batch]
                vectors = self.model.get_text_embedding_batch([texts[j] for j in some])
                for j, vec in zip(some, vectors, strict=False):
                    part[j].embedding = vec
                self.done += len(some)
                self.report("embedding chunks", self.done, max(total, self.done))
            replaced = sorted({n.metadata["paper_id"] for n in part} & self.stale)
            if replaced:
                self.store.delete_papers(replaced)
                self.stale.difference_update(replaced)
            self.vector_store.add(part)
        release_freed_memory()
