"""Papers -> chunks: the metadata every chunk carries and the token-aware splitting.

Chunk ids are `<paper_id>#<i>`; every chunk's embedded text starts with the paper's title,
and chunk 0 also carries the whole abstract (for quotes and display).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rag_papers.settings import Settings
from rag_papers.types import Paper

if TYPE_CHECKING:
    from llama_index.core.schema import BaseNode

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


def chunk_papers(papers: Sequence[Paper], settings: Settings) -> list[BaseNode]:
    """Split each abstract with a token-aware splitter; every chunk's embedded text has the title."""
    from llama_index.core import Document
    from llama_index.core.node_parser import SentenceSplitter

    splitter = SentenceSplitter(
        chunk_size=settings.chunk_tokens, chunk_overlap=settings.chunk_overlap
    )
    nodes: list[BaseNode] = []
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


def estimate_embedding_cost(papers: Sequence[Paper], settings: Settings) -> tuple[int, float]:
    """Tokens the embedding API would be sent for these papers, and their price in USD."""
    from llama_index.core.schema import MetadataMode

    from rag_papers.providers.names import openai_embed_model_name
    from rag_papers.providers.tokens import embed_tokens

    tokens = embed_tokens(n.get_content(MetadataMode.EMBED) for n in chunk_papers(papers, settings))
    price_in, _ = settings.prices.get(openai_embed_model_name(settings), (0.0, 0.0))
    return tokens, tokens * price_in / 1e6
