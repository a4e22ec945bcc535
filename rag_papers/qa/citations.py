"""Citations: the one parser of [n] markers, checking the numbers a model wrote, post-hoc
attribution of uncited sentences, and one Citation per source with its supporting quote."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rag_papers.qa.display import display_text, is_boilerplate
from rag_papers.qa.evidence import content_terms, split_sentences
from rag_papers.types import Citation

if TYPE_CHECKING:
    from rag_papers.qa.support import Evidence
    from rag_papers.types import RetrievedPaper

CANNOT_ANSWER = "The indexed papers do not answer this question."

# One marker: [1], [1, 2], [1; 3]. The only copy of this pattern in the package.
MARKER = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_LIST_SEP = re.compile(r"\s*[,;]\s*")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")

# Post-hoc attribution: an uncited sentence gets a citation when one source supports it this
# well, and clearly better than the next source.
ATTRIBUTE_MIN = 0.5
ATTRIBUTE_MARGIN = 0.05
QUOTE_TIE = 0.05  # quotes supported within this much of the best are a tie (best_quote)


def marker_numbers(match: re.Match[str]) -> list[int]:
    """The numbers of one marker match, in the order written."""
    return [int(x) for x in _LIST_SEP.split(match.group(1))]


def cited_numbers(text: str) -> list[int]:
    """Every source number cited in the text, in order, repeats kept."""
    nums: list[int] = []
    for m in MARKER.finditer(text):
        nums.extend(marker_numbers(m))
    return nums


def strip_markers(text: str, replacement: str = "") -> str:
    """The text without its [n] markers."""
    return MARKER.sub(replacement, text)


def has_marker(text: str) -> bool:
    return MARKER.search(text) is not None


def attributed_numbers(before: str, after: str) -> set[int]:
    """Numbers cited more often after attribution than the model cited them."""
    b, a = cited_numbers(before), cited_numbers(after)
    return {n for n in set(a) if a.count(n) > b.count(n)}


def drop_unknown_citations(text: str, n_sources: int) -> tuple[str, list[int]]:
    """Remove [n] markers for numbers that were never given as sources; return them too."""
    dropped: list[int] = []

    def fix(m: re.Match[str]) -> str:
        nums = marker_numbers(m)
        keep = [n for n in nums if 1 <= n <= n_sources]
        dropped.extend(n for n in nums if not 1 <= n <= n_sources)
        return "".join(f"[{n}]" for n in keep)

    text = MARKER.sub(fix, text)
    return re.sub(r"[ \t]+([.,;:])", r"\1", text), dropped


def is_abstention(text: str) -> bool:
    norm = " ".join(text.lower().split())
    return not norm or CANNOT_ANSWER.lower().rstrip(".") in norm


def strip_end(sentence: str) -> str:
    return sentence.rstrip().rstrip(".!?;:").rstrip()


def end_punct(sentence: str) -> str:
    m = re.search(r"[.!?]+$", sentence)
    return m.group(0) if m else "."


def split_sentences_keep_layout(text: str) -> list[str]:
    """Sentences with their trailing white space, so joining them gives the text back."""
    return [s for s in re.split(r"(?<=[.!?])(?=\s)|(?<=\n)", text) if s]


def attribute(text: str, contexts: list[RetrievedPaper], evidence: Evidence) -> str:
    """Append [n] to uncited sentences that exactly one source clearly supports."""
    out = []
    for sent in split_sentences_keep_layout(text):
        body = sent.strip()
        if not body or has_marker(body) or len(content_terms(body)) < 3:
            out.append(sent)
            continue
        vec = evidence.text_vector(body)
        scored = sorted(
            ((evidence.support(body, p, vec)[0].score, n) for n, p in enumerate(contexts, start=1)),
            reverse=True,
        )
        top, n = scored[0]
        second = scored[1][0] if len(scored) > 1 else 0.0
        if top >= ATTRIBUTE_MIN and top - second >= ATTRIBUTE_MARGIN:
            trail = sent[len(sent.rstrip()) :]
            sent = f"{strip_end(sent.rstrip())} [{n}]{end_punct(sent.rstrip())}{trail}"
        out.append(sent)
    return "".join(out)


def cite(text: str, contexts: list[RetrievedPaper], evidence: Evidence) -> list[Citation]:
    """One Citation per source number used (numbered as in the text: by retrieval rank), with
    the sentence of that paper that best supports a sentence citing it (`best_quote`)."""
    claims: dict[int, list[str]] = {}
    for sent in split_sentences(text):
        for n in dict.fromkeys(cited_numbers(sent)):
            claims.setdefault(n, []).append(strip_markers(sent).strip())
    citations = []
    for n in sorted(claims, key=lambda m: first_marker(text, m)):
        paper = contexts[n - 1]
        quote = best_quote(claims[n], paper, evidence)
        citations.append(
            Citation(
                number=n,
                paper_id=paper.paper_id,
                title=paper.title,
                url=paper.url,
                published=paper.published,
                date_text=paper.date_text,
                quote=display_text(quote),
                score=round(paper.score, 6),
                rank=n,
            )
        )
    return citations


def best_quote(claims: list[str], paper: RetrievedPaper, evidence: Evidence) -> str:
    """The abstract sentence that best supports any one of the claims citing the paper.

    Each claim is scored on its own (joining them would blur a specific claim, such as a
    number, into the others); a sentence that states the claim's numbers is preferred. Quoted
    claims each support themselves fully, so near ties are common: among the sentences within
    QUOTE_TIE of the best, the quote is the one supporting the earliest claim, the first
    sentence citing the paper (rather than whichever float noise favours).
    """
    scores: dict[str, float] = {}
    for claim in claims:
        numbers = set(_NUMBER.findall(claim))
        for sup in evidence.support(claim, paper)[:6]:
            if is_boilerplate(sup.sentence):
                continue
            score = sup.score
            if numbers:
                score += (
                    0.2
                    * len(numbers & set(_NUMBER.findall(display_text(sup.sentence))))
                    / len(numbers)
                )
            scores[sup.sentence] = max(score, scores.get(sup.sentence, score))
    if not scores:
        return (split_sentences(paper.abstract) or [paper.title])[0]
    top = max(scores.values())
    near = [s for s, v in scores.items() if v >= top - QUOTE_TIE]
    return near[0]


def first_marker(text: str, n: int) -> int:
    """Where source n is first cited in the text (len(text) when it is not)."""
    for m in MARKER.finditer(text):
        if n in marker_numbers(m):
            return m.start()
    return len(text)


def renumber(text: str, citations: list[Citation] | None = None) -> str:
    """Number citations 1..n in order of first appearance in the text (they arrive numbered
    by retrieval rank); the citations' `number` follows, their `rank` keeps the old number."""
    order: dict[int, int] = {}
    for m in MARKER.finditer(text):
        for n in marker_numbers(m):
            order.setdefault(n, len(order) + 1)

    def fix(m: re.Match[str]) -> str:
        return "".join(f"[{order[n]}]" for n in dict.fromkeys(marker_numbers(m)))

    for c in citations or []:
        c.rank = c.number
        c.number = order.get(c.number, c.number)
    if citations:
        citations.sort(key=lambda c: c.number)
    return MARKER.sub(fix, text)


