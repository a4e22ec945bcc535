"""The streamed BM25 build writes the index LlamaIndex's BM25Retriever would, page by page.

Chunks are the sample corpus's, chunked by ingest's real splitter (no embedding needed:
BM25 reads only text and metadata); the reference is `BM25Retriever.from_defaults` over
every node at once, persisted by the retriever itself.
"""

from __future__ import annotations

import gc
import json
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from llama_index.retrievers.bm25 import BM25Retriever

from rag_papers.index.bm25_build import Page, chunk_node, write_bm25
from rag_papers.index.ingest import chunk_papers
from rag_papers.readers import read_paths, sample_corpus_dir
from rag_papers.settings import Settings

QUERIES = [
    "mixture of denoisers",
    "retrieval augmented generation hallucination",
    "state space models long sequences",
    "instruction tuning with human feedback",
    "the",  # a stopword only: no token survives
    "zzzunknownword",
]


class _List(list[Any]):
    """A list that can be watched with a weak reference."""


@pytest.fixture(scope="module")
def chunks() -> list[tuple[str, str, dict[str, Any]]]:
    papers = read_paths([sample_corpus_dir()]).papers
    nodes = chunk_papers(papers, Settings())
    return [(n.id_, n.text, dict(n.metadata)) for n in nodes]


def pages(chunks: list[tuple[str, str, dict[str, Any]]], size: int) -> Iterator[Page]:
    for i in range(0, len(chunks), size):
        part = chunks[i : i + size]
        yield [c[0] for c in part], [c[1] for c in part], [c[2] for c in part]


def reference(chunks: list[tuple[str, str, dict[str, Any]]], folder: Path, top_k: int) -> None:
    nodes = [chunk_node(*c) for c in chunks]
    BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=top_k).persist(
        str(folder), show_progress=False
    )


def columns(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """token -> [(chunk, score)]: the index independent of how tokens are numbered."""
    vocab = json.loads((folder / "vocab.index.json").read_text())
    data = np.load(folder / "data.csc.index.npy")
    indices = np.load(folder / "indices.csc.index.npy")
    indptr = np.load(folder / "indptr.csc.index.npy")
    out = {}
    for token, i in vocab.items():
        if i + 1 < len(indptr):
            lo, hi = indptr[i], indptr[i + 1]
            out[token] = sorted(zip(indices[lo:hi].tolist(), data[lo:hi].tolist(), strict=True))
    return out


def test_the_streamed_index_is_the_one_bm25retriever_writes(
    chunks: list[tuple[str, str, dict[str, Any]]], tmp_path: Path
) -> None:
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    assert write_bm25(pages(chunks, 37), ours, top_k=40) == len(chunks)
    reference(chunks, theirs, top_k=40)

    assert sorted(p.name for p in ours.iterdir()) == sorted(p.name for p in theirs.iterdir())
    for name in ("corpus.jsonl", "corpus.mmindex.json", "retriever.json", "params.index.json"):
        mine, ref = (ours / name).read_bytes(), (theirs / name).read_bytes()
        if name == "params.index.json":  # the same but for key order nothing reads
            mine, ref = json.loads(mine), json.loads(ref)
        assert mine == ref, name
    assert (
        json.loads((ours / "vocab.index.json").read_text()).keys()
        == json.loads((theirs / "vocab.index.json").read_text()).keys()
    )
    assert columns(ours) == columns(theirs)

    a = BM25Retriever.from_persist_dir(str(ours))
    b = BM25Retriever.from_persist_dir(str(theirs))
    for query in QUERIES:
        got = [(n.node.node_id, n.score, n.node.metadata) for n in a.retrieve(query)]
        want = [(n.node.node_id, n.score, n.node.metadata) for n in b.retrieve(query)]
        assert got == want, query
        assert len(got) == 40


def test_pages_are_read_one_at_a_time_and_not_kept(
    chunks: list[tuple[str, str, dict[str, Any]]], tmp_path: Path
) -> None:
    watched: list[weakref.ref[_List]] = []
    kept_when_asked: list[int] = []

    def lazy_pages() -> Iterator[Page]:
        for ids, docs, metas in pages(chunks, 20):
            gc.collect()
            # Page k-1 may still be in the caller's loop variables; none before it may live.
            kept_when_asked.append(sum(r() is not None for r in watched[:-3]))
            page = (_List(ids), _List(docs), _List(metas))
            watched.extend(weakref.ref(p) for p in page)
            yield page

    assert write_bm25(lazy_pages(), tmp_path / "bm25", top_k=10) == len(chunks)
    assert len(kept_when_asked) == -(-len(chunks) // 20) > 5
    assert set(kept_when_asked) == {0}


def test_no_chunks_write_no_index(tmp_path: Path) -> None:
    assert write_bm25(iter([]), tmp_path / "bm25", top_k=10) == 0
    assert not (tmp_path / "bm25" / "retriever.json").exists()
