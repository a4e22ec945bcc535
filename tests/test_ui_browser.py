"""The chat page in a real browser: Debian's headless Chromium driven by Playwright.

What the API tests cannot see: the streamed answer rendered in the page, citation links that
scroll the references panel to their paper, the highlighted quote, and that the page loads
nothing from outside this machine (no CDN fonts, no analytics). Screenshots go to
test-artifacts/ at the repository root.

Needs `apt-get install -y chromium` (Playwright's own browser download is not used).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from procs import free_port

from rag_papers.app import ui
from rag_papers.qa.pipeline import Pipeline

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
MRL_TITLE = "Matryoshka Representation Learning"
TIMEOUT_MS = 120_000  # a loaded 2-core machine answers in seconds; the margin is for CI


@pytest.fixture(scope="module")
def app_url(small_pipeline: Pipeline) -> Iterator[str]:
    demo = ui.build_app(pipeline=small_pipeline)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


@contextlib.contextmanager
def browser_page(url: str, width: int = 1400, height: int = 1000) -> Iterator[Any]:
    """A fresh browser page; any request that leaves 127.0.0.1 is blocked and fails the test."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} not found: install Debian's Chromium with `apt-get install -y chromium`"
        )
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    console_errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        context = browser.new_context(viewport={"width": width, "height": height})
        local = re.compile(r"^(http://127\.0\.0\.1:\d+/|data:|blob:|about:)")

        def guard(route: Any) -> None:
            if local.match(route.request.url):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        context.route("**/*", guard)
        pg = context.new_page()
        pg.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        pg.set_default_timeout(TIMEOUT_MS)
        pg.goto(url)
        pg.wait_for_selector("#question textarea")
        try:
            yield pg
        finally:
            browser.close()
    assert not outside, f"the page tried to reach the outside: {outside}"
    assert not console_errors, f"errors in the browser console: {console_errors}"


@pytest.fixture
def page(app_url: str) -> Iterator[Any]:
    with browser_page(app_url) as pg:
        yield pg


IN_VIEW = """el => {
  const r = el.getBoundingClientRect(), panel = el.closest('.refs').getBoundingClientRect();
  const top = Math.max(panel.top, 0), bottom = Math.min(panel.bottom, window.innerHeight);
  return r.height > 0 && r.top < bottom && r.bottom > top;
}"""


def ask(page: Any, question: str, answers_before: int) -> Any:
    """Type a question, press Enter, wait until the checked answer is shown; return its element."""
    page.fill("#question textarea", question)
    page.press("#question textarea", "Enter")
    done = page.locator("#chat .answer-meta")
    page.wait_for_function(
        "n => document.querySelectorAll('#chat .answer-meta').length > n",
        arg=answers_before,
        timeout=TIMEOUT_MS,
    )
    assert done.count() == answers_before + 1
    bots = page.locator('#chat [data-testid="bot"]')
    return bots.nth(bots.count() - 1)


