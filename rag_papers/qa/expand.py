"""Papers a comparison names that one search missed.

"Compare how Medusa and EAGLE speed up decoding" retrieves Medusa's paper and papers that
cite Medusa; EAGLE's own paper ranks below the cut. Each name of a list question that no
retrieved title carries gets a search of its own (the name alone: the rest of the question
pulls back to the first name's neighbours), and the first paper found whose title carries
the name joins the contexts, after them.
"""

from __future__ import annotations

from collections.abc import Callable

from rag_papers.qa.evidence import content_terms
from rag_papers.types import RetrievedPaper

NAME_SEARCH_K = 5  # papers each name's own search looks at


def titled(paper: RetrievedPaper, term: str) -> bool:
    """Does the paper's title carry the stemmed term?"""
    return term in content_terms(paper.title)


def add_named_papers(
    question: str,
    contexts: list[RetrievedPaper],
    names: dict[str, str],
    search: Callable[[str, int], list[RetrievedPaper]],
) -> list[RetrievedPaper]:
    """`contexts` plus, for each name (word -> stemmed term) no retrieved title carries, the
    best paper of a search for it whose title does. `search(query, k)` retrieves."""
    out = list(contexts)
    have = {p.paper_id for p in out}
    for word, term in names.items():
        if any(titled(p, term) for p in out):
            continue
        for paper in search(word, NAME_SEARCH_K):
            if paper.paper_id not in have and titled(paper, term):
                out.append(paper)
                have.add(paper.paper_id)
                break
    return out


__all__ = ["NAME_SEARCH_K", "add_named_papers"]
