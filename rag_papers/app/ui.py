"""The chat page: a Gradio shell over the library (rendering in ui_render, answers in chat/answer).

    rag-papers chat            # http://127.0.0.1:7860
    python -m rag_papers.app.ui --port 8080

One Pipeline (retriever, embedding model, LLM client) is shared by every visitor; each
browser session gets its own Assistant in a gr.State, so conversations never mix. Requests
go through Gradio's queue, a few at a time. Nothing here retrieves or scores: it parses the
page's inputs, calls Assistant.stream and renders what comes back.
"""

from __future__ import annotations

from rag_papers import _offline  # noqa: F401  (analytics and hub look-ups off before gradio loads)

# isort: split

import argparse
import html
import ipaddress
import logging
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from rag_papers.app import render
from rag_papers.app.signin import SignInGuard
from rag_papers.errors import ConfigError, QuestionError, RagPapersError
from rag_papers.qa.chat import Assistant
from rag_papers.qa.pipeline import Pipeline
from rag_papers.qa.retrieve import Filters
from rag_papers.sanitize import redact
from rag_papers.settings import Settings
from rag_papers.types import Answer

log = logging.getLogger(__name__)

# Questions answered at once; the rest wait in the queue. Answers are CPU-bound (embedding,
# sentence scoring) on a small machine and I/O-bound with a remote LLM; 4 keeps both busy.
DEFAULT_CONCURRENCY = 4
QUEUE_MAX = 64  # waiting requests beyond this are refused with "queue full"
STREAM_EVERY = 0.08  # seconds between streamed updates of the answer being written
MAX_K = 20
ANY_YEAR = "Any"
N_EXAMPLES = 4
TABLE_HEADERS = ["Title", "Published", "Authors", "arXiv id", "Chunks"]
LOCAL_HOSTS = {"localhost"}


# -- per-session state -------------------------------------------------------------------
@dataclass
class ChatSession:
    """One visitor's conversation: the Assistant (history for follow-ups) and what the page shows."""

    assistant: Assistant
    messages: list[dict[str, str]] = field(default_factory=list)
    turns: list[render.Turn] = field(default_factory=list)
    busy: bool = False  # a question is being answered; a second one (double click) is ignored

    def clear(self) -> None:
        self.assistant.reset()
        self.messages.clear()
        self.turns.clear()


# -- the collection, for the browse tab and the example questions -------------------------
class Catalog:
    """Paper metadata read from the store, reloaded when the number of chunks changes."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self._lock = threading.Lock()
        self._chunks = -1
        self._papers: list[dict[str, Any]] = []

    def papers(self) -> list[dict[str, Any]]:
        store = self.pipeline.retriever.store
        with self._lock:
            chunks = store.count_chunks()
            if chunks != self._chunks:
                metas = store.list_papers() if chunks else []
                metas.sort(
                    key=lambda m: (
                        -int(m.get("published_ord") or 0),
                        str(m.get("title", "")).lower(),
                    )
                )
                self._papers, self._chunks = metas, chunks
            return self._papers

    def years(self) -> list[int]:
        return sorted({int(m.get("year") or 0) for m in self.papers()} - {0}, reverse=True)

    def examples(self, n: int = N_EXAMPLES) -> list[str]:
        """Questions about a few indexed papers, spread over the collection (titles short enough to read)."""
        titles = [str(m["title"]) for m in self.papers() if 8 <= len(str(m.get("title", ""))) <= 70]
        step = max(len(titles) // n, 1)
        return [f"What does {t} propose?" for t in titles[::step][:n]]

    def find(self, title: str) -> dict[str, Any] | None:
        return next((m for m in self.papers() if m.get("title") == title), None)

    def search(
        self, query: str, year_from: Any = None, year_to: Any = None
    ) -> list[dict[str, Any]]:
        """Papers whose title or abstract contains every word of the query, within the years."""
        words = (query or "").lower().split()
        lo, hi = _year(year_from), _year(year_to)
        out = []
        for m in self.papers():
            year = int(m.get("year") or 0)
            if (lo and (not year or year < lo)) or (hi and (not year or year > hi)):
                continue
            text = f"{m.get('title', '')} {m.get('abstract', '')}".lower()
            if all(w in text for w in words):
                out.append(m)
        return out


def _safe(fn: Any, default: Any) -> Any:
    """The collection as far as it can be read: a broken store shows as empty, with a log entry."""
    try:
        return fn()
    except Exception:
        log.exception("reading the collection failed")
        return default


def _year(value: Any) -> int | None:
    if value in (None, "", ANY_YEAR):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise QuestionError(
            f"year {value!r} not understood — pick a year such as 2023, or {ANY_YEAR}"
        ) from None


def _options(pipeline: Pipeline, k: Any, year_from: Any, year_to: Any, mode: Any) -> dict[str, Any]:
    """The page's settings as Assistant.stream arguments (bad values raise QuestionError)."""
    try:
        k_int = None if k in (None, "") else int(float(k))
    except (TypeError, ValueError):
        raise QuestionError(f"number of papers {k!r} is not a number") from None
    lo, hi = _year(year_from), _year(year_to)
    if lo and hi and lo > hi:
        lo, hi = hi, lo
    filters = Filters(year_from=lo, year_to=hi) if (lo or hi) else None
    return {"k": k_int, "filters": filters, "mode": mode or None}


