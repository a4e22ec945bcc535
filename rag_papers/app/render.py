"""HTML and Markdown for the chat page: answers, references, statistics, paper cards.

Pure functions of the library's data (Answer, Citation, paper metadata) so the page's look
can be tested and changed without starting a server. Everything that comes from a paper or
a user is escaped here; the only markup in the output is ours.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rag_papers.errors import (
    ConfigError,
    EmbeddingMismatchError,
    IndexNotFoundError,
    InputError,
    LLMError,
    QuestionError,
    RagPapersError,
)
from rag_papers.qa.citations import CANNOT_ANSWER, MARKER, marker_numbers
from rag_papers.qa.display import display_text
from rag_papers.types import Answer, Citation

if TYPE_CHECKING:
    from rag_papers.index.ingest import IngestSummary

# Characters Markdown would otherwise read as formatting in an abstract sentence.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>$-])")
CURSOR = "▍"
PENDING = '<span class="pending">Searching the papers…</span>'

REFERENCES_EMPTY = (
    '<div class="refs-empty">Ask a question: every <b>[n]</b> in an answer links to its paper here, '
    "with the sentence of the abstract that supports it highlighted.</div>"
)


@dataclass
class Turn:
    """One answered (or failed) question, as the references panel shows it."""

    number: int
    question: str
    answer: Answer | None = None


# -- text helpers -----------------------------------------------------------------------
def escape_markdown(text: str) -> str:
    """Text shown literally inside Markdown: HTML escaped, Markdown syntax neutralised."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def ref_id(turn: int, number: int) -> str:
    return f"ref-{turn}-{number}"


def _cite_link(turn: int, number: int) -> str:
    return f'<a class="cite" href="#{ref_id(turn, number)}" data-ref="{ref_id(turn, number)}">[{number}]</a>'


def link_citations(text: str, turn: int, known: set[int] | None = None) -> str:
    """Escape the answer text and turn each [n] (or [1, 2]) into links to the references panel."""
    out: list[str] = []
    pos = 0
    for m in MARKER.finditer(text):
        out.append(escape_markdown(text[pos : m.start()]))
        nums = marker_numbers(m)
        if known is not None and not all(n in known for n in nums):
            out.append(escape_markdown(m.group(0)))
        else:
            out.append("".join(_cite_link(turn, n) for n in nums))
        pos = m.end()
    out.append(escape_markdown(text[pos:]))
    return "".join(out)


def mode_label(answer: Answer) -> str:
    """How the answer was produced, in words a reader understands."""
    if answer.mode == "extractive":
        return "extractive answer (quoted from the abstracts, no LLM)"
    return f"written by {answer.model or 'the LLM'}"


def answer_meta(answer: Answer) -> str:
    parts = [mode_label(answer), f"{len(answer.contexts)} papers searched"]
    total = answer.timings.get("total")
    if total is not None:
        parts.append(f"{total:.1f} s")
    if answer.dropped_citations:
        n = len(answer.dropped_citations)
        parts.append(f"{n} citation{'s' if n > 1 else ''} to unknown sources removed")
    meta = f'\n\n<div class="answer-meta">{html.escape(" · ".join(parts))}</div>'
    return meta + undated_note(answer.undated_excluded)


def undated_note(n: int) -> str:
    """Say how many papers without a date the year filter left out, and how to include them."""
    if not n:
        return ""
    papers = f"{n} paper{'s' if n != 1 else ''} without a publication date"
    return (
        f'<div class="undated-note">{papers} {"were" if n != 1 else "was"} left out by the '
        "year filter. Tick “Include papers without a date” in Settings to search them too.</div>"
    )


# -- chat messages ----------------------------------------------------------------------
def user_markdown(question: str) -> str:
    return escape_markdown(question)


def draft_markdown(text: str) -> str:
    """The answer while it streams in: plain text and a cursor (citations are checked at the end)."""
    return escape_markdown(text) + CURSOR


def answer_markdown(answer: Answer, turn: int) -> str:
    """The checked answer: linked citations and a line saying how it was produced."""
    if answer.abstained:
        body = (
            '<div class="abstain"><b>No answer in the indexed papers.</b> '
            f"{html.escape(CANNOT_ANSWER)} Try rephrasing, widening the year range or retrieving "
            "more papers (Settings below).</div>"
        )
        return body + answer_meta(answer)
    known = {c.number for c in answer.citations}
    return link_citations(answer.text, turn, known) + answer_meta(answer)


