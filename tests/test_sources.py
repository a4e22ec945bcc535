"""Readers: real listing quirks, the corpus counts, dedup, bad input, Atom and a live-like arXiv.

Listing excerpts in tests/fixtures/src_listing_*.txt are copied verbatim from the bundled
sample files; the Atom fixture uses the arXiv API's layout with abstracts from the sample.
fetch_arxiv is exercised over real HTTP against a scripted server on 127.0.0.1.
"""

from __future__ import annotations

import itertools
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from rag_papers import readers as sources
from rag_papers.errors import InputError
from rag_papers.providers.arxiv import fetch_arxiv
from rag_papers.readers import (
    dedupe,
    read_arxiv_atom,
    read_csv,
    read_json,
    read_jsonl,
    read_listing,
    read_paths,
    sample_corpus_dir,
)
from rag_papers.types import Paper

FIXTURES = Path(__file__).parent / "fixtures"
LISTING_META = FIXTURES / "src_listing_meta.txt"
LISTING_PLAIN = FIXTURES / "src_listing_plain.txt"
ATOM = FIXTURES / "src_arxiv_atom.xml"
HF_JSON = Path(__file__).parents[1] / "eval" / "data" / "hf_daily_papers_2024.json"
LONG = (
    "We study a problem that matters and propose a method that works. "
    "Experiments on three benchmarks show consistent gains over strong baselines, "
    "and an ablation explains where the gains come from. Code is released."
)


def by_title(result: sources.ReadResult) -> dict[str, Paper]:
    return {p.title: p for p in result.papers}


# -- the real corpus ---------------------------------------------------------------------


def test_sample_corpus_has_512_entries_and_445_papers() -> None:
    files = sorted(sample_corpus_dir().glob("*.txt"))
    assert len(files) == 5
    per_file = [read_listing(f).entries for f in files]
    assert per_file == [72, 79, 182, 112, 67]

    result = read_paths([sample_corpus_dir()])
    assert result.entries == 512
    assert len(result.papers) == 445
    assert (result.skipped, result.warnings) == (0, [])
    titles = [p.title for p in result.papers]
    assert "new" not in titles and "Mar 11" not in titles and "Daily Papers" not in titles
    assert all(len(p.abstract) > 1000 for p in result.papers)
    # only the 67 entries of the file with author/date lines carry a date; none is invented
    assert sum(p.date_text is not None for p in result.papers) >= 60
    assert all(p.published is None or p.date_text.endswith(p.published[:4]) for p in result.papers)


def test_hf_daily_papers_json_gives_753_clean_papers() -> None:
    result = read_json(HF_JSON)
    assert (len(result.papers), result.entries, result.skipped) == (753, 753, 0)
    for p in result.papers:
        assert p.arxiv_id and p.url == f"https://arxiv.org/abs/{p.arxiv_id}"
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", p.published or "")
        assert "\n" not in p.title + p.abstract and "  " not in p.title + p.abstract
        assert p.authors and p.n_authors == len(p.authors)
    flowvid = by_title(result)[
        "FlowVid: Taming Imperfect Optical Flows for Consistent Video-to-Video Synthesis"
    ]
    assert flowvid.arxiv_id == "2312.17681"
    assert flowvid.published == "2023-12-29"
    assert flowvid.source.endswith("hf_daily_papers_2024.json:17")  # the record's line


@pytest.mark.parametrize("json_first", [False, True])
def test_sample_plus_json_gives_1193_papers(json_first: bool) -> None:
    inputs = [sample_corpus_dir(), HF_JSON]
    result = read_paths(inputs[::-1] if json_first else inputs)
    assert result.entries == 512 + 753
    assert len(result.papers) == 1193  # five papers are in both, titles wrapped differently
    papers = {p.dedup_key: p for p in result.papers}
    yolo = papers["yolov9 learning what you want to learn using programmable gradient information"]
    assert yolo.arxiv_id == "2402.13616" and yolo.published == "2024-02-21"
    scaling = papers["scaling laws for downstream task performance of large language models"]
    assert scaling.arxiv_id == "2402.04177"
    assert scaling.published == "2024-02-06"
    assert scaling.n_authors == 6 and len(scaling.authors) == 6
    if not json_first:  # the first occurrence keeps its title text and source
        assert (
            yolo.title
            == "YOLOv9: Learning What You Want to Learn Using Programmable Gradient Information"
        )
        assert "/data/sample/" in yolo.source
        assert scaling.date_text == "Feb 6, 2024"


