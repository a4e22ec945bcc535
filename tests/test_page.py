"""The chat page's behaviour as plain objects: PageHandlers over a real index, no server.

The Gradio layout (ui.py) only wires components to these methods; the real-server tests
(test_ui.py) and the browser tests (test_ui_browser.py) cover the wiring and the look.
"""

from __future__ import annotations

import html
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from rag_papers.app.handlers import ChatSession, PageHandlers, options
from rag_papers.errors import QuestionError
from rag_papers.qa.display import display_text
from rag_papers.qa.pipeline import Pipeline
from rag_papers.qa.retrieve import Retriever
from rag_papers.readers import read_listing
from rag_papers.settings import Settings

SAMPLE = Path(__file__).resolve().parents[1] / "rag_papers" / "data" / "sample"
LISTING = SAMPLE / "004_9055317b84f6e392.txt"
MRL_TITLE = "Matryoshka Representation Learning"


def last(outputs: list[Any]) -> tuple[list[dict[str, str]], str, ChatSession, str]:
    return outputs[-1]


def run_ask(page: PageHandlers, question: str, session: Any = None, **kw: Any) -> Any:
    return last(list(page.ask(question, session=session, mode="extractive", **kw)))


@pytest.fixture
def empty_page(tmp_path: Path, small_pipeline: Pipeline) -> PageHandlers:
    """A page over an empty data directory (the embedding model borrowed, to stay quick)."""
    settings = Settings(home=tmp_path / "home", mode="extractive", ui_upload_max_mb=1.0)
    retriever = Retriever(settings, embed_model=small_pipeline.retriever.embed_model)
    return PageHandlers(Pipeline(settings, retriever=retriever))