def error_markdown(message: str) -> str:
    return f'<div class="chat-error">⚠ {html.escape(message)}</div>'


def friendly_error(exc: BaseException) -> str:
    """What a reader of the page is told; the log keeps the traceback."""
    if isinstance(exc, QuestionError):
        return f"Please check the question: {exc}."
    if isinstance(exc, IndexNotFoundError):
        return (
            "No papers are indexed yet. Use the “Index the bundled sample” button at the top of "
            'the page, add paper files under “Add papers”, or run "rag-papers ingest PATH" and reload.'
        )
    # Visitors get no server text (it can hold URLs, paths or what a model server echoed);
    # the server log has the details.
    if isinstance(exc, InputError):
        return "The papers could not be read; check that the file is one of the formats listed."
    if isinstance(exc, LLMError):
        return (
            "The language model could not be reached or gave no usable answer. Choose the "
            "extractive answer mode in Settings to answer without it, or try again later."
        )
    if isinstance(exc, (ConfigError, EmbeddingMismatchError)):
        return "The assistant is misconfigured; the server log says what to fix."
    if isinstance(exc, RagPapersError):
        return "Could not answer this question; the server log has the details."
    return "Something went wrong on the server while answering. The server log has the details; please try again."


# -- references panel -------------------------------------------------------------------
def highlight(abstract: str, quote: str) -> str:
    """The abstract, escaped, with the supporting sentence in <mark> (white space may differ)."""
    words = quote.split()
    if not words:
        return html.escape(abstract)
    pattern = r"\s+".join(re.escape(w) for w in words)
    m = re.search(pattern, abstract)
    if m is None:  # the quote is not verbatim: show it above the abstract instead
        return f"<mark>{html.escape(quote)}</mark><br>{html.escape(abstract)}"
    return (
        html.escape(abstract[: m.start()])
        + f"<mark>{html.escape(m.group(0))}</mark>"
        + html.escape(abstract[m.end() :])
    )


def paper_link(url: str | None, arxiv_id: str | None = None) -> str | None:
    if url and url.startswith(("http://", "https://")):
        return url
    if arxiv_id:
        return f"https://arxiv.org/abs/{arxiv_id}"
    return None


def _date(published: str | None, date_text: str | None) -> str:
    return published or date_text or "date unknown"


def citation_html(turn: int, citation: Citation, abstract: str) -> str:
    url = paper_link(citation.url)
    title = html.escape(display_text(citation.title))
    title_html = (
        f'<a href="{html.escape(url)}" target="_blank" rel="noopener noreferrer">{title}</a>'
        if url
        else title
    )
    meta = [html.escape(_date(citation.published, citation.date_text))]
    meta.append(
        f'<a href="{html.escape(url)}" target="_blank" rel="noopener noreferrer">link</a>'
        if url
        else "no link in the source"
    )
    if citation.added_by_code:
        meta.append("citation added by the checker (the model left this sentence uncited)")
    return (
        f'<div class="ref" id="{ref_id(turn, citation.number)}">'
        f'<div class="ref-title"><span class="ref-n">[{citation.number}]</span> {title_html}</div>'
        f'<div class="ref-meta">{" · ".join(meta)}</div>'
        f'<div class="ref-abstract">{highlight(abstract, citation.quote)}</div>'
        "</div>"
    )


def _turn_refs(turn: Turn) -> str:
    answer = turn.answer
    if answer is None:
        return '<div class="refs-none">No answer (see the message in the chat).</div>'
    if answer.abstained or not answer.citations:
        none = '<div class="refs-none">No paper supports an answer to this question.</div>'
        return none + also_html(answer)
    # As the answer shows them: LaTeX rendered and wraps removed, so quotes match verbatim.
    abstracts = {n: display_text(p.abstract) for n, p in enumerate(answer.contexts, start=1)}
    cited = "".join(
        citation_html(turn.number, c, abstracts.get(c.rank or c.number, ""))
        for c in answer.citations
    )
    return cited + also_html(answer)


def also_html(answer: Answer) -> str:
    """The papers retrieval returned that the answer does not cite, so a reader sees what was
    searched (a list without numbers: numbers here would read as citations)."""
    items = []
    for paper in answer.also_retrieved:
        title = html.escape(display_text(paper.title))
        url = paper_link(paper.url, paper.metadata.get("arxiv_id"))
        if url:
            title = f'<a href="{html.escape(url)}" target="_blank" rel="noopener noreferrer">{title}</a>'
        date = html.escape(_date(paper.published, paper.metadata.get("date_text")))
        items.append(f'<li>{title} <span class="ref-meta">{date}</span></li>')
    if not items:
        return ""
    head = '<div class="refs-also-head">Also retrieved, not cited</div>'
    return f'<div class="refs-also">{head}<ul>{"".join(items)}</ul></div>'