# -- listing quirks (verbatim excerpts) ---------------------------------------------------


def test_listing_author_date_and_organisation_lines() -> None:
    result = read_listing(LISTING_META)
    assert (result.entries, result.skipped, result.warnings) == (8, 0, [])
    papers = by_title(result)
    expect = {  # title prefix: (n_authors, published, date_text, line)
        "Rethinking Supervised Pre-training": (5, "2021-10-12", "Oct 12, 2021", 13),
        "Follow the Flow": (5, None, "Apr 1", 21),  # no year: none invented
        "Predictive Data Selection": (8, None, "Mar 2", 29),  # "Mar 2 2": date then a count
        "LM-Infinite": (6, "2023-08-30", "Aug 30, 2023", 37),  # "Aug 30, 2023 4"
        "LinEAS": (None, None, "Mar 11", 45),  # "apple Apple" / "·" / "Mar 11 1"
        "KaLM-Embedding-V2": (None, None, "Jun 25", 53),  # "KaLM-Embedding KaLM-Embedding"
        "ARC-Encoder": (None, None, "Oct 23", 61),  # "kyutai Kyutai"
        "Ming-UniVision": (None, None, "Oct 7", 69),  # "inclusionAI inclusionAI" / "Oct 7 3"
    }
    assert len(papers) == len(expect)
    for prefix, (n_authors, published, date_text, line) in expect.items():
        [paper] = [p for t, p in papers.items() if t.startswith(prefix)]
        assert (paper.n_authors, paper.published, paper.date_text) == (
            n_authors,
            published,
            date_text,
        )
        assert paper.source == f"{LISTING_META}:{line}"
        assert paper.url is None and paper.arxiv_id is None and paper.authors == []
        for noise in ("authors", "·", "Apple", "Kyutai", "inclusionAI inclusionAI"):
            assert not paper.abstract.endswith(noise)
    assert "Nov 25" not in papers and "Daily Papers" not in papers


def test_listing_with_windows_line_endings_reads_the_same(tmp_path: Path) -> None:
    crlf = tmp_path / "listing.txt"
    crlf.write_bytes(LISTING_META.read_bytes().replace(b"\n", b"\r\n"))
    windows, unix = read_listing(crlf).papers, read_listing(LISTING_META).papers
    assert len(windows) == 8
    for a, b in zip(windows, unix, strict=True):
        assert (a.title, a.abstract, a.n_authors, a.date_text) == (
            b.title,
            b.abstract,
            b.n_authors,
            b.date_text,
        )


def test_listing_without_metadata_and_header_date() -> None:
    result = read_listing(LISTING_PLAIN)
    titles = [p.title for p in result.papers]
    assert titles == [
        "Exploring the cloud of feature interaction scores in a Rashomon set",
        (
            "Hiformer: Heterogeneous Feature Interactions Learning with Transformers for "
            "Recommender Systems"
        ),
        "Predictive Data Selection: The Data That Predicts Is the Data That Teaches",
    ]
    first = result.papers[0]
    assert first.abstract.startswith("Interactions among features are central")
    assert first.abstract.endswith("feature interactions in machine learning models.")
    # the header's "Mar 11" is the listing's date, not this paper's
    assert (first.published, first.date_text, first.n_authors) == (None, None, None)


def test_listing_duplicates_across_files_merge_metadata() -> None:
    result = read_paths([LISTING_PLAIN, LISTING_META])
    assert (result.entries, len(result.papers)) == (11, 10)
    pds = by_title(result)[
        "Predictive Data Selection: The Data That Predicts Is the Data That Teaches"
    ]
    assert pds.source == f"{LISTING_PLAIN}:19"  # first seen in the plain excerpt
    assert (pds.n_authors, pds.date_text, pds.published) == (8, "Mar 2", None)


