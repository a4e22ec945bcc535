"""What the chat page does when it is used, as plain methods: no Gradio, no server.

ui.py lays the page out and wires each event to one of these methods; tests call them
directly. Every failure becomes a message for the reader (and a log line without a
traceback when the cause is the reader's or the data's, with one when it is a bug).
"""

from __future__ import annotations

import html
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rag_papers.app import render
from rag_papers.app.catalog import ANY_YEAR, Catalog, YearChoice, parse_year, table
from rag_papers.errors import IndexNotFoundError, InputError, QuestionError, RagPapersError
from rag_papers.filters import Filters
from rag_papers.index.ingest import IngestSummary, ingest
from rag_papers.qa.chat import Assistant
from rag_papers.qa.pipeline import Pipeline
from rag_papers.qa.retrieve import Retriever
from rag_papers.readers import SUPPORTED_SUFFIXES
from rag_papers.sanitize import redact
from rag_papers.settings import Settings
from rag_papers.types import Answer, ProgressCallback

IngestFn = Callable[..., IngestSummary]  # what index.ingest.ingest is


class NamedFile(Protocol):
    """An uploaded file as Gradio may hand it over: an object whose .name is its path."""

    @property
    def name(self) -> str: ...


log = logging.getLogger(__name__)

STREAM_EVERY = 0.08  # seconds between streamed updates of the answer being written
MAX_K = 20
UPLOAD_DIR = "uploads"
SAMPLE_REFUSED = (
    "The index already holds papers; the bundled sample is only added to an empty index."
)
Message = dict[str, str]
ChatOutputs = tuple[list[Message], str, "ChatSession", str | None]


@dataclass
class ChatSession:
    """One visitor's conversation: the Assistant (history for follow-ups) and what the page shows."""

    assistant: Assistant
    messages: list[Message] = field(default_factory=list)
    turns: list[render.Turn] = field(default_factory=list)
    busy: bool = False  # a question is being answered; a second one (double click) is ignored
    # Messages of questions asked before anything was indexed: dropped once papers are indexed.
    before_index: list[Message] = field(default_factory=list)

    def clear(self) -> None:
        self.assistant.reset()
        self.messages.clear()
        self.turns.clear()
        self.before_index.clear()


@dataclass
class Overview:
    """Everything on the page that depends on what is indexed (refreshed after an ingest)."""

    status: str
    empty: bool
    examples: list[str]
    years: list[str]
    table: dict[str, Any]
    count: str
    stats: str


@dataclass
class Browse:
    """The Collection tab after a search: rows, the count line, and the detail card."""

    table: dict[str, Any]
    count: str
    card: str
    selected: str


def log_failure(settings: Settings, what: str, exc: BaseException) -> None:
    """One redacted line at the operator's RAG_PAPERS_UI_ERROR_LOG_LEVEL; the traceback at debug."""
    level = logging.getLevelName(settings.ui_error_log_level.upper())
    log.log(level, "%s failed: %s: %s", what, type(exc).__name__, redact(str(exc)))
    log.debug("%s failed", what, exc_info=exc)


def store_retriever(pipeline: Pipeline) -> Retriever:
    """The pipeline's retriever as the front ends use it: over a PaperStore they list, warm up
    and reload (a Pipeline may hold any PaperRetriever; the page and the repl need this one)."""
    retriever = pipeline.retriever
    if not isinstance(retriever, Retriever):
        raise TypeError(f"the page and the repl need a Retriever, not {type(retriever).__name__}")
    return retriever


def _safe(fn: Callable[[], Any], default: Any) -> Any:
    """The collection as far as it can be read: a broken store shows as empty, with a log entry."""
    try:
        return fn()
    except Exception:
        log.exception("reading the collection failed")
        return default


def options(
    k: float | str | None,
    year_from: YearChoice,
    year_to: YearChoice,
    mode: str | None,
    include_undated: bool | None = False,
) -> dict[str, Any]:
    """The page's settings as Assistant.stream arguments (bad values raise QuestionError)."""
    try:
        k_int = None if k is None or k == "" else int(float(k))
    except (TypeError, ValueError):
        raise QuestionError(f"number of papers {k!r} is not a number") from None
    lo, hi = parse_year(year_from), parse_year(year_to)
    if lo and hi and lo > hi:
        lo, hi = hi, lo
    filters = (
        Filters(year_from=lo, year_to=hi, include_undated=bool(include_undated))
        if (lo or hi)
        else None
    )
    return {"k": k_int, "filters": filters, "mode": mode or None}


