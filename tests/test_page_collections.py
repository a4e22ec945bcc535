"""The page's collection selector and answer downloads: plain objects over a real two-collection
home, then the same through a real Gradio server with gradio_client."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bibtexparser
import pytest
from gradio_client import Client
from procs import free_port

from rag_papers.app import ui
from rag_papers.app.handlers import ChatSession, PageHandlers
from rag_papers.app.pages import Collections, answer_download
from rag_papers.errors import QuestionError
from rag_papers.index.library import list_collections
from rag_papers.qa.pipeline import Pipeline
from rag_papers.settings import Settings

LIB = Path(__file__).resolve().parent / "fixtures" / "library"
MOE_QUESTION = "What does MoE-Mamba combine?"
MOE_TITLE = "MoE-Mamba"
MOE_FULL = "Efficient Selective State Space Models with Mixture of Experts"


@pytest.fixture(scope="module")
def two_collections(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default collection holds 8 papers of the 2024 subset; "refs" the 8 of refs.bib."""
    from rag_papers.index.ingest import ingest

    home = tmp_path_factory.mktemp("page_collections")
    ingest([LIB / "hf_2024_subset.json"], settings=Settings(home=home), progress=False)
    ingest([LIB / "refs.bib"], settings=Settings(home=home, collection="refs"), progress=False)
    return home


@pytest.fixture
def pages(two_collections: Path, tmp_path: Path) -> Collections:
    home = tmp_path / "home"
    shutil.copytree(two_collections, home)
    return Collections(PageHandlers(Pipeline(Settings(home=home, mode="extractive"))))


def titles(page: PageHandlers) -> list[str]:
    return [str(m.get("title", "")) for m in page.catalog.papers()]


def final(outputs: Iterator[Any]) -> tuple[list[dict[str, str]], str, ChatSession, str]:
    return list(outputs)[-1]


def test_a_visitor_picks_a_collection_and_gets_its_papers_and_a_fresh_conversation(
    pages: Collections,
) -> None:
    assert pages.names() == ["papers", "refs"]
    default, refs = pages.get(None), pages.get("refs")
    assert default is pages.get("papers") and refs is pages.get("refs")  # built once, shared
    assert MOE_TITLE not in " ".join(titles(default))
    assert any(MOE_TITLE in t for t in titles(refs))

    first = default.new_session()
    moved = pages.session_for(refs, first)
    assert moved is not first and moved.assistant.pipeline is refs.pipeline
    assert pages.session_for(refs, moved) is moved  # the same collection keeps the conversation

    messages, references, session, _ = final(refs.ask(MOE_QUESTION, session=moved))
    assert MOE_TITLE in references and session.turns[-1].answer is not None
    # the abstract is shown as the answer shows it (LaTeX rendered), so the quote is marked in place
    assert "2.35×" in references and "\\times" not in references
    assert "<mark>" in references and "</mark><br>" not in references
    cited = {c.title for c in session.turns[-1].answer.citations}
    assert any(MOE_TITLE in t for t in cited)
    assert all(t in titles(refs) for t in cited)  # nothing from the other collection


def test_an_unknown_collection_is_refused_and_never_created(pages: Collections) -> None:
    with pytest.raises(QuestionError, match="no collection named 'nope'.*papers, refs"):
        pages.get("nope")
    home_settings = pages.get(None).settings
    assert [c.name for c in list_collections(home_settings)] == ["papers", "refs"]


def test_the_last_answer_downloads_as_markdown_and_bibtex(
    pages: Collections, tmp_path: Path
) -> None:
    refs = pages.get("refs")
    session = refs.new_session()
    assert answer_download(session, "markdown", tmp_path) is None  # nothing answered yet
    _, _, session, _ = final(refs.ask(MOE_QUESTION, session=session))
    answer = session.turns[-1].answer
    assert answer is not None and answer.citations

    md = answer_download(session, "markdown", tmp_path)
    assert md is not None and md.suffix == ".md" and md.name.startswith("what-does-moe-mamba")
    text = md.read_text(encoding="utf-8")
    assert text.startswith("**Q:** What does MoE-Mamba combine?")
    for c in answer.citations:
        assert f"[{c.number}]: {c.url}" in text

    bib = answer_download(session, "bibtex", tmp_path)
    assert bib is not None and bib.suffix == ".bib"
    library = bibtexparser.parse_string(bib.read_text(encoding="utf-8"))
    titles = [e["title"] for e in library.entries]
    assert len(titles) == len({c.paper_id for c in answer.citations})
    assert any("MoE" in t and "Mamba" in t for t in titles)
    with pytest.raises(ValueError, match="unknown download format"):
        answer_download(session, "pdf", tmp_path)


def test_the_page_answers_from_the_collection_an_api_caller_names(pages: Collections) -> None:
    demo = ui.build_app(pipeline=pages.get(None).pipeline)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        c = Client(f"http://127.0.0.1:{port}/", verbose=False, download_files=False)
        args = (MOE_QUESTION, 5, "Any", "Any", "extractive", False)
        history, refs, _ = c.predict(*args, collection="refs", api_name="/ask")
        assert MOE_FULL in refs
        with pytest.raises(Exception, match="not in the list of choices"):
            c.predict(*args, collection="nope", api_name="/ask")  # Gradio checks the choices
        _, refs, _ = c.predict(*args, api_name="/ask")  # the default collection holds no MoE-Mamba
        assert MOE_FULL not in refs  # (the question, shown above the references, names it)
    finally:
        demo.close()


def test_the_statistics_visitors_see_name_no_server_path(pages: Collections) -> None:
    page = pages.get("refs")
    shown = page.stats()
    assert "<th>Papers</th><td>8</td>" in shown and "<th>Collection</th><td>refs</td>" in shown
    assert str(page.settings.home) not in shown and "chroma" not in shown.lower()
