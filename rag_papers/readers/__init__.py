"""Readers: paper collections in the formats people actually have -> deduplicated `Paper`s.

Supported: Hugging Face Papers listing text (what a browser's "save as text" gives), JSON
Lines, JSON (a list, ``{"papers": [...]}`` or an object keyed by arXiv id), CSV, saved
arXiv API Atom responses, and reference-manager exports: BibTeX, RIS, CSL-JSON and Zotero
CSV. `registry.READERS` is the table of formats (a new one is a module plus a line). Every reader returns a `ReadResult`; problems with single entries
become warnings that name the file and line (so a user can fix the file), problems with a
whole file raise `InputError`.

The same paper turns up in several listings and formats, wrapped and punctuated
differently, with or without an arXiv id, so everything goes through `dedupe`.
The live arXiv API is a provider: `rag_papers.providers.arxiv.fetch_arxiv`.
"""

from rag_papers.readers.atom import read_arxiv_atom
from rag_papers.readers.base import ReadResult, sample_corpus_dir
from rag_papers.readers.dedupe import dedupe
from rag_papers.readers.registry import (
    READERS,
    SUPPORTED_SUFFIXES,
    Reader,
    read_csv,
    read_json,
    read_jsonl,
    read_listing,
    read_paths,
)

__all__ = [
    "READERS",
    "Reader",
    "SUPPORTED_SUFFIXES",
    "ReadResult",
    "dedupe",
    "read_arxiv_atom",
    "read_csv",
    "read_json",
    "read_jsonl",
    "read_listing",
    "read_paths",
    "sample_corpus_dir",
]