def test_listing_missing_abstracts_are_counted_warnings(tmp_path: Path) -> None:
    path = tmp_path / "listing.txt"
    path.write_text(
        "Mar 11\n\n"
        "Title Followed By Author Lines\n\n  • 3 authors\n·\nMay 4, 2024\n\n"
        "A Title Without Abstract\n\n"
        f"A Complete Paper\n\n{LONG}\n\n  • 2 authors\n·\nJan 5\n\n"
        "A Title At The End\n",
        encoding="utf-8",
    )
    result = read_listing(path)
    assert [p.title for p in result.papers] == ["A Complete Paper"]
    assert result.papers[0].n_authors == 2 and result.papers[0].date_text == "Jan 5"
    assert result.skipped == 3
    assert [w.split(": ", 1)[0] for w in result.warnings] == [
        f"{path}:3",
        f"{path}:9",
        f"{path}:19",
    ]
    assert all("has no abstract" in w and "add the abstract" in w for w in result.warnings)
    with pytest.raises(InputError, match="3 problem"):
        read_paths([path], strict=True)


def test_listing_abstract_of_several_paragraphs_is_kept_whole(tmp_path: Path) -> None:
    path = tmp_path / "listing.txt"
    path.write_text(f"One Paper\n\n{LONG}\n\n{LONG}\n\nNext Paper\n\n{LONG}\n", encoding="utf-8")
    result = read_listing(path)
    assert [p.title for p in result.papers] == ["One Paper", "Next Paper"]
    assert result.papers[0].abstract == f"{LONG} {LONG}" and result.warnings == []


# -- dedup ---------------------------------------------------------------------------------


def test_dedupe_merges_listing_paper_with_arxiv_record_by_title() -> None:
    listing = Paper(
        title='No "Zero-Shot" Without Exponential Data',
        abstract="A.",
        n_authors=8,
        date_text="Apr 4",
        source="a.txt:5",
    )
    arxiv = Paper(
        title="No Zero-Shot Without\n  Exponential Data",
        abstract="B.",
        authors=["V. Udandarao", "A. Prabhu"],
        published="2024-04-04",
        url="https://arxiv.org/abs/2404.04125",
        arxiv_id="2404.04125",
        categories=["cs.CV"],
        source="b.json:3",
    )
    papers, merges = dedupe([listing, arxiv])
    assert merges == 1 and len(papers) == 1
    merged = papers[0]
    assert (merged.title, merged.abstract, merged.source) == (listing.title, "A.", "a.txt:5")
    assert merged.arxiv_id == "2404.04125" and merged.url == arxiv.url
    assert merged.published == "2024-04-04" and merged.date_text == "Apr 4"  # same day: kept
    assert merged.authors == arxiv.authors and merged.n_authors == 8
    assert merged.categories == ["cs.CV"]
    assert listing.arxiv_id is None and listing.published is None  # inputs untouched


def test_dedupe_prefers_a_dated_year_and_drops_a_contradicting_date_text() -> None:
    yearless = Paper(title="T", abstract="A.", date_text="Apr 1")
    dated = Paper(title="t", abstract="B.", published="2024-03-28")
    [merged], _ = dedupe([yearless, dated])
    assert (merged.published, merged.date_text) == ("2024-03-28", None)
    [kept], _ = dedupe([dated, yearless])  # a year already known is never replaced
    assert (kept.published, kept.date_text) == ("2024-03-28", None)


def test_dedupe_keys_on_arxiv_id_and_keeps_different_ids_apart() -> None:
    a = Paper(title="Attention", abstract="x", arxiv_id="1706.03762")
    b = Paper(title="Attention Is All You Need (v5)", abstract="y", arxiv_id="1706.03762")
    c = Paper(title="attention is all you need v5", abstract="z")  # title of b, no id
    d = Paper(title="Attention", abstract="w", arxiv_id="2401.00001")  # same title, other id
    papers, merges = dedupe([a, b, c, d])
    assert merges == 2
    assert [(p.title, p.arxiv_id) for p in papers] == [
        ("Attention", "1706.03762"),
        ("Attention", "2401.00001"),
    ]


# -- JSON, JSONL, CSV ----------------------------------------------------------------------