class PageHandlers:
    """The page's behaviour over one shared Pipeline (each visitor has a ChatSession)."""

    def __init__(self, pipeline: Pipeline, *, ingest: IngestFn = ingest) -> None:
        self.pipeline = pipeline
        self.ingest = ingest  # index.ingest.ingest; a test passes a small corpus's stand-in
        self.settings = pipeline.settings
        self.retriever = store_retriever(pipeline)
        self.catalog = Catalog(self.retriever.store)
        self.ingest_lock = threading.Lock()
        self.llm_available = pipeline.resolve_mode("auto") == "llm"
        self.default_mode = pipeline.resolve_mode(None)

    # -- the conversation ---------------------------------------------------------------
    def new_session(self) -> ChatSession:
        return ChatSession(Assistant(pipeline=self.pipeline))

    def session(self, value: ChatSession | None) -> ChatSession:
        return value if isinstance(value, ChatSession) else self.new_session()

    def ask(
        self,
        question: str | None,
        k: float | str | None = None,
        year_from: YearChoice = ANY_YEAR,
        year_to: YearChoice = ANY_YEAR,
        mode: str | None = None,
        include_undated: bool | None = False,
        session: ChatSession | None = None,
    ) -> Iterator[ChatOutputs]:
        """Answer one question: the pending message, the streamed draft, the checked answer."""
        chat = self.session(session)
        if chat.busy:
            yield self.chat_view(chat, question)
            return
        chat.busy = True
        try:
            yield from self._answer(
                question, options(k, year_from, year_to, mode, include_undated), chat
            )
        except QuestionError as exc:  # bad settings (k, years) before anything was asked
            chat.messages.append(
                {"role": "assistant", "content": render.error_markdown(render.friendly_error(exc))}
            )
            yield self.chat_view(chat)
        finally:
            chat.busy = False

    def _answer(
        self, question: Any, opts: dict[str, Any], chat: ChatSession
    ) -> Iterator[ChatOutputs]:
        text = question if isinstance(question, str) else ("" if question is None else question)
        shown = " ".join(text.split()) if isinstance(text, str) else str(text)
        turn = render.Turn(len(chat.turns) + 1, shown)
        asked = {"role": "user", "content": render.user_markdown(shown)}
        if shown:
            chat.messages.append(asked)
        reply = {"role": "assistant", "content": render.PENDING}
        chat.messages.append(reply)
        yield self.chat_view(chat)
        try:
            parts: list[str] = []
            last = time.monotonic()
            for item in chat.assistant.stream(text, **opts):
                if isinstance(item, Answer):
                    turn.answer = item
                    reply["content"] = render.answer_markdown(item, turn.number)
                    chat.turns.append(turn)
                else:
                    parts.append(item)
                    if time.monotonic() - last >= STREAM_EVERY:
                        last = time.monotonic()
                        reply["content"] = render.draft_markdown("".join(parts))
                        yield self.chat_view(chat)
        except (QuestionError, IndexNotFoundError) as exc:  # the reader's or the store's state
            log.info("not answered: %s", exc)  # a line, no traceback: nothing is broken
            reply["content"] = render.error_markdown(render.friendly_error(exc))
            if isinstance(exc, IndexNotFoundError):
                chat.before_index += [asked, reply] if shown else [reply]
        except (
            Exception
        ) as exc:  # the LLM, the config or a bug: a short message, the log the detail
            log_failure(self.settings, f"answering {shown[:200]!r}", exc)
            reply["content"] = render.error_markdown(render.friendly_error(exc))
        yield self.chat_view(chat)

    def chat_view(self, chat: ChatSession, box: str | None = "") -> ChatOutputs:
        return list(chat.messages), render.references_html(chat.turns), chat, box

    def new_chat(self, session: ChatSession | None = None) -> ChatOutputs:
        chat = self.session(session)
        chat.clear()
        return self.chat_view(chat)

    def forget_unindexed(self, session: ChatSession | None = None) -> ChatOutputs:
        """After an ingest: drop the "No papers are indexed yet" exchanges from the conversation."""
        chat = self.session(session)
        if chat.before_index and self.catalog.papers():
            gone = {id(m) for m in chat.before_index}
            chat.messages[:] = [m for m in chat.messages if id(m) not in gone]
            chat.before_index.clear()
        return self.chat_view(chat)

    # -- the collection -----------------------------------------------------------------
    def status_line(self) -> str:
        n = len(_safe(self.catalog.papers, []))
        how = (
            f"answers written by {self.settings.llm_model}"
            if self.default_mode == "llm"
            else "extractive answers (quoted from the abstracts, no LLM configured)"
        )
        return f'<div class="status-line">{n} papers indexed · {html.escape(how)}</div>'

    def years(self) -> list[str]:
        return [ANY_YEAR] + [str(y) for y in _safe(self.catalog.years, [])]

    def browse(
        self,
        query: str = "",
        year_from: YearChoice = ANY_YEAR,
        year_to: YearChoice = ANY_YEAR,
        include_undated: bool | None = False,
        selected: str = "",
    ) -> Browse:
        """Search the collection; the detail card keeps a paper only while it is still listed."""
        try:
            found = self.catalog.search(
                query, year_from, year_to, include_undated=bool(include_undated)
            )
        except RagPapersError as exc:
            return Browse(table([]), render.error_markdown(str(exc)), render.paper_html(None), "")
        total = len(self.catalog.papers())
        listed = {str(m.get("title", "")) for m in found.papers}
        keep = selected if selected in listed else ""
        card = render.paper_html(self.catalog.find(keep) if keep else None)
        count = render.count_html(len(found.papers), total, found.undated_excluded)
        return Browse(table(found.papers), count, card, keep)

    def show_paper(self, title: str) -> tuple[str, str]:
        meta = self.catalog.find(title) if title else None
        return render.paper_html(meta), (title if meta else "")

    def stats(self) -> str:
        try:
            from rag_papers.index.stats import collection_stats

            return render.stats_html(collection_stats(self.settings))
        except Exception:
            log.exception("collection_stats failed")
            return render.error_markdown(
                "Index statistics are unavailable; the server log has the details."
            )

    def overview(self) -> Overview:
        papers = _safe(self.catalog.papers, [])
        return Overview(
            status=self.status_line(),
            empty=not papers,
            examples=self.catalog.examples() if papers else [],
            years=self.years(),
            table=table(papers),
            count=render.count_html(len(papers), len(papers), 0),
            stats=self.stats(),
        )

    # -- indexing -----------------------------------------------------------------------
    def index_sample(self, progress: ProgressCallback | None = None) -> str:
        """Index the bundled sample, into an empty index only (the button shows only then, and a
        direct API call meets the same rule)."""
        if self.retriever.store.count_chunks():
            return SAMPLE_REFUSED
        return self._ingest(
            lambda ingest, report: ingest(sample=True, settings=self.settings, progress=report),
            progress,
        )

    def upload(
        self, files: Sequence[str | NamedFile] | None, progress: ProgressCallback | None = None
    ) -> str:
        """Add uploaded paper files to the collection; returns the summary (or what is wrong)."""
        paths = [Path(f if isinstance(f, str) else f.name) for f in (files or []) if f]
        if not paths:
            return "Choose one or more paper files first."
        limit = self.settings.ui_upload_max_mb
        for path in paths:
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                return render.upload_refused(
                    f"{path.name} is not a paper file rag-papers reads — use one of "
                    f"{', '.join(SUPPORTED_SUFFIXES)}"
                )
            size_mb = path.stat().st_size / 1e6 if path.exists() else 0.0
            if size_mb > limit:
                return render.upload_refused(
                    f"{path.name} is {size_mb:.1f} MB, over the {limit:g} MB upload limit "
                    "(RAG_PAPERS_UI_UPLOAD_MAX_MB); index it with `rag-papers ingest` instead"
                )
        kept = self._keep_uploads(paths)
        return self._ingest(
            lambda ingest, report: ingest(kept, settings=self.settings, progress=report),
            progress,
            names=[p.name for p in paths],
        )

    def _keep_uploads(self, paths: Sequence[Path]) -> list[Path]:
        """Copies under the data directory, so the papers' source names a file that stays."""
        folder = self.settings.home / UPLOAD_DIR
        folder.mkdir(parents=True, exist_ok=True)
        kept = []
        for path in paths:
            target = folder / Path(path.name).name
            shutil.copyfile(path, target)
            kept.append(target)
        return kept

    def _ingest(
        self,
        run: Callable[[IngestFn, ProgressCallback | None], IngestSummary],
        progress: ProgressCallback | None,
        names: Sequence[str] = (),
    ) -> str:
        if not self.ingest_lock.acquire(blocking=False):
            return "Indexing is already running in another session; try again when it finishes."
        try:
            if progress is not None:
                progress("reading papers")
            summary = run(self.ingest, progress)
            self.retriever.reload()
            return render.ingest_summary(summary, names)
        except (
            InputError
        ) as exc:  # the file's fault: say what, naming the file, not the server path
            log.info("indexing refused: %s", exc)
            folder = str(self.settings.home / UPLOAD_DIR) + "/"
            detail = redact(str(exc)).replace(folder, "")
            return render.upload_refused(f"The papers could not be read: {detail}")
        except Exception as exc:
            log_failure(self.settings, "indexing", exc)
            return render.upload_refused(render.friendly_error(exc))
        finally:
            self.ingest_lock.release()
