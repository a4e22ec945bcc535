"""The chat page's layout: Gradio components wired to PageHandlers (app/handlers.py).

    rag-papers chat            # http://127.0.0.1:7860
    python -m rag_papers.app.ui --port 8080

One Pipeline (retriever, embedding model, LLM client) is shared by every visitor; each
browser session gets its own ChatSession in a gr.State, so conversations never mix. What
the page does lives in handlers.py as plain methods (tested without a server); how it
looks lives in render.py, its launch defaults in blocks.py. This module only places
components and connects events.
"""

from __future__ import annotations

from rag_papers import _offline  # noqa: F401  (analytics and hub look-ups off before gradio loads)

# isort: split

import logging
import sys
from collections.abc import Iterator
from typing import Any

import gradio as gr

from rag_papers.app import render
from rag_papers.app.blocks import PageProgress, PapersApp
from rag_papers.app.catalog import ANY_YEAR, TABLE_HEADERS
from rag_papers.app.handlers import MAX_K, ChatOutputs, PageHandlers
from rag_papers.app.pages import Collections, answer_download
from rag_papers.errors import QuestionError
from rag_papers.qa.pipeline import Pipeline
from rag_papers.readers import SUPPORTED_SUFFIXES
from rag_papers.settings import Settings
from rag_papers.types import ProgressCallback

log = logging.getLogger(__name__)

# Questions answered at once; the rest wait in the queue. Answers are CPU-bound (embedding,
# sentence scoring) on a small machine and I/O-bound with a remote LLM; 4 keeps both busy.
DEFAULT_CONCURRENCY = 4
QUEUE_MAX = 64  # waiting requests beyond this are refused with "queue full"
UNDATED_LABEL = "Include papers without a date"