def test_ask_follow_the_citation_and_ask_a_follow_up(page: Any) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    examples = page.locator("#chat").get_by_text(re.compile(r"^What does .+ propose\?$"))
    examples.first.wait_for()  # filled in when the page loads, from indexed titles
    assert examples.count() >= 2

    first = ask(page, "What is Matryoshka Representation Learning?", 0)
    assert re.search(r"\[\d+\]", first.inner_text())
    links = first.locator("a.cite")
    assert links.count() >= 1
    assert "extractive answer" in first.inner_text()
    # The box is cleared for the next question.
    assert page.locator("#question textarea").input_value() == ""

    # Follow the first citation: the references panel shows that paper with the quote highlighted.
    target_id = links.first.get_attribute("href").lstrip("#")
    links.first.click()
    ref = page.locator(f"#references #{target_id}")
    page.wait_for_selector(f"#references #{target_id}.targeted")
    assert ref.evaluate(IN_VIEW), "the cited paper was not scrolled into view"
    assert MRL_TITLE in ref.locator(".ref-title").inner_text()
    quote = ref.locator("mark")
    assert quote.count() == 1 and len(quote.inner_text()) > 40
    assert quote.inner_text() in ref.locator(".ref-abstract").inner_text()
    page.screenshot(path=str(ARTIFACTS / "chat-answer.png"))

    # A follow-up that leans on the first answer ("its") is understood in context.
    second = ask(page, "How much smaller are its embeddings?", 1)
    assert second.locator("a.cite").count() >= 1
    latest = page.locator("#references .refs-turn.latest")
    assert "Q2" in latest.locator(".refs-q").inner_text()
    assert MRL_TITLE in latest.inner_text()
    folded = page.locator("#references details.refs-turn")
    assert folded.count() == 1 and folded.get_attribute("open") is None

    # A citation in the first answer unfolds the first turn's references.
    first.locator("a.cite").first.click()
    page.wait_for_selector(f"#references details[open] #{target_id}.targeted")
    assert ref.evaluate(IN_VIEW)
    page.screenshot(path=str(ARTIFACTS / "chat-follow-up.png"))

    # New chat clears the conversation and the references.
    page.click("#new-chat")
    page.wait_for_function("() => document.querySelectorAll('#chat .answer-meta').length === 0")
    assert page.locator("#references .ref").count() == 0


def test_collection_tab_searches_and_shows_a_paper(page: Any) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.get_by_role("tab", name="Collection").click()
    page.wait_for_selector("#papers table")
    assert "67" in page.locator("table.stats").inner_text()  # index statistics

    rows = page.locator("#papers").get_by_role("row")  # the header row, then one row per paper
    rows.nth(5).wait_for()  # the table holds the collection (it renders the rows in view)
    page.fill("#search input, #search textarea", "matryoshka")
    page.wait_for_function("() => document.querySelectorAll('#papers [role=row]').length === 3")
    titles = [
        rows.nth(i).get_by_role("gridcell").first.inner_text() for i in range(1, rows.count())
    ]
    assert sorted(titles) == ["2D Matryoshka Sentence Embeddings", MRL_TITLE]
    rows.filter(has_text=MRL_TITLE).get_by_role("gridcell").first.click()
    card = page.locator(".paper-card")
    card.wait_for()
    assert MRL_TITLE in card.inner_text() and "granularities" in card.inner_text()
    page.screenshot(path=str(ARTIFACTS / "collection.png"), full_page=True)


# -- uploads, undated papers, and the page's small fixes ------------------------------------
SAMPLE_LISTING = (
    Path(__file__).resolve().parents[1]
    / "rag_papers"
    / "data"
    / "sample"
    / "004_9055317b84f6e392.txt"
)
NO_PAPERS = "No papers are indexed yet"
LABELS_WITH_HTML = """() => [...document.querySelectorAll('#chat [aria-label]')]
  .map(el => el.getAttribute('aria-label')).filter(l => l.includes("'s message: "))"""
PLACEHOLDER_FITS = """el => {
  const style = getComputedStyle(el);
  const ctx = document.createElement('canvas').getContext('2d');
  ctx.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
  const room = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return {text: ctx.measureText(el.placeholder).width, room: room};
}"""


@pytest.fixture
def empty_url(tmp_path: Path, small_pipeline: Pipeline) -> Iterator[str]:
    """The page over an empty data directory (the small index's embedding model, to stay quick)."""
    from rag_papers.qa.retrieve import Retriever
    from rag_papers.settings import Settings

    settings = Settings(home=tmp_path / "home", mode="extractive")
    retriever = Retriever(settings, embed_model=small_pipeline.retriever.embed_model)
    demo = ui.build_app(pipeline=Pipeline(settings, retriever=retriever))
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


