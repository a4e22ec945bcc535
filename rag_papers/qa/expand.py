"""Papers a comparison names that one search missed.

"Compare how Medusa and EAGLE speed up decoding" retrieves Medusa's paper and papers that
cite Medusa; EAGLE's own paper ranks below the cut. Each name of a list question that no
retrieved title carries gets a search of its own (the name alone: the rest of the question
pulls back to the first name's neighbours), and the first paper found whose title carries
the name, or whose abstract brings it ("a training-free method called TGATE"), joins the
contexts, after them. A common word written in capitals as a name
("M3I and POINTS both …") is searched too, and its title must write it so.
"""

from __future__ import annotations

from collections.abc import Callable

from rag_papers.qa.evidence import content_terms
from rag_papers.qa.mentions import declares
from rag_papers.qa.naming import in_title, shouted_names
from rag_papers.types import RetrievedPaper

NAME_SEARCH_K = 5  # papers each name's own search looks at
SHOUTED_SEARCH_K = 10  # ... and a common word written in capitals (POINTS), searched in its clause


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
    shouted = shouted_names(question, names)
    for word, term in {**names, **shouted}.items():

        def carries(paper: RetrievedPaper, word: str = word, term: str = term) -> bool:
            if word in shouted:  # POINTS as the title writes it, not every "points"
                return in_title(word, term, paper.title)
            # or brought by name in the abstract: "a training-free method called TGATE"
            return titled(paper, term) or declares(word, paper.abstract)

        if any(carries(p) for p in out):
            continue
        # a common word alone finds its meaning, not the paper: search the clause it opens
        query = question[question.index(word) :].split(";")[0] if word in shouted else word
        for paper in search(query, SHOUTED_SEARCH_K if word in shouted else NAME_SEARCH_K):
            if paper.paper_id not in have and carries(paper):
                out.append(paper)
                have.add(paper.paper_id)
                break
    return out


__all__ = ["NAME_SEARCH_K", "add_named_papers"]