def references_html(turns: Sequence[Turn]) -> str:
    """Every turn's references, newest first; earlier turns folded (a citation link unfolds them)."""
    if not turns:
        return f'<div class="refs">{REFERENCES_EMPTY}</div>'
    blocks = []
    for i, turn in enumerate(reversed(turns)):
        question = html.escape(turn.question or "(empty question)")
        head = f'<span class="refs-qn">Q{turn.number}</span> {question}'
        body = _turn_refs(turn)
        if i == 0:
            blocks.append(
                f'<div class="refs-turn latest"><div class="refs-q">{head}</div>{body}</div>'
            )
        else:
            blocks.append(
                f'<details class="refs-turn"><summary class="refs-q">{head}</summary>{body}</details>'
            )
    return f'<div class="refs">{"".join(blocks)}</div>'


# -- collection tab ---------------------------------------------------------------------
def count_html(shown: int, total: int, undated_excluded: int = 0) -> str:
    """'12 of 445 papers', and how many undated papers the year filter hid."""
    text = f"{shown} of {total} papers"
    if undated_excluded:
        text += (
            f" · {undated_excluded} without a publication date hidden by the year filter "
            "(tick “Include papers without a date” to list them)"
        )
    return f'<div class="status-line" id="collection-count">{html.escape(text)}</div>'


DONE = "**Done"  # how an ingest summary for the page starts


def ingest_summary(summary: IngestSummary, names: Sequence[str] = ()) -> str:
    """What an ingest from the page did, as Markdown: the summary line and the first warnings."""
    source = f" from {', '.join(names)}" if names else ""
    lines = [f"{DONE}{escape_markdown(source)}:** {escape_markdown(summary.line())}."]
    warnings = list(summary.warnings)
    for warning in warnings[:5]:
        lines.append(f"- warning: {escape_markdown(str(warning))}")
    if len(warnings) > 5:
        lines.append(f"- … and {len(warnings) - 5} more warnings")
    return "\n".join(lines)


def upload_refused(message: str) -> str:
    return f"**Not indexed:** {escape_markdown(message)}"


# Not shown to visitors: where the store lives on the server (a local path) or its warnings
# that name files there; operators read those with `rag-papers stats`.
PRIVATE_STATS = ("store", "warning")


def stats_html(stats: dict[str, Any]) -> str:
    labels = {
        "papers": "Papers",
        "chunks": "Chunks",
        "embedding_model": "Embedding model",
        "embedding_dim": "Embedding dimension",
        "collection": "Collection",
        "last_ingest": "Last ingest (UTC)",
    }
    rows = "".join(
        f"<tr><th>{html.escape(labels.get(k, k))}</th><td>{html.escape('—' if v is None else str(v))}</td></tr>"
        for k, v in stats.items()
        if k not in PRIVATE_STATS
    )
    return f'<table class="stats">{rows}</table>'


def paper_html(meta: dict[str, Any] | None) -> str:
    """One paper from the collection table: title, date, authors, link, abstract."""
    if not meta:
        return '<div class="refs-empty">Select a row to read the paper’s abstract.</div>'
    url = paper_link(meta.get("url"), meta.get("arxiv_id"))
    title = html.escape(display_text(str(meta.get("title", ""))))
    if url:
        title = (
            f'<a href="{html.escape(url)}" target="_blank" rel="noopener noreferrer">{title}</a>'
        )
    bits = [html.escape(_date(meta.get("published"), meta.get("date_text")))]
    if meta.get("authors"):
        bits.append(html.escape(str(meta["authors"])))
    elif (meta.get("n_authors") or -1) > 0:
        bits.append(f"{meta['n_authors']} authors")
    if meta.get("categories"):
        bits.append(html.escape(str(meta["categories"])))
    return (
        f'<div class="ref paper-card"><div class="ref-title">{title}</div>'
        f'<div class="ref-meta">{" · ".join(bits)}</div>'
        f'<div class="ref-abstract">{html.escape(display_text(str(meta.get("abstract", ""))))}</div></div>'
    )