def test_jsonl_aliases_malformed_lines_and_missing_abstracts(tmp_path: Path) -> None:
    path = tmp_path / "papers.jsonl"
    lines = [
        {
            "title": "Alpha\n  Paper",
            "summary": "Wrapped\n  abstract  text.",
            "publication_date": "2024-03-18T17:59:58Z",
            "link": "https://arxiv.org/abs/2403.11781v2",
            "authors": "Ann Lee, Bo Chen and Cy Diaz",
            "categories": "cs.CV cs.LG",
        },
        {
            "title": "Beta",
            "abstract": "B.",
            "id": "arXiv:2103.00020v1",
            "date": "Oct 12, 2021",
            "authors": [{"name": "Dee"}, {"name": "Eve"}],
        },
        "not an object",
        {"title": "Gamma", "abstract": "", "arxiv_id": "2401.00002"},
    ]
    text = "\n".join(json.dumps(x) for x in lines[:2]) + "\n\n{broken json\n"
    text += "\n".join(json.dumps(x) for x in lines[2:]) + "\n"
    path.write_text(text, encoding="utf-8")
    result = read_jsonl(path)
    alpha, beta = result.papers
    assert (alpha.title, alpha.abstract) == ("Alpha Paper", "Wrapped abstract text.")
    assert alpha.published == "2024-03-18" and alpha.arxiv_id == "2403.11781"
    assert alpha.url == "https://arxiv.org/abs/2403.11781v2"
    assert alpha.authors == ["Ann Lee", "Bo Chen", "Cy Diaz"] and alpha.n_authors == 3
    assert alpha.categories == ["cs.CV", "cs.LG"]
    assert beta.arxiv_id == "2103.00020" and beta.url == "https://arxiv.org/abs/2103.00020"
    assert (beta.published, beta.date_text, beta.authors) == (
        "2021-10-12",
        "Oct 12, 2021",
        ["Dee", "Eve"],
    )
    assert result.skipped == 3 and result.entries == 2
    assert [w.split(": ", 1)[0] for w in result.warnings] == [f"{path}:4", f"{path}:5", f"{path}:6"]
    assert "not valid JSON" in result.warnings[0] and "one JSON object" in result.warnings[0]
    assert '"Gamma" has no abstract' in result.warnings[2]


def test_paper_to_dict_round_trips_through_jsonl(tmp_path: Path) -> None:
    original = read_listing(LISTING_META).papers
    path = tmp_path / "export.jsonl"
    path.write_text("".join(json.dumps(p.to_dict()) + "\n" for p in original), encoding="utf-8")
    again = read_jsonl(path).papers
    assert [(p.title, p.abstract, p.n_authors, p.published, p.date_text) for p in again] == [
        (p.title, p.abstract, p.n_authors, p.published, p.date_text) for p in original
    ]


def test_json_shapes_and_record_line_numbers(tmp_path: Path) -> None:
    records = [{"title": "One", "abstract": "A."}, {"title": "Two"}]
    as_list = tmp_path / "list.json"
    as_list.write_text(json.dumps(records, indent=2), encoding="utf-8")
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"version": 1, "papers": records}, indent=2), encoding="utf-8")
    keyed = tmp_path / "keyed.json"
    keyed.write_text(
        json.dumps({"2401.00001": records[0], "2401.00002": records[1]}, indent=1), encoding="utf-8"
    )
    for path, warn_line in ((as_list, 6), (wrapped, 8), (keyed, 6)):
        result = read_json(path)
        assert [p.title for p in result.papers] == ["One"], path
        assert result.warnings == [
            (
                f'{path}:{warn_line}: paper "Two" has no abstract — skipped; '
                'add an "abstract" (or "summary") field'
            )
        ]
    assert read_json(keyed).papers[0].arxiv_id == "2401.00001"  # from the key
    bad = tmp_path / "bad.json"
    bad.write_text('[\n  {"title": "x",\n  "abstract": }\n]', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.json:3: not valid JSON"):
        read_json(bad)
    settings_like = tmp_path / "n.json"
    settings_like.write_text('{"a": 1}', encoding="utf-8")
    with pytest.raises(InputError, match="holds no papers"):
        read_json(settings_like)


def test_csv_aliases_multiline_cells_and_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "papers.csv"
    path.write_text(
        "Title,Summary,published,url,authors\n"
        'Alpha,"First line\nsecond line.",2023-05-01,https://arxiv.org/abs/2305.00001,"A, B"\n'
        "Beta,,2023-05-02,,\n"
        "Gamma,G.,,,C and D\n",
        encoding="utf-8",
    )
    result = read_csv(path)
    assert [p.title for p in result.papers] == ["Alpha", "Gamma"]
    alpha, gamma = result.papers
    assert alpha.abstract == "First line second line." and alpha.arxiv_id == "2305.00001"
    assert alpha.published == "2023-05-01" and alpha.authors == ["A", "B"]
    assert gamma.authors == ["C", "D"] and gamma.source == f"{path}:5"
    assert result.warnings[0].startswith(f'{path}:4: paper "Beta" has no abstract')


def test_csv_without_needed_columns_names_found_and_needed(tmp_path: Path) -> None:
    path = tmp_path / "papers.csv"
    path.write_text("name,text\nx,y\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_csv(path)
    message = str(err.value)
    assert str(path) in message and "['name', 'text']" in message
    assert "['title', 'abstract']" in message


# -- bad files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no such file"),
        (b"", "file is empty"),
        (b"\n  \n\t\n", "file is empty"),
        (b"Title\x00\x00\x01\x02", "looks binary"),
        ("Caf\xe9 title\n\nabstract".encode("latin-1"), "not UTF-8"),
    ],
)
def test_unreadable_files_raise_input_error_naming_file_and_fix(
    tmp_path: Path, content: bytes | None, expected: str
) -> None:
    path = tmp_path / "papers.txt"
    if content is not None:
        path.write_bytes(content)
    for reader in (read_listing, read_jsonl, read_json, read_csv, read_arxiv_atom):
        with pytest.raises(InputError, match=expected) as err:
            reader(path)
        assert str(path) in str(err.value) and " — " in str(err.value)
    with pytest.raises(InputError, match=expected):
        read_paths([path])