def build_app(
    settings: Settings | None = None,
    *,
    pipeline: Pipeline | None = None,
    handlers: PageHandlers | None = None,
) -> gr.Blocks:
    """The chat page over one shared Pipeline (or the handlers given, made over one); launch it
    with .launch(server_name=, server_port=)."""
    pages = Collections(handlers or PageHandlers(pipeline or Pipeline(settings)))
    page = pages.get(None)  # the collection the page starts on
    settings = page.settings

    # -- adapters: Gradio's calling conventions around the plain handlers ---------------------
    def ask(
        question: Any,
        k: Any,
        year_from: Any,
        year_to: Any,
        mode: Any,
        include_undated: Any,
        session: Any,
        collection: Any = None,
    ) -> Iterator[ChatOutputs]:
        try:
            chosen = pages.get(collection)
        except QuestionError as exc:  # an API caller named a collection that does not exist
            chat = page.session(session)
            chat.messages.append({"role": "assistant", "content": render.error_markdown(str(exc))})
            yield page.chat_view(chat, question)
            return
        chat = pages.session_for(chosen, session)
        yield from chosen.ask(question, k, year_from, year_to, mode, include_undated, chat)

    def new_chat(session: Any, collection: Any = None) -> ChatOutputs:
        chosen = pages.get(collection)
        return chosen.new_chat(pages.session_for(chosen, session))

    # Switching collection and finishing an ingest leave the question box alone: a visitor may
    # be typing, and a late "" from these events would wipe the question before it is sent.
    def switch_collection(session: Any, collection: Any = None) -> tuple[Any, ...]:
        return new_chat(session, collection)[:3]

    def forget_unindexed(session: Any, collection: Any = None) -> tuple[Any, ...]:
        chosen = pages.get(collection)
        return chosen.forget_unindexed(pages.session_for(chosen, session))[:3]

    def downloads(session: Any) -> tuple[gr.DownloadButton, gr.DownloadButton]:
        md, bib = (answer_download(session, fmt) for fmt in ("markdown", "bibtex"))
        return (
            gr.DownloadButton(value=str(md) if md else None, interactive=md is not None),
            gr.DownloadButton(value=str(bib) if bib else None, interactive=bib is not None),
        )

    def pick_example(evt: gr.SelectData) -> str:
        value = evt.value
        return str(value.get("text", "")) if isinstance(value, dict) else str(value or "")

    def browse(
        query: str,
        year_from: Any,
        year_to: Any,
        include_undated: Any,
        selected: str,
        collection: Any = None,
    ) -> tuple[Any, ...]:
        found = pages.get(collection).browse(query, year_from, year_to, include_undated, selected)
        return found.table, found.count, found.card, found.selected

    def show_paper(collection: Any, evt: gr.SelectData) -> tuple[str, str]:
        row = getattr(evt, "row_value", None) or []
        return pages.get(collection).show_paper(str(row[0]) if row else "")

    def refresh(collection: Any = None) -> tuple[Any, ...]:
        view = pages.get(collection).overview()
        examples: Any = [{"text": q} for q in view.examples] or None
        return (
            view.status,
            gr.Group(visible=view.empty),
            gr.Chatbot(examples=examples),
            *(gr.Dropdown(choices=view.years) for _ in range(4)),
            view.table,
            view.count,
            view.stats,
        )

    def collection_choices() -> gr.Dropdown:  # collections made since the page started
        return gr.Dropdown(choices=pages.names())

    def index_sample(
        collection: Any = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's way)
    ) -> str:
        report: ProgressCallback = PageProgress(progress)
        return pages.get(collection).index_sample(report)

    def upload(
        files: Any,
        collection: Any = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008
    ) -> tuple[str, Any]:
        summary = pages.get(collection).upload(files, PageProgress(progress))
        indexed = summary.startswith(render.DONE)
        return summary, (None if indexed else gr.skip())  # indexed files leave the box

    def year_dropdown(label: str, **kwargs: Any) -> gr.Dropdown:
        # Custom values allowed: an API caller may send any year, and the handler checks it.
        return gr.Dropdown(
            page.years(), value=ANY_YEAR, label=label, allow_custom_value=True, **kwargs
        )

    # -- layout ---------------------------------------------------------------------------
    with PapersApp(title="rag-papers", analytics_enabled=False) as demo:
        session = gr.State(None)
        selected = gr.State("")
        with gr.Column(elem_classes="app-header"):
            gr.Markdown(
                "# Ask the papers\nQuestions answered from research-paper abstracts, every claim cited."
            )
            with gr.Row(equal_height=True):
                with gr.Column(scale=1, min_width=300):  # a narrow window stacks the two
                    status = gr.HTML(page.status_line(), elem_id="status")
                collection = gr.Dropdown(
                    pages.names(),
                    value=pages.default,
                    label="Collection",
                    scale=0,
                    min_width=220,
                    elem_id="collection",
                )
        with gr.Group(visible=False, elem_id="empty-store") as empty_box:
            with gr.Row(equal_height=True):
                gr.Markdown(
                    "**No papers are indexed yet.** Index the 445-paper sample bundled with rag-papers "
                    "(a few minutes on a laptop CPU), add your own files under “Add papers” in the "
                    "Collection tab, or run `rag-papers ingest PATH` and reload the page.",
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
                with gr.Column(scale=3, min_width=300):
                    chatbot = gr.Chatbot(
                        label="Conversation",
                        elem_id="chat",
                        height=560,
                        latex_delimiters=[],
                        buttons=["copy"],
                        feedback_options=None,
                        placeholder="Ask about the indexed papers. Answers cite them as [n].",
                    )
                    question = gr.Textbox(
                        label="Question",
                        show_label=False,
                        placeholder="Ask about the papers…",
                        elem_id="question",
                        lines=1,
                        max_lines=4,
                        autofocus=True,
                    )
                    with gr.Row():
                        ask_btn = gr.Button(
                            "Ask", variant="primary", scale=2, min_width=90, elem_id="ask"
                        )
                        new_btn = gr.Button("New chat", scale=1, min_width=100, elem_id="new-chat")
                    with gr.Row():
                        md_btn = gr.DownloadButton(
                            "Download answer (Markdown)",
                            interactive=False,
                            size="sm",
                            elem_id="download-markdown",
                        )
                        bib_btn = gr.DownloadButton(
                            "Cited papers (BibTeX)",
                            interactive=False,
                            size="sm",
                            elem_id="download-bibtex",
                        )
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
                        undated = gr.Checkbox(
                            value=False,
                            label=UNDATED_LABEL,
                            info="Most listing files give no year; a year range leaves those papers out.",
                            elem_id="include-undated",
                        )
                        mode = gr.Radio(
                            [
                                ("Extractive (quotes, no LLM)", "extractive"),
                                (f"LLM: {settings.llm_model}", "llm"),
                            ],
                            value=page.default_mode,
                            label="Answer mode",
                            visible=page.llm_available,
                        )
                with gr.Column(scale=2, min_width=300):
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
                    b_from = year_dropdown("From year", scale=1, elem_id="browse-from")
                    b_to = year_dropdown("To year", scale=1, elem_id="browse-to")
                    b_undated = gr.Checkbox(
                        value=False, label=UNDATED_LABEL, scale=1, elem_id="browse-undated"
                    )
                count = gr.HTML(elem_id="count")
                table = gr.Dataframe(
                    value={"headers": TABLE_HEADERS, "data": []},
                    headers=TABLE_HEADERS,
                    type="array",
                    interactive=False,
                    wrap=True,
                    max_height=420,
                    column_widths=["56%", "12%", "14%", "11%", "7%"],
                    datatype=["str", "str", "str", "str", "number"],
                    elem_id="papers",
                )
                paper = gr.HTML(render.paper_html(None), elem_id="paper-card")
                with gr.Accordion("Add papers", open=True, elem_id="add-papers"):
                    files = gr.File(
                        label=f"Paper files ({', '.join(SUPPORTED_SUFFIXES)}; up to "
                        f"{settings.ui_upload_max_mb:g} MB each)",
                        file_count="multiple",
                        file_types=list(SUPPORTED_SUFFIXES),
                        type="filepath",
                        elem_id="upload",
                    )
                    upload_btn = gr.Button(
                        "Index these files", variant="primary", elem_id="upload-index"
                    )
                    upload_status = gr.Markdown(min_height=32, elem_id="upload-status")
                with gr.Accordion("Index statistics", open=True):
                    stats_box = gr.HTML()

        # -- events -----------------------------------------------------------------------
        chat_outputs = [chatbot, refs, session, question]
        ask_args: dict[str, Any] = {
            "fn": ask,
            "inputs": [question, k, year_from, year_to, mode, undated, session, collection],
            "outputs": chat_outputs,
        }
        offer: dict[str, Any] = {
            "fn": downloads,
            "inputs": [session],
            "outputs": [md_btn, bib_btn],
            "api_visibility": "private",
        }
        ask_btn.click(**ask_args, api_name="ask", show_progress="minimal").then(**offer)
        question.submit(**ask_args, api_visibility="private", show_progress="minimal").then(**offer)
        chatbot.example_select(pick_example, None, question, api_visibility="private").then(
            **ask_args, api_visibility="private", show_progress="minimal"
        ).then(**offer)
        new_btn.click(new_chat, [session, collection], chat_outputs, api_name="new_chat").then(
            **offer
        )
        chatbot.clear(new_chat, [session, collection], chat_outputs, api_visibility="private")

        browse_inputs = [search, b_from, b_to, b_undated, selected, collection]
        browse_outputs = [table, count, paper, selected]
        search.submit(browse, browse_inputs, browse_outputs, api_name="browse")
        for control in (search, b_from, b_to, b_undated):
            control.change(
                browse,
                browse_inputs,
                browse_outputs,
                api_visibility="private",
                trigger_mode="always_last",
            )
        table.select(show_paper, [collection], [paper, selected], api_visibility="private")

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
        demo.load(refresh, [collection], refresh_outputs, api_name="refresh").then(
            collection_choices, None, collection, api_visibility="private"
        )
        # Another collection: its own conversation, papers, years and statistics.
        conversation = [chatbot, refs, session]  # chat_outputs without the question box
        collection.change(
            switch_collection, [session, collection], conversation, api_visibility="private"
        ).then(refresh, [collection], refresh_outputs, api_visibility="private").then(**offer)
        after_ingest: dict[str, Any] = {
            "fn": forget_unindexed,
            "inputs": [session, collection],
            "outputs": conversation,
        }
        index_btn.click(
            index_sample,
            [collection],
            index_status,
            api_name="index_sample",
            concurrency_limit=1,
            show_progress="full",
        ).then(refresh, [collection], refresh_outputs, api_visibility="private").then(
            **after_ingest, api_visibility="private"
        )
        upload_btn.click(
            upload,
            [files, collection],
            [upload_status, files],
            api_name="upload",
            concurrency_limit=1,
            show_progress="full",
        ).then(refresh, [collection], refresh_outputs, api_visibility="private").then(
            **after_ingest, api_visibility="private"
        )

    demo.queue(default_concurrency_limit=DEFAULT_CONCURRENCY, max_size=QUEUE_MAX)
    return demo


def main(argv: list[str] | None = None) -> int:
    """`python -m rag_papers.app.ui [options]` is `rag-papers chat [options]`."""
    from rag_papers.app.cli import main as cli_main

    return cli_main(["chat", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