def papers_file(folder: Path, n: int = 3) -> Path:
    path = folder / "my papers.jsonl"
    rows = [
        {"title": p.title, "abstract": p.abstract, "published": f"2024-03-0{i + 1}"}
        for i, p in enumerate(read_listing(LISTING).papers[:n])
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_asking_an_empty_store_is_a_message_without_a_traceback_in_the_log(
    empty_page: PageHandlers, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        messages, _refs, session, _box = run_ask(empty_page, "What is RAG?")
    assert "No papers are indexed yet" in messages[-1]["content"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert session.before_index  # remembered, to be dropped once papers are indexed


def test_upload_indexes_files_and_drops_the_no_papers_message(
    empty_page: PageHandlers, tmp_path: Path
) -> None:
    messages, _, session, _ = run_ask(empty_page, "What is Matryoshka Representation Learning?")
    phases: list[str] = []
    summary = empty_page.upload(
        [str(papers_file(tmp_path))], lambda phase, done=0, total=None: phases.append(phase)
    )
    assert summary.startswith("**Done from my papers.jsonl:** read 3 papers: 3 new"), summary
    assert "reading papers" in phases and "embedding chunks" in phases
    assert "3 papers indexed" in empty_page.status_line()
    assert (empty_page.settings.home / "uploads" / "my papers.jsonl").is_file()

    messages, _, session, _ = empty_page.forget_unindexed(session)
    assert messages == [] and not session.before_index
    messages, refs, session, _ = run_ask(
        empty_page, "What is Matryoshka Representation Learning?", session
    )
    assert MRL_TITLE in refs and 'class="cite"' in messages[-1]["content"]


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("notes.docx", b"PK\x03\x04", "is not a paper file rag-papers reads"),
        ("huge.jsonl", b"x" * 1_100_000, "over the 1 MB upload limit"),
        ("blob.jsonl", b"\x00\x01binary" * 50, "Not indexed:"),
    ],
)
def test_upload_refusals_are_messages(
    empty_page: PageHandlers, tmp_path: Path, name: str, content: bytes, says: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    message = empty_page.upload([str(path)])
    assert message.startswith("**Not indexed:**") and says in message.replace("\\", "")
    assert "Traceback" not in message
    assert empty_page.upload([]) == "Choose one or more paper files first."


def test_collection_filter_counts_undated_papers_and_clears_a_hidden_card(
    small_pipeline: Pipeline,
) -> None:
    page = PageHandlers(small_pipeline)
    everything = page.browse()
    total = len(everything.table["data"])
    dated = page.browse("", "2020", "2025")
    undated = (
        total
        - len(dated.table["data"])
        - sum(
            1 for m in page.catalog.papers() if m.get("year") and not 2020 <= int(m["year"]) <= 2025
        )
    )
    assert undated > 0 and f"{undated} without a publication date hidden" in dated.count
    wide = page.browse("", "2020", "2025", include_undated=True)
    assert len(wide.table["data"]) == len(dated.table["data"]) + undated
    assert "without a publication date" not in wide.count

    undated_title = next(str(m["title"]) for m in page.catalog.papers() if not m.get("year"))
    card, selected = page.show_paper(undated_title)
    assert selected == undated_title and undated_title.split()[0] in card
    hidden = page.browse("", "2020", "2025", selected=selected)
    assert hidden.selected == "" and "Select a row" in hidden.card
    kept = page.browse("", "2020", "2025", include_undated=True, selected=selected)
    assert kept.selected == undated_title


def test_answer_with_a_year_filter_says_how_many_undated_papers_it_left_out(
    small_pipeline: Pipeline,
) -> None:
    page = PageHandlers(small_pipeline)
    messages, *_ = run_ask(page, "Which papers adapt embeddings?", year_from="2020", year_to="2025")
    assert "without a publication date were left out by the year filter" in messages[-1]["content"]
    messages, *_ = run_ask(
        page,
        "Which papers adapt embeddings?",
        year_from="2020",
        year_to="2025",
        include_undated=True,
    )
    assert "left out by the year filter" not in messages[-1]["content"]


def test_bad_settings_are_refused_as_messages(small_pipeline: Pipeline) -> None:
    with pytest.raises(QuestionError):
        options("many", None, None, None)
    page = PageHandlers(small_pipeline)
    messages, *_ = run_ask(page, "What is MRL?", k="many")
    assert "is not a number" in messages[-1]["content"]
    assert options(5, "2025", "2023", None)["filters"].year_from == 2023  # dropdowns swap


def test_indexing_the_sample_moves_the_page_progress_bar(empty_page: PageHandlers) -> None:
    """Every phase is named on the bar as it starts, and the embedding count advances."""
    from rag_papers.app.blocks import PageProgress
    from rag_papers.index.ingest import ingest

    papers = read_listing(LISTING).papers[:12]

    def small_sample(*args: Any, **kwargs: Any) -> Any:  # the sample's first 12 papers
        return ingest(papers=papers, settings=kwargs["settings"], progress=kwargs["progress"])

    empty_page = PageHandlers(empty_page.pipeline, ingest=small_sample)
    calls: list[tuple[Any, str]] = []

    def bar(
        progress: Any, desc: str = "", **kwargs: Any
    ) -> None:  # what gr.Progress is called with
        calls.append((progress, desc))

    summary = empty_page.index_sample(PageProgress(bar))  # type: ignore[arg-type]
    assert summary.startswith("**Done:** read 12 papers"), summary
    phases = [desc for progress, desc in calls if progress is None]
    assert (
        "loading the embedding model…" in phases and "building the keyword (BM25) index…" in phases
    )
    counts = [progress for progress, desc in calls if desc == "embedding chunks"]
    assert counts and counts[-1][0] == counts[-1][1] > 0  # the bar reaches its end


FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.mark.parametrize(
    "fixture",
    [
        "src_listing_meta.txt",  # Hugging Face Papers listing
        "library/hf_2024_subset.json",  # JSON list
        "library/csl.json",  # CSL-JSON
        "library/zotero.csv",  # Zotero CSV
        "library/refs.bib",  # BibTeX
        "library/refs.ris",  # RIS
        "library/arxiv_api_response.xml",  # arXiv Atom
    ],
)
def test_upload_takes_every_format_the_readers_read(
    empty_page: PageHandlers, tmp_path: Path, fixture: str
) -> None:
    """Each reader's format, uploaded from the page, is indexed and answerable (JSON Lines is
    test_upload_indexes_files_and_drops_the_no_papers_message)."""
    summary = empty_page.upload([str(FIXTURES / fixture)])
    name = Path(fixture).name
    assert summary.replace("\\", "").startswith(f"**Done from {name}:** read "), summary
    indexed = empty_page.retriever.store.count_papers()
    assert indexed > 0 and f"{indexed} papers indexed" in empty_page.status_line()


def test_references_list_the_papers_searched_but_not_cited(small_pipeline: Pipeline) -> None:
    """As in the terminal, the references panel ends with the papers retrieval returned that
    the answer does not cite, after an answer and after an abstention alike."""
    page = PageHandlers(small_pipeline)
    for question in (
        "What is Matryoshka Representation Learning?",
        "What is the capital of France?",
    ):
        answer = small_pipeline.run(question)
        assert answer.also_retrieved
        _, refs, _, _ = run_ask(page, question)
        also = refs.split("Also retrieved, not cited", 1)[1]
        for paper in answer.also_retrieved:
            assert html.escape(display_text(paper.title)) in also
        assert answer.abstained == ("No paper supports an answer" in refs)


def test_the_also_retrieved_titles_are_escaped_and_their_latex_rendered() -> None:
    from rag_papers.app.render import also_html
    from rag_papers.types import Answer, RetrievedPaper

    paper = RetrievedPaper("p1", "O$^2$-Recon <img src=x onerror=alert(1)>", "", 0.1)
    answer = Answer("q", "", [], True, [paper], "extractive", "", also_retrieved=[paper])
    shown = also_html(answer)
    assert "O^2-Recon" in shown and "$" not in shown
    assert "<img" not in shown and "&lt;img src=x onerror=alert(1)&gt;" in shown
    assert also_html(Answer("q", "", [], True, [], "extractive", "")) == ""
