"""Prompting: abstracts packed as numbered sources within a token budget, and the messages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag_papers.providers.tokens import encoding, estimate_usage
from rag_papers.qa import templates
from rag_papers.qa.citations import CANNOT_ANSWER
from rag_papers.sanitize import escape_prompt_text

if TYPE_CHECKING:
    from rag_papers.types import RetrievedPaper


def pack_sources(contexts: list[RetrievedPaper], budget: int, model: str) -> str:
    """Numbered, delimited sources within a token budget; lower-ranked abstracts are cut first."""
    enc = encoding(model)
    blocks = []
    used = 0
    for n, paper in enumerate(contexts, start=1):
        date = paper.published or paper.date_text or "date unknown"
        # Every field is escaped: no title, date or abstract can open or close a source block.
        title = escape_prompt_text(paper.title, one_line=True)
        head = f'<source id="{n}">\n[{n}] {title} ({escape_prompt_text(date, one_line=True)})\n'
        body = escape_prompt_text(paper.abstract)
        tail = "\n</source>"
        cost = len(enc.encode(head + tail))
        room = budget - used - cost
        if room <= 20:
            break
        tokens = enc.encode(body)
        if len(tokens) > room:
            body = enc.decode(tokens[:room]) + " …"
        blocks.append(head + body + tail)
        used += cost + min(len(tokens), room)
    return "\n\n".join(blocks)


def build_messages(
    question: str,
    contexts: list[RetrievedPaper],
    *,
    history: str = "",
    budget: int,
    model: str,
) -> list[dict[str, str]]:
    """The system and user messages that ask the model to answer from numbered sources."""
    system = templates.render("answer_system", cannot_answer=CANNOT_ANSWER)
    user = templates.render(
        "answer_user",
        history=f"Conversation so far:\n{history}\n\n" if history else "",
        sources=pack_sources(contexts, budget, model),
        question=question,
        cannot_answer=CANNOT_ANSWER,
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


__all__ = ["build_messages", "encoding", "estimate_usage", "pack_sources"]
