"""The data that flows through rag_papers: papers in, answers out."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

_ARXIV_ID = re.compile(r"(\d{4}\.\d{4,5})(v\d+)?")
# Ids before April 2007: archive/YYMMNNN (hep-th/9901001), sometimes written with the subject
# class (math.GT/0309136, which arXiv knows as math/0309136). Only arXiv's own archive names
# count, so a path such as /papers/1234567 in some URL is never read as an id.
_OLD_ARCHIVES = (
    "acc-phys|adap-org|alg-geom|ao-sci|astro-ph|atom-ph|bayes-an|chao-dyn|chem-ph|cmp-lg|"
    "comp-gas|cond-mat|cs|dg-ga|funct-an|gr-qc|hep-ex|hep-lat|hep-ph|hep-th|math-ph|math|"
    "mtrl-th|nlin|nucl-ex|nucl-th|patt-sol|physics|plasm-ph|q-alg|q-bio|quant-ph|solv-int|"
    "supr-con"
)
_OLD_ARXIV_ID = re.compile(
    rf"(?<![\w-])({_OLD_ARCHIVES})(?:\.[A-Za-z-]{{2,}})?/(\d{{7}})(?:v\d+)?(?!\d)",
    re.IGNORECASE,
)


def normalize_title(title: str) -> str:
    """Fold case, accents, punctuation and white space so one paper has one key.

    Listing files wrap and punctuate the same title differently; this is the key used
    to dedupe papers without an arXiv id and to match gold titles in evaluations.
    """
    if title.isascii():  # most titles: NFKD and the accent filter would change nothing
        text = title.lower()
    else:
        text = unicodedata.normalize("NFKD", title)
        text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = re.sub(r"[^\w]+", " ", text)
    return " ".join(text.split())


def clean_arxiv_id(value: str | None) -> str | None:
    """Return the bare arXiv id found in an id or URL, without version: new-style
    (2103.00020) or old-style (hep-th/9901001; a subject class is dropped, math.GT/0309136
    -> math/0309136)."""
    if not value:
        return None
    m = _ARXIV_ID.search(value)
    if m:
        return m.group(1)
    old = _OLD_ARXIV_ID.search(value)
    return f"{old.group(1).lower()}/{old.group(2)}" if old else None


class ProgressCallback(Protocol):
    """Told what a long job is doing: `progress("embedding", 640, 2314)`.

    Called when a phase starts (done=0, total None when unknown) and as it advances; the
    front ends decide how to show it (a status line, a log line, the page's bar).
    """

    def __call__(self, phase: str, done: int = 0, total: int | None = None) -> None: ...


def paper_id_of(arxiv_id: str | None, title_key: str) -> str:
    """`Paper.paper_id` from the arXiv id and the normalised title alone."""
    if arxiv_id:
        return f"arxiv:{arxiv_id}"
    return f"title:{hashlib.sha1(title_key.encode()).hexdigest()[:16]}"


@dataclass
class Paper:
    """One paper as read from a collection; the unit that is deduplicated and cited."""

    title: str
    abstract: str
    authors: list[str] = field(default_factory=list)
    n_authors: int | None = None
    published: str | None = None  # ISO date (YYYY-MM-DD) or None; never a guessed year
    date_text: str | None = None  # the date as the source showed it, e.g. "Apr 1"
    url: str | None = None
    arxiv_id: str | None = None
    categories: list[str] = field(default_factory=list)
    source: str = ""  # file:line it was read from (first occurrence)
    doi: str | None = None  # from reference-manager exports; kept for BibTeX export
    venue: str | None = None  # journal or proceedings title, when the source names one

    @property
    def year(self) -> int | None:
        return int(self.published[:4]) if self.published else None

    @property
    def paper_id(self) -> str:
        """Stable id: the arXiv id when known, else a hash of the normalised title."""
        return paper_id_of(self.arxiv_id, normalize_title(self.title))

    @property
    def dedup_key(self) -> str:
        return normalize_title(self.title)

    @property
    def content_hash(self) -> str:
        """Changes when anything that is embedded or shown changes; drives incremental ingest."""
        parts = [
            self.title,
            self.abstract,
            "|".join(self.authors),
            str(self.n_authors),
            str(self.published),
            str(self.date_text),
            str(self.url),
            "|".join(self.categories),
        ]
        if self.doi or self.venue:  # only then, so hashes of papers without them never change
            parts += [str(self.doi), str(self.venue)]
        return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["paper_id"] = self.paper_id
        d["year"] = self.year
        return d


@dataclass
class Citation:
    """A numbered reference in an answer, with the sentence of the abstract that supports it."""

    number: int
    paper_id: str
    title: str
    url: str | None
    published: str | None
    quote: str
    score: float
    date_text: str | None = None
    added_by_code: bool = False  # True when post-hoc attribution added it to an uncited sentence
    rank: int | None = None  # the paper's retrieval rank (1 = best); `number` follows the text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RetrievedPaper:
    """One paper returned by retrieval, with the chunks that matched and its fused score."""

    paper_id: str
    title: str
    abstract: str
    score: float
    metadata: dict[str, Any] = field(default_factory=dict)
    chunks: list[str] = field(default_factory=list)
    dense_rank: int | None = None
    bm25_rank: int | None = None
    dense_score: float | None = None  # best cosine similarity of its chunks to the question
    bm25_score: float | None = None

    @property
    def url(self) -> str | None:
        return self.metadata.get("url") or None

    @property
    def published(self) -> str | None:
        return self.metadata.get("published") or None

    @property
    def date_text(self) -> str | None:
        return self.metadata.get("date_text") or None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Answer:
    """What answer() returns: text with [n] markers plus everything needed to check it."""

    question: str
    text: str
    citations: list[Citation]
    abstained: bool
    contexts: list[RetrievedPaper]
    mode: str
    model: str
    usage: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    settings_hash: str = ""
    dropped_citations: list[int] = field(default_factory=list)
    standalone_question: str | None = None
    # Papers without a known date that a date filter left out (they cannot match a range).
    undated_excluded: int = 0
    # Papers retrieval returned that the answer does not cite, in rank order ("also retrieved").
    also_retrieved: list[RetrievedPaper] = field(default_factory=list)

    @property
    def references(self) -> list[Citation]:
        return self.citations

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return d
