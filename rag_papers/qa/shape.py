"""The shape of a question, which decides how an extractive answer is composed: a list
("which papers", "compare", "how do X and Y differ"), a numeric question ("how many", "what
accuracy") or a lookup. A follow-up rewritten offline carries its context after ABOUT."""

from __future__ import annotations

import re

from rag_papers.qa.naming import BOTH_NAMED, quantity_terms

# A follow-up rewritten offline carries what it refers to as "(about: entity)"; those words
# say what the conversation is about, not what the user asked for.
ABOUT = "(about: "
_LIST = re.compile(
    r"\b(?:which|what)\s+(?:[\w'-]+\s+){0,5}?(?:papers|works|studies|methods|approaches|techniques"
    r"|objectives|models|systems|design choices|strategies|datasets|benchmarks)\b"
    r"(?!\s+(?:did|does|has|had)\s+it\b)"  # "what models did it produce": one paper's output
    # "Compare A and B" asks for several papers; "how does X compare with Y" for one paper's
    # comparison of X against Y
    r"|(?:^|[.;:?!]\s*)compare\b|\bcomparison\b|\bthe collection\b|\bpapers\b"
    # "how do X and Y differ", "what is the difference between ...": not "reusing the
    # difference between a base model and its chat version" inside a lookup
    r"|(?:^|[.;:?!]\s+)(?:how|in what ways?)\b[^?]*\bdiffer\b"
    r"|^what(?:'s| is| are) the (?:main |key )?differences?\b"
    # "SPDF and bert2BERT both …: how do their strategies compare / what does each propose?"
    r"|" + BOTH_NAMED,
    re.IGNORECASE,
)
_NUMERIC = re.compile(
    r"\bhow (?:many|much|large|big|fast|long|accurate|well)\b|\bwhat (?:share|fraction|percentage|proportion)\b",
    re.IGNORECASE,
)


def strip_context(question: str) -> str:
    i = question.rfind(ABOUT)
    return question[:i].rstrip() if i >= 0 else question


def question_shape(question: str) -> str:
    """'list' (several papers: which papers, compare, differ), 'numeric' or 'lookup'."""
    q = strip_context(question)
    if _LIST.search(q):
        return "list"
    if quantity_terms(q) or _NUMERIC.search(q):
        return "numeric"
    return "lookup"


__all__ = ["ABOUT", "question_shape", "strip_context"]
