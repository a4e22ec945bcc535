"""The chat page in a real browser: Debian's headless Chromium driven by Playwright.

What the API tests cannot see: the streamed answer rendered in the page, citation links that
scroll the references panel to their paper, the highlighted quote, and that the page loads
nothing from outside this machine (no CDN fonts, no analytics). Screenshots go to
test-artifacts/ at the repository root.

Needs `apt-get install -y chromium` (Playwright's own browser download is not used).
"""

from __future__ import annotations

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


@pytest.fixture
def page(app_url: str) -> Iterator[Any]:
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
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
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
        pg.goto(app_url)
        pg.wait_for_selector("#question textarea")
        try:
            yield pg
        finally:
            browser.close()
    assert not outside, f"the page tried to reach the outside: {outside}"
    assert not console_errors, f"errors in the browser console: {console_errors}"


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