# -- page look --------------------------------------------------------------------------
CSS = """
.app-header h1 { margin-bottom: 0.1em; font-weight: 600; }
#papers, #papers table, #papers td, #papers th, #papers span { font-family: var(--font) !important; }
.app-header p { margin-top: 0; color: var(--body-text-color-subdued); }
.refs { font-size: 0.92rem; line-height: 1.45; max-height: 640px; overflow-y: auto; padding-right: 4px; }
.refs-empty, .refs-none { color: var(--body-text-color-subdued); padding: 0.6em 0; }
.refs-turn { margin-bottom: 0.9em; }
.refs-q { font-weight: 600; margin: 0.2em 0 0.5em; cursor: default; }
details.refs-turn > summary { cursor: pointer; color: var(--body-text-color-subdued); }
.refs-qn { display: inline-block; font-size: 0.75rem; padding: 0 0.45em; margin-right: 0.3em;
  border-radius: 4px; background: var(--color-accent-soft); color: var(--color-accent); }
.ref { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.6em 0.75em;
  margin-bottom: 0.6em; background: var(--background-fill-secondary); transition: box-shadow 0.3s; }
.ref.targeted { box-shadow: 0 0 0 2px var(--color-accent); }
.ref-title { font-weight: 600; }
.ref-n { color: var(--color-accent); margin-right: 0.2em; }
.ref-meta { font-size: 0.8rem; color: var(--body-text-color-subdued); margin: 0.15em 0 0.4em; }
.ref-abstract { font-size: 0.86rem; }
.refs-also { font-size: 0.86rem; margin-top: 0.4em; }
.refs-also-head { font-weight: 600; color: var(--body-text-color-subdued); }
.refs-also ul { margin: 0.2em 0 0 1.1em; padding: 0; }
.ref-abstract mark { background: #fde68a; color: inherit; padding: 0 1px; border-radius: 2px; }
a.cite { text-decoration: none; font-weight: 600; color: var(--color-accent); cursor: pointer; }
a.cite:hover { text-decoration: underline; }
.answer-meta { font-size: 0.78rem; color: var(--body-text-color-subdued); margin-top: 0.5em; }
.abstain { border-left: 3px solid #9ca3af; padding-left: 0.6em; }
.chat-error { border-left: 3px solid #f59e0b; padding-left: 0.6em; }
table.stats { border-collapse: collapse; font-size: 0.9rem; border: none !important; }
table.stats th, table.stats td { border: none !important; border-bottom: 1px solid var(--border-color-primary) !important;
  padding: 0.3em 1.5em 0.3em 0; text-align: left; background: none !important; }
table.stats th { font-weight: 600; }
.pending { color: var(--body-text-color-subdued); font-style: italic; }
.status-line { font-size: 0.85rem; color: var(--body-text-color-subdued); }
.undated-note { font-size: 0.85rem; color: var(--body-text-color); margin-top: 0.4em; padding: 0.3em 0.6em;
  border-left: 3px solid var(--color-accent); background: var(--background-fill-secondary); }
"""

# A citation link scrolls the references panel to its paper (unfolding an earlier turn) and
# flashes it; the page stays where it is instead of following the URL fragment.
HEAD = """
<script>
document.addEventListener("click", function (event) {
  const link = event.target.closest && event.target.closest("a.cite");
  if (!link) return;
  event.preventDefault();
  event.stopPropagation();
  const target = document.getElementById((link.getAttribute("href") || "").replace(/^#/, ""));
  if (!target) return;
  const folded = target.closest("details");
  if (folded) folded.open = true;
  target.scrollIntoView({behavior: "instant", block: "nearest"});
  document.querySelectorAll(".ref.targeted").forEach(function (el) { el.classList.remove("targeted"); });
  target.classList.add("targeted");
}, true);
// Gradio labels each chat message with its raw content, our HTML included: give screen
// readers the text instead (set only when it differs, so our own change does not loop).
function labelMessages() {
  document.querySelectorAll("#chat [aria-label]").forEach(function (el) {
    const label = el.getAttribute("aria-label");
    const at = label.indexOf("'s message: ");
    if (at < 0) return;
    const who = label.slice(0, at);
    const text = (el.innerText || el.textContent || "").replace(/\s+/g, " ").trim().slice(0, 600);
    const wanted = who + "'s message: " + text;
    if (label !== wanted) el.setAttribute("aria-label", wanted);
  });
}
new MutationObserver(labelMessages).observe(document.documentElement, {
  subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ["aria-label"]
});
</script>
"""
