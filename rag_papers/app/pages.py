"""The page's collections and answer downloads, as plain objects (no Gradio, no server).

Every collection in the home gets its own PageHandlers (its own Pipeline, store and keyword
index), made the first time a visitor picks it; the collection the page was started with is
built at start. A visitor can only pick a collection that exists: the page never creates one.
Downloads turn a visitor's last answer into the same Markdown and BibTeX that
`rag-papers ask --format` prints.
"""

from __future__ import annotations

import logging
import re
import tempfile
import threading
from pathlib import Path

from rag_papers.app.export import format_answer
from rag_papers.app.handlers import ChatSession, PageHandlers
from rag_papers.errors import QuestionError
from rag_papers.index.library import for_collection, list_collections
from rag_papers.qa.pipeline import Pipeline

log = logging.getLogger(__name__)

DOWNLOADS = {"markdown": "md", "bibtex": "bib"}


class Collections:
    """One PageHandlers per collection name, shared by every visitor who picks it."""

    def __init__(self, first: PageHandlers) -> None:
        self.default = first.settings.collection
        self._pages = {self.default: first}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        """The collections a visitor may pick: those in the store, and the page's own."""
        try:
            found = [info.name for info in list_collections(self._pages[self.default].settings)]
        except Exception:  # a damaged or unreachable store still serves its own page
            log.exception("listing the collections failed")
            found = []
        return sorted(set(found) | {self.default})

    def get(self, name: str | None) -> PageHandlers:
        """The handlers of a collection; an unknown name is refused, never created."""
        name = name or self.default
        with self._lock:
            if name in self._pages:
                return self._pages[name]
        if name not in self.names():
            raise QuestionError(
                f"there is no collection named {name!r} — pick one of: {', '.join(self.names())}"
            )
        with self._lock:
            if name not in self._pages:
                base = self._pages[self.default]
                self._pages[name] = PageHandlers(Pipeline(for_collection(base.settings, name)))
            return self._pages[name]

    def session_for(self, page: PageHandlers, session: ChatSession | None) -> ChatSession:
        """The visitor's conversation if it belongs to this collection; else a fresh one
        (a conversation never continues across collections: its follow-ups would mislead)."""
        if isinstance(session, ChatSession) and session.assistant.pipeline is page.pipeline:
            return session
        return page.new_session()


def answer_download(
    session: ChatSession | None, fmt: str, folder: Path | None = None
) -> Path | None:
    """The visitor's last answer as a file to download (markdown or bibtex), or None before one."""
    if fmt not in DOWNLOADS:
        raise ValueError(f"unknown download format {fmt!r} (one of {', '.join(DOWNLOADS)})")
    turns = session.turns if isinstance(session, ChatSession) else []
    answer = next((t.answer for t in reversed(turns) if t.answer is not None), None)
    if answer is None:
        return None
    stem = re.sub(r"[^a-z0-9]+", "-", answer.question.lower()).strip("-")[:48] or "answer"
    where = Path(folder or tempfile.mkdtemp(prefix="rag-papers-answer-"))
    path = where / f"{stem}.{DOWNLOADS[fmt]}"
    path.write_text(format_answer(answer, fmt), encoding="utf-8")
    return path