def test_upload_papers_into_an_empty_collection(empty_url: str, tmp_path: Path) -> None:
    from rag_papers.readers import read_listing

    ARTIFACTS.mkdir(exist_ok=True)
    papers = read_listing(SAMPLE_LISTING).papers
    mrl = next(p for p in papers if p.title == MRL_TITLE)
    upload = tmp_path / "my-papers.jsonl"
    rows = [mrl, *[p for p in papers if p.title != MRL_TITLE][:3]]
    upload.write_text(
        "\n".join(json.dumps({"title": p.title, "abstract": p.abstract}) for p in rows) + "\n"
    )
    with browser_page(empty_url) as page:
        page.wait_for_selector("#empty-store", state="visible")
        page.fill("#question textarea", "What is Matryoshka Representation Learning?")
        page.press("#question textarea", "Enter")
        page.locator("#chat").get_by_text(NO_PAPERS).wait_for()

        page.get_by_role("tab", name="Collection").click()
        page.locator("#upload input[type=file]").set_input_files(str(upload))
        page.locator("#upload").get_by_text("my-papers.jsonl").first.wait_for()
        page.click("#upload-index")
        status = page.locator("#upload-status")
        status.get_by_text("Done from my-papers.jsonl").wait_for()
        assert "read 4 papers: 4 new" in status.inner_text()
        page.wait_for_function(  # indexed files leave the upload box
            "() => !document.querySelector('#upload').innerText.includes('my-papers.jsonl')"
        )
        page.wait_for_function("() => document.querySelectorAll('#papers [role=row]').length === 5")
        page.screenshot(path=str(ARTIFACTS / "upload.png"), full_page=True)

        # Back in the conversation: the "no papers" exchange is gone, and the papers answer.
        page.get_by_role("tab", name="Ask").click()
        page.wait_for_selector("#empty-store", state="hidden")
        page.wait_for_function(
            "t => !document.querySelector('#chat').innerText.includes(t)", arg=NO_PAPERS
        )
        answer = ask(page, "What is Matryoshka Representation Learning?", 0)
        assert answer.locator("a.cite").count() >= 1
        assert "4 papers indexed" in page.locator("#status").inner_text()

        # A file that cannot be read: a message, no traceback.
        bad = tmp_path / "broken.jsonl"
        bad.write_bytes(b"PK\x03\x04\x00\x00" + bytes(range(200)))
        page.get_by_role("tab", name="Collection").click()
        page.locator("#upload input[type=file]").set_input_files(str(bad))
        page.locator("#upload").get_by_text("broken.jsonl").first.wait_for()
        page.click("#upload-index")
        status.get_by_text("Not indexed").wait_for()
        assert "could not be read" in status.inner_text()
        assert "Traceback" not in page.content()
        page.screenshot(path=str(ARTIFACTS / "upload-refused.png"), full_page=True)