class StreamRenumber:
    """Stream filter: the [n] markers of a streamed reply renumbered 1..n by first
    appearance, as `renumber` numbers the finished answer, so the draft a reader watches
    cites the same numbers as the answer that replaces it. A marker split across deltas is
    held back until it closes; numbers that are not sources stay as written (finish() drops
    them)."""

    HOLD = 24  # an unclosed "[" further back than this is text, not a marker

    def __init__(self, n_sources: int) -> None:
        self.n_sources = n_sources
        self.order: dict[int, int] = {}
        self._pending = ""

    def feed(self, delta: str) -> str:
        text = self._pending + delta
        cut = text.rfind("[")
        if cut >= 0 and "]" not in text[cut:] and len(text) - cut <= self.HOLD:
            text, self._pending = text[:cut], text[cut:]
        else:
            self._pending = ""
        return MARKER.sub(self._fix, text)

    def flush(self) -> str:
        rest, self._pending = self._pending, ""
        return MARKER.sub(self._fix, rest)

    def _fix(self, m: re.Match[str]) -> str:
        numbers = marker_numbers(m)
        if not all(1 <= n <= self.n_sources for n in numbers):
            return m.group(0)
        for n in numbers:
            self.order.setdefault(n, len(self.order) + 1)
        return "".join(f"[{self.order[n]}]" for n in dict.fromkeys(numbers))


__all__ = [
    "CANNOT_ANSWER",
    "StreamRenumber",
    "MARKER",
    "attribute",
    "attributed_numbers",
    "cite",
    "cited_numbers",
    "drop_unknown_citations",
    "is_abstention",
    "renumber",
    "strip_markers",
]