def test_strict_turns_warnings_into_an_error(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"title": "A", "abstract": "x"}\n{"title": "B"}\n', encoding="utf-8")
    assert read_paths([path]).skipped == 1
    with pytest.raises(InputError, match=r"p\.jsonl:2: paper \"B\" has no abstract"):
        read_paths([path], strict=True)


# -- read_paths dispatch -------------------------------------------------------------------


def test_read_paths_recurses_sniffs_and_reads_each_file_once(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    jsonl_text = (
        json.dumps({"title": "From JSONL", "abstract": "x"})
        + "\n"
        + json.dumps({"title": "Second", "abstract": "y"})
    )
    (tmp_path / "sub" / "lines.json").write_text(jsonl_text, encoding="utf-8")  # JSONL in .json
    (tmp_path / "feed.atom").write_text(ATOM.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "listing.txt").write_text(
        LISTING_PLAIN.read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "notes.md").write_text("# not papers\n", encoding="utf-8")
    (tmp_path / ".hidden" / "x.jsonl").write_text("{broken\n", encoding="utf-8")
    exported = tmp_path / "export"  # no extension: content decides
    exported.write_text("title,abstract\nFrom CSV,z\n", encoding="utf-8")

    result = read_paths([tmp_path, tmp_path / "listing.txt", exported])
    titles = {p.title for p in result.papers}
    assert {"From JSONL", "Second", "From CSV", "Matryoshka Representation Learning"} <= titles
    assert result.entries == 2 + 3 + 3 + 1  # listing read once although named twice
    assert result.skipped == 1 and "src_arxiv_atom" not in result.warnings[0]
    empty = tmp_path / "empty_dir"
    empty.mkdir()
    with pytest.raises(InputError, match="no paper files inside"):
        read_paths([empty])


# -- arXiv Atom ----------------------------------------------------------------------------


def test_atom_fixture_parses_like_the_arxiv_api() -> None:
    result = read_arxiv_atom(ATOM)
    assert (result.entries, result.skipped) == (3, 1)
    assert result.warnings == [
        (
            f'{ATOM}:170: paper "An Entry Whose Abstract Is Missing" has no abstract — skipped; '
            'add an "abstract" (or "summary") field'
        )
    ]
    mrl, clip, h1 = result.papers
    assert mrl.arxiv_id == "2205.13147" and mrl.url == "https://arxiv.org/abs/2205.13147"
    assert mrl.published == "2022-05-26" and mrl.categories == ["cs.LG", "cs.CV"]
    assert mrl.n_authors == 11 and mrl.authors[0] == "Aditya Kusupati"
    assert mrl.abstract.startswith("Learned representations") and "\n" not in mrl.abstract
    assert clip.title == "Learning Transferable Visual Models From Natural Language Supervision"
    assert h1.arxiv_id == "hep-ex/0307015"  # old-style id, without its version
    assert h1.url == "https://arxiv.org/abs/hep-ex/0307015" and h1.published == "2003-07-07"
    assert [p.title for p in read_arxiv_atom(ATOM.read_text(encoding="utf-8")).papers] == [
        p.title for p in result.papers
    ]


def test_atom_and_listing_merge_and_take_the_arxiv_id() -> None:
    result = read_paths([sample_corpus_dir(), ATOM])
    assert len(result.papers) == 445 + 1  # MRL and CLIP are in the sample; the H1 paper is not
    mrl = by_title(result)["Matryoshka Representation Learning"]
    assert mrl.arxiv_id == "2205.13147" and mrl.n_authors == 11
    assert (mrl.published, mrl.date_text) == ("2022-05-26", "May 26, 2022")


def test_atom_errors(tmp_path: Path) -> None:
    error_feed = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
        "  <entry>\n    <id>http://arxiv.org/api/errors#incorrect_id_format_for_1234.12345</id>\n"
        "    <title>Error</title>\n    <summary>incorrect id format for 1234.12345</summary>\n"
        "  </entry>\n</feed>\n"
    )
    with pytest.raises(InputError, match="arXiv API error: incorrect id format for 1234.12345"):
        read_arxiv_atom(error_feed)
    with pytest.raises(InputError, match="not an Atom <feed>"):
        read_arxiv_atom("<rss><channel/></rss>")
    broken = tmp_path / "broken.xml"
    broken.write_text("<feed>\n<entry>\n</feed>\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"broken\.xml:3: not well-formed XML"):
        read_arxiv_atom(broken)


# -- fetch_arxiv: httpx.MockTransport for the logic, one round trip over real HTTP -----------------------------------------------

ENTRIES = re.findall(r"  <entry>.*?</entry>\n", ATOM.read_text(encoding="utf-8"), flags=re.DOTALL)[
    :3
]


def feed(entries: list[str], total: int) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
        '  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">'
        f"{total}</opensearch:totalResults>\n" + "".join(entries) + "</feed>\n"
    )


