"""An Answer as a terminal shows it, and the streamed draft that it replaces.

On a tty: the answer wrapped to the terminal, numbered references (title, authors, date,
link, the supporting quote), the papers retrieved but not cited, and a line saying how the
answer was made. Piped: the same text without colour or wrapping, so it greps well. Every
string that came from a paper or a model is stripped of terminal control sequences first:
an abstract must not be able to move the cursor, retitle the window or hide text.
"""

from __future__ import annotations

import re
import shutil
import textwrap
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TextIO

from rag_papers.errors import RagPapersError
from rag_papers.qa.display import display_text
from rag_papers.sanitize import strip_controls
from rag_papers.types import Answer

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), other two-byte escapes, then any C0/C1
# control character except newline and tab.
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
DEFAULT_WIDTH = 80
MAX_WIDTH = 100  # longer lines are hard to read even on a wide terminal


def clean(text: object) -> str:
    """Text safe to print: terminal control sequences and control characters removed."""
    return strip_controls(str(text))


def display_width(text: str) -> int:
    """Columns the text takes on a terminal (wide East Asian characters take two)."""
    text = _ANSI.sub("", text)
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def rows_used(text: str, columns: int) -> int:
    """Terminal rows `text` occupies when printed from the start of a row at this width."""
    columns = max(columns, 1)
    return sum(max(1, -(-display_width(line) // columns)) for line in text.split("\n"))


@dataclass
class Style:
    """Colour and wrapping for one output stream: none of either when it is not a terminal."""

    color: bool = False
    width: int | None = None  # None: do not wrap

    def paint(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color and text else text

    def bold(self, text: str) -> str:
        return self.paint(text, "1")

    def dim(self, text: str) -> str:
        return self.paint(text, "2")

    def accent(self, text: str) -> str:
        return self.paint(text, "36")

    def wrap(self, text: str, indent: str = "", first: str | None = None) -> str:
        first = indent if first is None else first
        if not self.width:
            return first + text
        return textwrap.fill(
            text,
            width=max(self.width, 20),
            initial_indent=first,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        )


def style_for(stream: TextIO, columns: int | None = None) -> Style:
    if not stream.isatty():
        return Style()
    width = min(columns or DEFAULT_WIDTH, MAX_WIDTH)
    return Style(color=True, width=width - 1)


# -- the answer ---------------------------------------------------------------------------
def mode_words(answer: Answer) -> str:
    if answer.mode == "extractive":
        return "extractive (sentences quoted from the abstracts, no LLM)"
    return f"written by {answer.model or 'the LLM'}"


def paper_date(meta: dict[str, object] | None, published: str | None = None) -> str:
    meta = meta or {}
    return clean(published or meta.get("published") or meta.get("date_text") or "date unknown")


def paper_link(meta: dict[str, object] | None, url: str | None = None) -> str:
    meta = meta or {}
    link = str(url or meta.get("url") or "")
    if link.startswith(("http://", "https://")):
        return clean(link)
    arxiv_id = str(meta.get("arxiv_id") or "")
    return f"https://arxiv.org/abs/{clean(arxiv_id)}" if arxiv_id else ""


def paper_authors(meta: dict[str, object] | None) -> str:
    meta = meta or {}
    names = [a.strip() for a in str(meta.get("authors") or "").split(";") if a.strip()]
    if names:
        shown = ", ".join(names[:3]) + (" et al." if len(names) > 3 else "")
        return clean(shown)
    try:
        n = int(str(meta.get("n_authors") or -1))
    except ValueError:
        n = -1
    return f"{n} author{'s' if n != 1 else ''}" if n > 0 else ""


def filter_note(answer: Answer) -> str:
    """What a date filter left out, or '' (papers without a date cannot match a date range)."""
    n = int(getattr(answer, "undated_excluded", 0) or 0)
    if not n:
        return ""
    return (
        f"{n} paper{'s' if n != 1 else ''} without a publication date "
        f"{'were' if n != 1 else 'was'} left out by the date filter; "
        "add --include-undated to search them too."
    )


def render_answer(answer: Answer, style: Style | None = None) -> str:
    """The whole answer for a terminal (or a pipe): text, references, other papers, how."""
    s = style or Style()
    out: list[str] = []
    text = clean(answer.text).strip()
    for para in text.split("\n"):
        out.append(s.wrap(para) if para.strip() else "")
    if answer.abstained:
        out.append("")
        out.append(
            s.dim(
                s.wrap(
                    "Try rephrasing the question, widening --year/--since/--until, "
                    "or retrieving more papers with --k."
                )
            )
        )
    papers = {p.paper_id: p for p in answer.contexts}  # a citation's number is not its rank
    if answer.citations:
        out += ["", s.bold("References")]
        for c in answer.citations:
            meta = papers[c.paper_id].metadata if c.paper_id in papers else {}
            num = f"[{c.number}] "
            pad = " " * len(num)
            out.append(s.bold(s.wrap(clean(display_text(c.title)), pad, num)))
            details = [paper_authors(meta), paper_date(meta, c.published or c.date_text)]
            link = paper_link(meta, c.url)
            out.append(s.wrap(" · ".join(d for d in details if d), pad))
            if link:
                out.append(pad + s.accent(link))
            if c.quote:
                note = "  (citation added by the checker)" if c.added_by_code else ""
                out.append(s.dim(s.wrap(f"“{clean(c.quote)}”{note}", pad)))
    if answer.also_retrieved:
        out += ["", s.bold("Also retrieved, not cited")]
        for p in answer.also_retrieved:  # bulleted: numbers here would read as citations
            bits = [paper_date(p.metadata)]
            link = paper_link(p.metadata)
            if link:
                bits.append(link)
            out.append(s.wrap(f"{clean(display_text(p.title))} ({' · '.join(bits)})", "  ", "- "))
    notes = []
    if answer.dropped_citations:
        notes.append(
            f"removed citations to unknown sources: {', '.join(map(str, answer.dropped_citations))}"
        )
    note = filter_note(answer)
    if note:
        notes.append(note)
    total = answer.timings.get("total", 0.0)
    how = f"{mode_words(answer)} · {len(answer.contexts)} papers searched · {total:.2f} s"
    out.append("")
    out += [s.dim(s.wrap(line)) for line in [*notes, how]]
    return "\n".join(out)


# -- the streamed draft -------------------------------------------------------------------
class Draft:
    """Streamed answer text on a terminal, erased exactly before the checked answer is printed.

    It counts the rows the text occupies at the terminal's width, so clearing moves the
    cursor up over every wrapped line (a bare carriage return reaches only the last one).
    Text that would no longer fit on the screen is not shown: rows that scrolled away could
    not be erased.
    """

    def __init__(self, stream: TextIO, columns: int, lines: int) -> None:
        self.stream = stream
        self.columns = max(columns, 1)
        self.max_rows = max(lines - 2, 1)
        self.text = ""
        self.shown = ""
        self.full = False

    def add(self, piece: str) -> None:
        if self.full:
            return
        candidate = self.text + clean(piece).replace("\t", " ")
        if rows_used(candidate, self.columns) > self.max_rows:
            self.full = True
            return
        self.stream.write(candidate[len(self.text) :])
        self.stream.flush()
        self.text = self.shown = candidate

    def clear(self) -> None:
        if not self.shown:
            return
        up = rows_used(self.shown, self.columns) - 1
        # A line that exactly fills the width leaves the cursor on it, not below: no extra row.
        self.stream.write("\r" + (f"\x1b[{up}A" if up else "") + "\x1b[J")
        self.stream.flush()
        self.text = self.shown = ""


def show_answer(items: Iterable[str | Answer], out: TextIO) -> Answer:
    """Stream the draft (on a terminal), then replace it with the checked, rendered answer."""
    size = shutil.get_terminal_size()
    draft = Draft(out, size.columns, size.lines) if out.isatty() else None
    final: Answer | None = None
    try:
        for item in items:
            if isinstance(item, Answer):
                final = item
            elif draft is not None:
                draft.add(item)
    finally:
        if draft is not None:
            draft.clear()
    if final is None:  # pragma: no cover - every stream ends with its Answer
        raise RagPapersError("the answer stream ended without an answer")
    out.write(render_answer(final, style_for(out, size.columns)) + "\n")
    out.flush()
    return final
