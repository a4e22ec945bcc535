"""Write the keyword (BM25) index from pages of chunks, never holding every chunk at once.

The folder holds exactly what LlamaIndex's `BM25Retriever.persist` writes for the same
nodes (corpus.jsonl and its line index, bm25s's arrays, vocabulary and parameters, and
retriever.json), so `BM25Retriever.from_persist_dir` loads it and scores every query the
same. What differs is how it is made: `BM25Retriever.from_defaults(nodes=...)` needs every
node and its text in memory at once, and bm25s's tokenizer a list of every text. Here each
page of chunks becomes nodes, its corpus lines are appended to corpus.jsonl, its texts are
tokenised by bm25s (same tokenizer, stopwords and stemmer as the retriever) and only the
token ids are kept, 4 bytes a token; bm25s builds its index from those ids at the end
(with scipy's CSC builder where scipy is installed: same scores, half the transient memory).

Token ids are numbered in order of first appearance instead of bm25s's set order (which
changes from process to process anyway); scores do not depend on the numbering.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rag_papers import _offline  # noqa: F401

# What BM25Retriever uses when given nodes (llama_index.retrievers.bm25), so that the index
# built here and one built by BM25Retriever(nodes=...) are the same index.
LANGUAGE = "en"
STEMMER = "english"
TOKEN_PATTERN = r"(?u)\b\w\w+\b"
CORPUS_FILE = "corpus.jsonl"
RETRIEVER_FILE = "retriever.json"  # llama_index.retrievers.bm25's DEFAULT_PERSIST_FILENAME
# Only what filters and grouping need; the abstract is fetched from the store later.
KEPT_METADATA = ("paper_id", "title", "year", "published_ord", "chunk_index")

Page = tuple[Sequence[str], Sequence[str], Sequence[Mapping[str, Any]]]


def chunk_node(chunk_id: str, document: str, meta: Mapping[str, Any]) -> Any:
    """The LlamaIndex node BM25 indexes for one stored chunk: title and chunk text."""
    from llama_index.core.schema import TextNode

    keep = {k: meta.get(k) for k in KEPT_METADATA}
    return TextNode(
        id_=chunk_id,
        text=f"{meta.get('title', '')}\n\n{document}",
        metadata=keep,
        excluded_embed_metadata_keys=list(keep),
        excluded_llm_metadata_keys=list(keep),
    )


class _TokenIds:
    """Every chunk's token ids (int32 arrays) and one vocabulary across pages."""

    def __init__(self) -> None:
        import bm25s
        import Stemmer

        self._tokenize = bm25s.tokenize
        self._stemmer = Stemmer.Stemmer(STEMMER)
        self.vocab: dict[str, int] = {}
        self.docs: list[array[int]] = []

    def add(self, texts: list[str]) -> None:
        page = self._tokenize(
            texts,
            stopwords=LANGUAGE,
            stemmer=self._stemmer,
            token_pattern=TOKEN_PATTERN,
            show_progress=False,
        )
        remap = [0] * len(page.vocab)
        for token, local in page.vocab.items():
            remap[local] = self.vocab.setdefault(token, len(self.vocab))
        self.docs.extend(array("i", [remap[t] for t in doc]) for doc in page.ids)


def write_bm25(pages: Iterable[Page], folder: Path, *, top_k: int) -> int:
    """Write the BM25 index of every chunk in `pages` (ids, documents, metadata) to `folder`.

    Returns the number of chunks indexed; with none, nothing usable is written (the caller
    removes the folder). `top_k` is the retriever's default number of results.
    """
    import bm25s
    from bm25s.tokenization import Tokenized
    from bm25s.utils import corpus as corpus_files
    from bm25s.utils import json_functions
    from llama_index.core.schema import MetadataMode
    from llama_index.core.vector_stores.utils import node_to_metadata_dict

    folder.mkdir(parents=True, exist_ok=True)
    corpus_path = folder / CORPUS_FILE
    tokens = _TokenIds()
    with corpus_path.open("w", encoding="utf-8") as out:
        for ids, docs, metas in pages:
            nodes = [chunk_node(c, d, m) for c, d, m in zip(ids, docs, metas, strict=False)]
            for node in nodes:
                entry = node_to_metadata_dict(node) | {"node_id": node.node_id}
                out.write(json_functions.dumps(entry, ensure_ascii=False) + "\n")
            tokens.add([n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes])
            del nodes
    count = len(tokens.docs)
    if not count:
        return 0
    # bm25s's numpy CSC builder sorts int64 copies of every (chunk, token) pair: about twice
    # the transient memory of scipy's (same arrays, but indptr as int32), used when present.
    bm25 = bm25s.BM25(csc_backend="auto")
    bm25.index(Tokenized(ids=tokens.docs, vocab=tokens.vocab), show_progress=False)
    del tokens
    bm25.save(str(folder), show_progress=False)  # arrays, vocabulary, parameters; no corpus
    lines = corpus_files.find_newline_positions(corpus_path, show_progress=False)
    corpus_files.save_mmindex(lines, path=corpus_path)
    # What BM25Retriever.persist adds (its get_persist_args); it lowers top_k to the count.
    args = {"similarity_top_k": min(top_k, count), "verbose": False, "corpus_weight_mask": None}
    (folder / RETRIEVER_FILE).write_text(json.dumps(args, indent=2), encoding="utf-8")
    return count