@dataclass
class Reply:
    status: int = 200
    body: str | None = None  # None: the page of ENTRIES the query asks for
    headers: dict[str, str] = field(default_factory=dict)


class ArxivScript:
    """Replies from a queue, in order; records query, User-Agent and arrival time. Served
    by httpx.MockTransport (`client()`) or, as ArxivStub, by a real server on 127.0.0.1."""

    url = "http://arxiv-mock.test/api/query"

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = deque(replies)
        self.requests: list[tuple[dict[str, str], str, float]] = []

    def respond(self, query: dict[str, str], agent: str) -> tuple[int, bytes, dict[str, str]]:
        self.requests.append((query, agent, time.monotonic()))
        reply = self.replies.popleft() if self.replies else Reply(418, "queue empty")
        body = reply.body
        if body is None:
            start, size = int(query["start"]), int(query["max_results"])
            body = feed(ENTRIES[start : start + size], len(ENTRIES))
        headers = {"Content-Type": "application/atom+xml", **reply.headers}
        return reply.status, body.encode(), headers

    def handle(self, request: httpx.Request) -> httpx.Response:
        query = dict(request.url.params)
        status, data, headers = self.respond(query, request.headers.get("User-Agent", ""))
        return httpx.Response(status, headers=headers, content=data)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handle))

    def gaps(self) -> list[float]:
        times = [t for _, _, t in self.requests]
        return [b - a for a, b in itertools.pairwise(times)]


class ArxivStub(ArxivScript):
    """The same script over real HTTP on 127.0.0.1."""

    def __init__(self, replies: list[Reply]) -> None:
        super().__init__(replies)
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
                status, data, headers = stub.respond(query, self.headers.get("User-Agent", ""))
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/query"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx honours *_PROXY variables; 127.0.0.1 must be reached directly."""
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def arxiv_stub(no_proxy: None) -> Iterator[Callable[..., ArxivStub]]:
    stubs: list[ArxivStub] = []

    def start(*replies: Reply) -> ArxivStub:
        stub = ArxivStub(list(replies))
        stub.thread.start()
        stubs.append(stub)
        return stub

    yield start
    for stub in stubs:
        stub.server.shutdown()
        stub.server.server_close()


