"""Answers and collections in the formats researchers paste or import elsewhere.

- an answer as Markdown (the text with its numbered references: title, authors, date, link
  and the supporting quote; each [n] in the text is a reference-style link to its paper),
  as JSON, or its cited papers as BibTeX;
- a collection's papers as BibTeX, CSV or JSON Lines (the CSV and JSONL read back with
  `rag-papers ingest`, the BibTeX with any reference manager).

BibTeX keys are stable: built from the first author's family name, the year and the first
word of the title that is not a stop word (`pioro2024moemamba`), with a letter appended in
paper-id order when two papers would share one.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from rag_papers.types import Answer, Paper

ANSWER_FORMATS = ("text", "markdown", "json", "bibtex")
PAPER_FORMATS = ("text", "bibtex", "csv", "jsonl")
CSV_COLUMNS = (
    "paper_id",
    "title",
    "authors",
    "published",
    "date_text",
    "url",
    "arxiv_id",
    "doi",
    "venue",
    "categories",
    "abstract",
)
_STOP = {"a", "an", "the", "on", "of", "in", "for", "to", "and", "with", "is", "are", "do"}


# -- papers cited by an answer --------------------------------------------------------------


def cited_papers(answer: Answer) -> list[Paper]:
    """The papers an answer cites, in reference order, with the metadata retrieval returned."""
    from rag_papers.index.reconcile import paper_from_metadata

    by_id = {c.paper_id: c for c in answer.contexts}
    out = []
    for citation in answer.citations:
        context = by_id.get(citation.paper_id)
        meta: dict[str, Any] = dict(context.metadata) if context else {}
        meta.setdefault("title", citation.title)
        meta.setdefault("url", citation.url or "")
        meta.setdefault("published", citation.published or "")
        if context is not None and not meta.get("abstract"):
            meta["abstract"] = context.abstract
        out.append(paper_from_metadata(meta))
    return out


# -- BibTeX ---------------------------------------------------------------------------------


def _ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text)
    return re.sub(r"[^a-z0-9]", "", folded.encode("ascii", "ignore").decode().lower())


def _year(paper: Paper) -> str:
    for value in (paper.published, paper.date_text):
        m = re.search(r"\b(19|20)\d\d\b", value or "")
        if m:
            return m.group(0)
    return ""


def base_key(paper: Paper) -> str:
    family = paper.authors[0].split()[-1] if paper.authors else "anon"
    words = [_ascii_word(w) for w in re.split(r"[\s:/-]+", paper.title)]
    word = next((w for w in words if w and w not in _STOP), "paper")
    return f"{_ascii_word(family) or 'anon'}{_year(paper)}{word}"


def bibtex_keys(papers: Sequence[Paper]) -> list[str]:
    """One stable key per paper; papers sharing a key get a, b, ... in paper-id order."""
    bases = [base_key(p) for p in papers]
    keys = list(bases)
    for base in set(bases):
        same = sorted((papers[i].paper_id, i) for i, b in enumerate(bases) if b == base)
        if len(same) > 1:
            for n, (_, i) in enumerate(same):
                keys[i] = f"{base}{chr(ord('a') + n)}"
    return keys


_MATH = re.compile(r"(?<!\\)\$.*?(?<!\\)\$")
_WORD = re.compile(r"(?<![\\A-Za-z0-9-])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")
_MONTH_FIELD = re.compile(r"^(\s*month = )\{(1[0-2]|[1-9])\}", re.MULTILINE)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_PROCEEDINGS = re.compile(r"proceedings|conference|workshop|symposium", re.IGNORECASE)


def _keeps_case(word: str) -> bool:
    """MoE, LLM, ImageNet, 3D (a capital after the first letter), V2 (a capital and a digit)."""
    return any(c.isupper() for c in word[1:]) or (
        word[0].isupper() and any(c.isdigit() for c in word)
    )


def protect_case(title: str) -> str:
    """Brace the words whose capitals a style must keep ({MoE-Mamba}, {ImageNet}, {3D},
    {LLM}, {V2}): BibTeX styles lower-case titles, which printed 'Moe-mamba' and 'imagenet'. Math
    and LaTeX commands are left alone."""

    def words(text: str) -> str:
        return _WORD.sub(lambda m: f"{{{m[0]}}}" if _keeps_case(m[0]) else m[0], text)

    out, last = [], 0
    for m in _MATH.finditer(title):
        out += [words(title[last : m.start()]), m[0]]
        last = m.end()
    return "".join([*out, words(title[last:])])


def _balanced(value: str) -> bool:
    """Whether BibTeX and bibtexparser both read the value to its end: BibTeX counts every
    brace, bibtexparser skips escaped ones (\\{), so both counts must pair up."""

    def pairs(text: str) -> bool:
        depth = 0
        for c in text:
            depth += 1 if c == "{" else -1 if c == "}" else 0
            if depth < 0:
                return False
        return depth == 0

    return pairs(value) and pairs(value.replace("\\{", "").replace("\\}", ""))


def _without_braces(text: str, encoder: Any) -> str:
    """The text encoded with its literal braces as \\textbraceleft{} and \\textbraceright{}:
    an arXiv abstract with a half-converted \\href ('.../Strip_MLP{https://...') has
    unmatched ones, which the encoder escapes as \\{ and \\}, still unbalanced for BibTeX."""
    import bibtexparser
    from bibtexparser.model import Entry, Field

    left, right = "RAGPAPERSLEFTBRACE", "RAGPAPERSRIGHTBRACE"
    one = bibtexparser.Library()
    one.add(Entry("misc", "x", [Field("f", text.replace("{", left).replace("}", right))]))
    value = str(encoder.transform(one).entries[0]["f"])
    return value.replace(left, r"\textbraceleft{}").replace(right, r"\textbraceright{}")


def to_bibtex(papers: Sequence[Paper]) -> str:
    """BibTeX entries: @misc for preprints, @inproceedings when the venue is a conference
    or workshop, @article with a journal otherwise.

    Text fields are LaTeX-escaped (& -> \\&, accents -> {\\'o}, math kept); identifiers
    (doi, url, eprint) are written as they are.
    """
    import bibtexparser
    from bibtexparser.middlewares import LatexEncodingMiddleware
    from bibtexparser.model import Entry, Field

    text_fields = bibtexparser.Library()
    originals: dict[str, dict[str, str]] = {}
    raw_fields: list[list[tuple[str, str | None]]] = []
    for key, paper in zip(bibtex_keys(papers), papers, strict=True):
        venue = paper.venue if paper.venue and "arxiv" not in paper.venue.lower() else None
        kind = "misc" if not venue else "inproceedings" if _PROCEEDINGS.search(venue) else "article"
        text: list[tuple[str, str | None]] = [("title", paper.title)]
        text.append(("author", " and ".join(paper.authors)))
        text.append(("booktitle" if kind == "inproceedings" else "journal", venue))
        text.append(("abstract", paper.abstract))
        raw: list[tuple[str, str | None]] = [("year", _year(paper))]
        month = re.match(r"\d{4}-(\d\d)", paper.published or paper.date_text or "")
        if month and 1 <= int(month[1]) <= 12:  # a full date, or a year-month one
            raw.append(("month", str(int(month[1]))))
        raw.append(("date", paper.published))  # biblatex's full date; BibTeX ignores it
        raw += [("doi", paper.doi), ("url", paper.url)]
        if paper.arxiv_id:
            raw += [("eprint", paper.arxiv_id), ("archiveprefix", "arXiv")]
            if paper.categories:
                raw.append(("primaryclass", paper.categories[0]))
        fields = [Field(name, value) for name, value in text if value]
        originals[key] = {name: value for name, value in text if value}  # encoded in place
        text_fields.add(Entry(kind, key, fields))
        raw_fields.append(raw)
    encoder = LatexEncodingMiddleware(keep_math=True)
    encoded = encoder.transform(text_fields)
    library = bibtexparser.Library()
    for entry, raw in zip(encoded.entries, raw_fields, strict=True):
        fields = []
        for f in entry.fields:  # the encoder writes " as '' (a closing quote): keep it literal
            value = str(f.value)
            if not _balanced(value):  # BibTeX counts every brace: this one would end the entry
                value = _without_braces(originals[entry.key][f.key], encoder)
            value = value.replace("''", '{"}')
            fields.append(Field(f.key, protect_case(value) if f.key == "title" else value))
        fields[2:2] = [Field(name, value) for name, value in raw if value]
        library.add(Entry(entry.entry_type, entry.key, fields))
    # months as BibTeX's own macros (month = jan), which every style prints as a month name
    return _MONTH_FIELD.sub(
        lambda m: f"{m[1]}{_MONTHS[int(m[2]) - 1]}", bibtexparser.write_string(library)
    )


# -- CSV and JSON Lines -----------------------------------------------------------------------


def _row(paper: Paper) -> dict[str, str]:
    d = paper.to_dict()
    d["authors"] = "; ".join(paper.authors)
    d["categories"] = "; ".join(paper.categories)
    return {c: "" if d.get(c) is None else str(d[c]) for c in CSV_COLUMNS}


def to_csv(papers: Iterable[Paper]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for paper in papers:
        writer.writerow(_row(paper))
    return out.getvalue()


def to_jsonl(papers: Iterable[Paper]) -> str:
    lines = []
    for paper in papers:
        d = paper.to_dict()
        d.pop("source", None)
        lines.append(json.dumps(d, ensure_ascii=False))
    return "".join(line + "\n" for line in lines)


# -- an answer ------------------------------------------------------------------------------


def _md_escape(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>|])", r"\\\1", text)


def answer_markdown(answer: Answer) -> str:
    """The answer with numbered references, ready to paste into notes."""
    papers = cited_papers(answer)
    lines = [f"**Q:** {_md_escape(answer.question)}", "", answer.text.strip(), ""]
    if answer.citations:
        lines += ["**References**", ""]
    for citation, paper in zip(answer.citations, papers, strict=True):
        title = _md_escape(citation.title)
        head = f"[{title}]({citation.url})" if citation.url else title
        who = ", ".join(paper.authors[:3]) + (" et al." if len(paper.authors) > 3 else "")
        date = citation.published or citation.date_text or "date unknown"
        parts = [f"{citation.number}. {head}"]
        parts.append(f" — {_md_escape(who)}" if who else "")
        parts.append(f" ({date})")
        lines.append("".join(parts))
        if citation.quote:
            lines.append(f"   > {_md_escape(citation.quote)}")
    definitions = [f"[{c.number}]: {c.url}" for c in answer.citations if c.url]
    if definitions:  # makes every [n] in the answer text a link to its paper
        lines += ["", *definitions]
    return "\n".join(lines).rstrip() + "\n"


def answer_json(answer: Answer) -> str:
    return json.dumps(answer.to_dict(), indent=2, default=str) + "\n"


def answer_bibtex(answer: Answer) -> str:
    return to_bibtex(cited_papers(answer))


def format_answer(answer: Answer, fmt: str) -> str:
    if fmt == "markdown":
        return answer_markdown(answer)
    if fmt == "json":
        return answer_json(answer)
    if fmt == "bibtex":
        return answer_bibtex(answer)
    raise ValueError(f"unknown answer format {fmt!r} (one of {', '.join(ANSWER_FORMATS)})")


def format_papers(papers: Sequence[Paper], fmt: str) -> str:
    if fmt == "bibtex":
        return to_bibtex(papers)
    if fmt == "csv":
        return to_csv(papers)
    if fmt == "jsonl":
        return to_jsonl(papers)
    raise ValueError(f"unknown papers format {fmt!r} (one of {', '.join(PAPER_FORMATS)})")