def _table(papers: list[dict[str, Any]]) -> dict[str, Any]:
    rows = []
    for m in papers:
        authors = str(m.get("authors") or "")
        n_authors = int(m.get("n_authors") or -1)
        if not authors and n_authors > 0:
            authors = f"{n_authors} author{'s' if n_authors > 1 else ''}"
        published = m.get("published") or m.get("date_text") or "—"
        rows.append(
            [
                str(m.get("title", "")),
                str(published),
                authors or "—",
                str(m.get("arxiv_id") or "—"),
                int(m.get("n_chunks") or 0),
            ]
        )
    return {"headers": TABLE_HEADERS, "data": rows}


# -- the app ------------------------------------------------------------------------------
def _theme() -> gr.themes.Base:
    """Gradio's default look with fonts served by the page itself (never a font CDN).

    Gradio 6.31 ships the 600-weight Source Sans Pro and IBM Plex Mono files as tiny subsets
    (55-75 glyphs), so headings would mix fonts; the 400 and 700 files are complete.
    """
    return gr.themes.Default(
        primary_hue="indigo",
        font=[
            gr.themes.LocalFont("Source Sans Pro", weights=(400, 700)),
            "ui-sans-serif",
            "system-ui",
            "sans-serif",
        ],
        font_mono=[
            gr.themes.LocalFont("IBM Plex Mono", weights=(400, 700)),
            "ui-monospace",
            "monospace",
        ],
    )