@pytest.fixture
def arxiv_mock() -> Callable[..., ArxivScript]:
    return lambda *replies: ArxivScript(list(replies))


def test_fetch_arxiv_retries_a_503_then_reads_the_feed(
    arxiv_stub: Callable[..., ArxivStub],
) -> None:
    stub = arxiv_stub(Reply(503, "busy", {"Retry-After": "0"}), Reply())
    result = fetch_arxiv("all:representation", max_results=3, base_url=stub.url, delay=0.01)
    assert [p.arxiv_id for p in result.papers] == ["2205.13147", "2103.00020", "hep-ex/0307015"]
    assert len(stub.requests) == 2
    query, agent, _ = stub.requests[1]  # over a real socket
    assert query == {"search_query": "all:representation", "start": "0", "max_results": "3"}
    assert agent.startswith("rag-papers/")


def test_fetch_arxiv_backs_off_on_5xx_and_429_without_retry_after(
    arxiv_mock: Callable[..., ArxivScript],
) -> None:
    stub = arxiv_mock(Reply(502, "bad gateway"), Reply(429, "slow down"), Reply())
    result = fetch_arxiv(
        "all:x", max_results=3, base_url=stub.url, http_client=stub.client(), delay=0.05
    )
    assert len(result.papers) == 3 and len(stub.requests) == 3
    assert all(agent.startswith("rag-papers/") for _, agent, _ in stub.requests)  # even so
    first, second = stub.gaps()
    assert first >= 0.05 and second >= 0.1  # delay, then twice the delay


def test_fetch_arxiv_honours_retry_after(arxiv_mock: Callable[..., ArxivScript]) -> None:
    stub = arxiv_mock(Reply(503, "busy", {"Retry-After": "1"}), Reply())
    fetch_arxiv("all:x", max_results=3, base_url=stub.url, http_client=stub.client(), delay=0.01)
    assert stub.gaps()[0] >= 1.0


def test_fetch_arxiv_gives_up_with_input_error(arxiv_mock: Callable[..., ArxivScript]) -> None:
    stub = arxiv_mock(Reply(503, "busy"), Reply(503, "busy"), Reply())
    with pytest.raises(InputError, match="failed after 2 attempts"):
        fetch_arxiv(
            "all:x", base_url=stub.url, http_client=stub.client(), delay=0.01, max_attempts=2
        )
    assert len(stub.requests) == 2

    too_long = arxiv_mock(Reply(503, "busy", {"Retry-After": "600"}))
    with pytest.raises(InputError, match="asked to wait 600s"):
        fetch_arxiv(
            "all:x", base_url=too_long.url, http_client=too_long.client(), delay=0.01, max_wait=10
        )
    assert len(too_long.requests) == 1


def test_fetch_arxiv_does_not_retry_a_bad_query(arxiv_mock: Callable[..., ArxivScript]) -> None:
    error = (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><entry>'
        "<id>http://arxiv.org/api/errors#max_results_must_be_less_than_30000</id>"
        "<title>Error</title><summary>max_results must be less than 30000</summary>"
        "</entry></feed>"
    )
    stub = arxiv_mock(Reply(400, error))
    with pytest.raises(InputError, match="max_results must be less than 30000"):
        fetch_arxiv("all:x", base_url=stub.url, http_client=stub.client(), delay=0.01)
    assert len(stub.requests) == 1


def test_fetch_arxiv_pages_politely(arxiv_mock: Callable[..., ArxivScript]) -> None:
    stub = arxiv_mock(Reply(), Reply())
    result = fetch_arxiv(
        "all:x",
        max_results=10,
        page_size=2,
        base_url=stub.url,
        http_client=stub.client(),
        delay=0.2,
    )
    assert len(result.papers) == 3 and result.warnings == []  # total is 3: no third request
    assert [(q["start"], q["max_results"]) for q, _, _ in stub.requests] == [("0", "2"), ("2", "2")]
    assert stub.gaps()[0] >= 0.2


def test_fetch_arxiv_connection_refused_is_retried_then_reported(no_proxy: None) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(InputError, match=r"failed after 2 attempts \(ConnectError"):
        fetch_arxiv(
            "all:x",
            base_url=f"http://127.0.0.1:{port}/api/query",
            delay=0.01,
            max_attempts=2,
            timeout=2,
        )