def test_undated_note_labels_footer_and_the_collection_card(
    page: Any, small_pipeline: Pipeline
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    # Gradio's own footer "Settings" (theme, language) is hidden; the app's Settings stays.
    assert "Settings" not in page.locator("footer").inner_text()

    page.click("#settings button, #settings .label-wrap")
    year = page.get_by_label("From year").first
    year.fill("2020")
    year.press("Enter")
    answer = ask(page, "Which papers adapt one embedding to many budgets?", 0)
    note = answer.locator(".undated-note")
    note.wait_for()
    assert "without a publication date" in note.inner_text()
    assert "Include papers without a date" in note.inner_text()
    # not in the faint small print of the answer's meta line, where it went unnoticed
    color = "el => getComputedStyle(el).color"
    assert note.evaluate(color) != answer.locator(".answer-meta").evaluate(color)
    page.screenshot(path=str(ARTIFACTS / "undated-note.png"))

    # Screen readers get the message text, not our HTML.
    labels = page.evaluate(LABELS_WITH_HTML)
    assert labels and not [label for label in labels if "<" in label], labels

    # Ticking the Settings checkbox searches the undated papers too: no note on the next answer.
    page.click("#include-undated input")
    again = ask(page, "Which papers adapt one embedding to many budgets?", 1)
    assert again.locator(".undated-note").count() == 0

    # The Collection tab: a year filter says what it hid, and the card follows the filter.
    page.get_by_role("tab", name="Collection").click()
    title = next(
        str(m["title"])
        for m in small_pipeline.retriever.store.list_papers()
        if not m.get("year") and len(str(m["title"]).split()) >= 3
    )
    page.fill("#search input, #search textarea", " ".join(title.split()[:3]))
    row = page.locator("#papers").get_by_role("row").filter(has_text=title)
    row.first.get_by_role("gridcell").first.click()
    card = page.locator(".paper-card")
    card.wait_for()
    assert title in card.inner_text()
    browse_from = page.locator("#browse-from input")
    browse_from.fill("2020")
    browse_from.press("Enter")
    page.locator("#count").get_by_text("without a publication date hidden").wait_for()
    page.locator("#paper-card").get_by_text("Select a row").wait_for()
    assert page.locator(".paper-card").count() == 0
    page.screenshot(path=str(ARTIFACTS / "collection-undated.png"), full_page=True)
    page.click("#browse-undated input")
    page.wait_for_function("() => !document.querySelector('#count').innerText.includes('hidden')")


def test_narrow_window_shows_the_whole_placeholder(app_url: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    with browser_page(app_url, width=420, height=900) as page:
        box = page.locator("#question textarea")
        fit = box.evaluate(PLACEHOLDER_FITS)
        assert fit["text"] <= fit["room"], fit
        # The status line takes the width, the collection selector goes below it (the status
        # was squeezed into a 120 px column of seven lines beside the selector).
        status = page.locator("#status").bounding_box()
        selector = page.locator("#collection").bounding_box()
        assert status["width"] >= 300 and selector["y"] >= status["y"] + status["height"] - 1
        page.screenshot(path=str(ARTIFACTS / "narrow-420.png"), full_page=True)


def test_pick_a_collection_ask_and_download_the_answer(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Two collections: the selector switches to "refs", the answer cites its paper, and the
    download buttons give that answer as Markdown and its cited papers as BibTeX."""
    from rag_papers.index.ingest import ingest
    from rag_papers.settings import Settings

    lib = Path(__file__).resolve().parent / "fixtures" / "library"
    home = tmp_path_factory.mktemp("two_collections")
    ingest([lib / "hf_2024_subset.json"], settings=Settings(home=home), progress=False)
    ingest([lib / "refs.bib"], settings=Settings(home=home, collection="refs"), progress=False)
    demo = ui.build_app(pipeline=Pipeline(Settings(home=home, mode="extractive")))
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        with browser_page(f"http://127.0.0.1:{port}/") as pg:
            assert pg.locator("#download-markdown").is_disabled()  # nothing answered yet
            # A question typed before switching survives the switch (it used to be wiped).
            pg.fill("#question textarea", "What does MoE-Mamba combine?")
            pg.locator("#collection input").click()
            pg.get_by_role("option", name="refs").click()
            pg.wait_for_function(
                "() => document.querySelector('#status').innerText.includes('8 papers')"
            )
            pg.wait_for_timeout(500)  # let every step of the switch reach the page
            assert pg.locator("#question textarea").input_value() == "What does MoE-Mamba combine?"
            answer = ask(pg, "What does MoE-Mamba combine?", 0)
            assert "MoE-Mamba" in pg.locator("#references").inner_text()
            assert answer.locator("a.cite").count() >= 1
            button = pg.locator("#download-markdown")
            pg.wait_for_function(
                "() => !document.querySelector('#download-markdown').disabled", timeout=TIMEOUT_MS
            )
            pg.screenshot(path=str(ARTIFACTS / "collection-download.png"), full_page=True)
            with pg.expect_download() as got:
                button.click()
            text = Path(got.value.path()).read_text(encoding="utf-8")
            assert text.startswith("**Q:** What does MoE-Mamba combine?")
            assert "MoE-Mamba" in text and "[1]: " in text
            with pg.expect_download() as got_bib:
                pg.locator("#download-bibtex").click()
            assert "@" in Path(got_bib.value.path()).read_text(encoding="utf-8")
    finally:
        demo.close()