class PapersApp(gr.Blocks):
    """gr.Blocks whose launch() has this app's look and privacy defaults (no share link,
    no monitoring endpoint, no MCP server, no run history), so tests and the CLI agree."""

    def launch(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs["share"] = False
        for key, value in {
            "css": render.CSS,
            "head": render.HEAD,
            "theme": _theme(),
            "enable_monitoring": False,
            "mcp_server": False,
            "run_history": False,
            "pwa": False,
            "ssr_mode": False,
            "show_error": False,
            "footer_links": ["api", "settings"],
        }.items():
            kwargs.setdefault(key, value)
        return super().launch(*args, **kwargs)


def build_app(settings: Settings | None = None, *, pipeline: Pipeline | None = None) -> gr.Blocks:
    """The chat page over one shared Pipeline; launch it with .launch(server_name=, server_port=)."""
    pipeline = pipeline or Pipeline(settings)
    settings = pipeline.settings
    catalog = Catalog(pipeline)
    ingest_lock = threading.Lock()
    llm_available = pipeline.resolve_mode("auto") == "llm"
    default_mode = pipeline.resolve_mode(None)

    def status_line() -> str:
        n = len(_safe(catalog.papers, []))
        how = (
            f"answers written by {settings.llm_model}"
            if default_mode == "llm"
            else ("extractive answers (quoted from the abstracts, no LLM configured)")
        )
        return f'<div class="status-line">{n} papers indexed · {html.escape(how)}</div>'

    # -- handlers -------------------------------------------------------------------------
    def new_session() -> ChatSession:
        return ChatSession(Assistant(pipeline=pipeline))

    def ask(
        question: Any, k: Any, year_from: Any, year_to: Any, mode: Any, session: ChatSession | None
    ) -> Iterator[tuple[Any, ...]]:
        session = session if isinstance(session, ChatSession) else new_session()
        if session.busy:
            yield list(session.messages), render.references_html(session.turns), session, question
            return
        session.busy = True
        try:
            yield from answer_turn(question, k, year_from, year_to, mode, session)
        finally:
            session.busy = False

    def answer_turn(
        question: Any, k: Any, year_from: Any, year_to: Any, mode: Any, session: ChatSession
    ) -> Iterator[tuple[Any, ...]]:
        text = question if isinstance(question, str) else ("" if question is None else question)
        shown = " ".join(text.split()) if isinstance(text, str) else str(text)
        turn = render.Turn(len(session.turns) + 1, shown)
        if shown:
            session.messages.append({"role": "user", "content": render.user_markdown(shown)})
        reply = {"role": "assistant", "content": render.PENDING}
        session.messages.append(reply)

        def out(box: str = "") -> tuple[Any, ...]:
            return list(session.messages), render.references_html(session.turns), session, box

        yield out()
        try:
            parts: list[str] = []
            last = time.monotonic()
            for item in session.assistant.stream(
                text, **_options(pipeline, k, year_from, year_to, mode)
            ):
                if isinstance(item, Answer):
                    turn.answer = item
                    reply["content"] = render.answer_markdown(item, turn.number)
                    session.turns.append(turn)
                else:
                    parts.append(item)
                    if time.monotonic() - last >= STREAM_EVERY:
                        last = time.monotonic()
                        reply["content"] = render.draft_markdown("".join(parts))
                        yield out()
        except QuestionError as exc:
            log.info("question refused: %s", exc)
            reply["content"] = render.error_markdown(render.friendly_error(exc))
        except Exception as exc:  # every failure becomes a short message; the log keeps the detail
            log_failure(settings, f"answering {shown[:200]!r}", exc)
            reply["content"] = render.error_markdown(render.friendly_error(exc))
        yield out()

    def new_chat(session: ChatSession | None) -> tuple[Any, ...]:
        session = session if isinstance(session, ChatSession) else new_session()
        session.clear()
        return [], render.references_html([]), session, ""

    def pick_example(evt: gr.SelectData) -> str:
        value = evt.value
        return str(value.get("text", "")) if isinstance(value, dict) else str(value or "")

    def browse(query: str, year_from: Any, year_to: Any) -> tuple[Any, str]:
        try:
            found = catalog.search(query, year_from, year_to)
        except RagPapersError as exc:
            return _table([]), render.error_markdown(str(exc))
        total = len(catalog.papers())
        return _table(found), f'<div class="status-line">{len(found)} of {total} papers</div>'

    def show_paper(evt: gr.SelectData) -> str:
        row = getattr(evt, "row_value", None) or []
        return render.paper_html(catalog.find(str(row[0])) if row else None)

    def stats() -> str:
        try:
            from rag_papers.index.stats import collection_stats

            return render.stats_html(collection_stats(settings))
        except Exception:
            log.exception("collection_stats failed")
            return render.error_markdown(
                "Index statistics are unavailable; the server log has the details."
            )

    def refresh() -> tuple[Any, ...]:
        """Everything that depends on what is indexed; run on page load and after an ingest."""
        papers = _safe(catalog.papers, [])
        years = [ANY_YEAR] + [str(y) for y in _safe(catalog.years, [])]
        examples = [{"text": q} for q in catalog.examples()] if papers else None
        return (
            status_line(),
            gr.Group(visible=not papers),
            gr.Chatbot(examples=examples),
            *(gr.Dropdown(choices=years) for _ in range(4)),
            _table(papers),
            f'<div class="status-line">{len(papers)} of {len(papers)} papers</div>',
            stats(),
        )

    def index_sample(progress: gr.Progress = gr.Progress(track_tqdm=True)) -> str:  # noqa: B008 (Gradio's way)
        from rag_papers.index.ingest import ingest

        # The button only shows on an empty index; a direct API call must meet the same rule.
        refusal = (
            "The index already holds papers; the bundled sample is only added to an empty index."
        )
        if pipeline.retriever.store.count_chunks():
            return refusal
        if not ingest_lock.acquire(blocking=False):
            return (
                "Indexing is already running in another session; reload the page when it finishes."
            )
        try:
            if pipeline.retriever.store.count_chunks():  # filled while this call waited
                return refusal
            progress(0, desc="Reading the bundled sample")
            summary = ingest(sample=True, settings=settings, progress=True)
            return f"Done: {summary.line()}."
        except Exception as exc:
            log_failure(settings, "indexing the bundled sample", exc)
            return render.friendly_error(exc)
        finally:
            ingest_lock.release()

    def year_dropdown(label: str, **kwargs: Any) -> gr.Dropdown:
        # Custom values allowed: an API caller may send any year, and _year() checks it.
        years = [ANY_YEAR] + [str(y) for y in _safe(catalog.years, [])]
        return gr.Dropdown(years, value=ANY_YEAR, label=label, allow_custom_value=True, **kwargs)

    # -- layout ---------------------------------------------------------------------------
    with PapersApp(title="rag-papers", analytics_enabled=False) as demo:
        session = gr.State(None)
        with gr.Column(elem_classes="app-header"):
            gr.Markdown(
                "# Ask the papers\nQuestions answered from research-paper abstracts, every claim cited."
            )
            status = gr.HTML(status_line(), elem_id="status")
        with gr.Group(visible=False, elem_id="empty-store") as empty_box:
            with gr.Row(equal_height=True):
                gr.Markdown(
                    "**No papers are indexed yet.** Index the 445-paper sample bundled with rag-papers "
                    "(a few minutes on a laptop CPU), or run `rag-papers ingest PATH` and reload the page.",
                    padding=True,
                )
                index_btn = gr.Button(
                    "Index the bundled sample",
                    variant="primary",
                    scale=0,
                    min_width=240,
                    elem_id="index-sample",
                )
            index_status = gr.Markdown(min_height=48, padding=True, elem_id="index-status")
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"), gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=420):
                    chatbot = gr.Chatbot(
                        label="Conversation",
                        elem_id="chat",
                        height=560,
                        latex_delimiters=[],
                        buttons=["copy"],
                        feedback_options=None,
                        placeholder="Ask about the indexed papers. Answers cite them as [n].",
                    )
                    with gr.Row():
                        question = gr.Textbox(
                            label="Question",
                            show_label=False,
                            placeholder="Ask a question about the indexed papers…",
                            elem_id="question",
                            scale=6,
                            lines=1,
                            max_lines=4,
                            autofocus=True,
                        )
                        ask_btn = gr.Button(
                            "Ask", variant="primary", scale=1, min_width=90, elem_id="ask"
                        )
                        new_btn = gr.Button("New chat", scale=1, min_width=120, elem_id="new-chat")
                    with gr.Accordion("Settings", open=False, elem_id="settings"):
                        with gr.Row():
                            k = gr.Slider(
                                1,
                                MAX_K,
                                value=min(settings.k, MAX_K),
                                step=1,
                                label="Papers retrieved (k)",
                            )
                            year_from = year_dropdown("From year")
                            year_to = year_dropdown("To year")
                        mode = gr.Radio(
                            [
                                ("Extractive (quotes, no LLM)", "extractive"),
                                (f"LLM: {settings.llm_model}", "llm"),
                            ],
                            value=default_mode,
                            label="Answer mode",
                            visible=llm_available,
                        )
                with gr.Column(scale=2, min_width=320):
                    gr.Markdown("### References")
                    refs = gr.HTML(render.references_html([]), elem_id="references")
            with gr.Tab("Collection", id="collection"):
                with gr.Row():
                    search = gr.Textbox(
                        label="Search titles and abstracts",
                        placeholder="e.g. retrieval, diffusion",
                        scale=4,
                        elem_id="search",
                    )
                    b_from = year_dropdown("From year", scale=1)
                    b_to = year_dropdown("To year", scale=1)
                count = gr.HTML()
                table = gr.Dataframe(
                    value=_table([]),
                    headers=TABLE_HEADERS,
                    type="array",
                    interactive=False,
                    wrap=True,
                    max_height=420,
                    column_widths=["56%", "12%", "14%", "11%", "7%"],
                    datatype=["str", "str", "str", "str", "number"],
                    elem_id="papers",
                )
                paper = gr.HTML(render.paper_html(None))
                with gr.Accordion("Index statistics", open=True):
                    stats_box = gr.HTML()

        # -- events -----------------------------------------------------------------------
        chat_outputs = [chatbot, refs, session, question]
        ask_args = {
            "fn": ask,
            "inputs": [question, k, year_from, year_to, mode, session],
            "outputs": chat_outputs,
        }
        ask_btn.click(**ask_args, api_name="ask", show_progress="minimal")
        question.submit(**ask_args, api_visibility="private", show_progress="minimal")
        chatbot.example_select(pick_example, None, question, api_visibility="private").then(
            **ask_args, api_visibility="private", show_progress="minimal"
        )
        new_btn.click(new_chat, [session], chat_outputs, api_name="new_chat")
        chatbot.clear(new_chat, [session], chat_outputs, api_visibility="private")

        browse_inputs = [search, b_from, b_to]
        search.submit(browse, browse_inputs, [table, count], api_name="browse")
        search.change(
            browse,
            browse_inputs,
            [table, count],
            api_visibility="private",
            trigger_mode="always_last",
        )
        b_from.change(browse, browse_inputs, [table, count], api_visibility="private")
        b_to.change(browse, browse_inputs, [table, count], api_visibility="private")
        table.select(show_paper, None, paper, api_visibility="private")

        refresh_outputs = [
            status,
            empty_box,
            chatbot,
            year_from,
            year_to,
            b_from,
            b_to,
            table,
            count,
            stats_box,
        ]
        demo.load(refresh, None, refresh_outputs, api_name="refresh")
        index_btn.click(
            index_sample,
            None,
            index_status,
            api_name="index_sample",
            concurrency_limit=1,
            show_progress="full",
        ).then(refresh, None, refresh_outputs, api_visibility="private")

    demo.queue(default_concurrency_limit=DEFAULT_CONCURRENCY, max_size=QUEUE_MAX)
    return demo


# -- command line -------------------------------------------------------------------------
def is_local(host: str) -> bool:
    if host in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_auth(settings: Settings) -> tuple[str, str] | None:
    if settings.ui_auth is None:
        return None
    user, sep, password = settings.ui_auth.get_secret_value().partition(":")
    if not sep or not user or not password:
        raise ConfigError("RAG_PAPERS_UI_AUTH must look like user:password (both parts non-empty)")
    return user, password


def check_bind(host: str, auth: tuple[str, str] | None, insecure_no_auth: bool = False) -> None:
    """Refuse to serve beyond this machine without a password, unless told to."""
    if is_local(host) or auth is not None or insecure_no_auth:
        return
    raise ConfigError(
        f"refusing to serve the chat page on {host} without a password — anyone who can reach it could "
        "use it. Set RAG_PAPERS_UI_AUTH=user:password (or pass --insecure-no-auth to accept the risk)"
    )


def log_failure(settings: Settings, what: str, exc: BaseException) -> None:
    """One redacted line at the operator's RAG_PAPERS_UI_ERROR_LOG_LEVEL; the traceback at debug."""
    level = logging.getLevelName(settings.ui_error_log_level.upper())
    log.log(level, "%s failed: %s: %s", what, type(exc).__name__, redact(str(exc)))
    log.debug("%s failed", what, exc_info=exc)


def warm_up(pipeline: Pipeline) -> None:
    """Load the embedding model and keyword index now, so the first visitor does not wait for them."""
    try:
        if pipeline.retriever.store.count_chunks():
            pipeline.retriever.embed_model  # noqa: B018 (loads on first access)
            pipeline.retriever.bm25()
    except Exception:
        log.exception("warming up the retriever failed; the first question will retry")


def run_cli(args: argparse.Namespace) -> int:
    """Start the page and block until Ctrl-C."""
    from rag_papers.app.cli import settings_from

    settings = settings_from(args)
    host = args.host or settings.ui_host
    port = args.port or settings.ui_port
    auth = parse_auth(settings)
    check_bind(host, auth, args.insecure_no_auth)
    pipeline = Pipeline(settings)
    demo = build_app(pipeline=pipeline)
    threading.Thread(target=warm_up, args=(pipeline,), name="warm-up", daemon=True).start()
    print(f"rag-papers chat: http://{host}:{port}  (Ctrl-C to stop)", file=sys.stderr)
    demo.launch(
        server_name=host,
        server_port=port,
        auth=SignInGuard(*auth) if auth else None,
        auth_message="rag-papers: sign in with the user and password from RAG_PAPERS_UI_AUTH.",
        quiet=True,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m rag_papers.app.ui [options]` is `rag-papers chat [options]`."""
    from rag_papers.app.cli import main as cli_main

    return cli_main(["chat", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
