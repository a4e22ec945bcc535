"""`ingest --arxiv-ids`: ids parsed from a file or the command line, fetched through the arXiv
API's id_list over real HTTP from a local server that serves recorded responses."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from rag_papers.errors import InputError
from rag_papers.providers.arxiv import USER_AGENT, fetch_arxiv_ids, parse_arxiv_ids

LIB = Path(__file__).resolve().parent / "fixtures" / "library"
NEW_IDS = ["2401.04081", "2402.04347", "2402.14253", "2404.04125"]


class RecordedArxiv:
    """Serves the recorded responses: the four new-style ids, or the empty old-style result.

    The first request gets a 503 when `fail_first`, to exercise the retry.
    """

    def __init__(self, fail_first: bool, bodies: dict[str, bytes] | None = None) -> None:
        self.requests: list[tuple[dict[str, list[str]], str]] = []
        self.events: list[str] = []  # "request", and "sleep <s>" when a test records sleeps
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlparse(self.path).query)
                outer.requests.append((query, self.headers.get("User-Agent", "")))
                outer.events.append("request")
                if fail_first and len(outer.requests) == 1:
                    self.send_response(503)
                    self.send_header("Retry-After", "0")
                    self.end_headers()
                    return
                ids = query.get("id_list", [""])[0].split(",")
                name = "arxiv_api_response.xml" if ids == NEW_IDS else "arxiv_api_oldstyle.xml"
                body = (bodies or {}).get(",".join(ids)) or (LIB / name).read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "application/atom+xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/query"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[RecordedArxiv]]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    started: list[RecordedArxiv] = []

    def start(fail_first: bool = False, bodies: dict[str, bytes] | None = None) -> RecordedArxiv:
        stub = RecordedArxiv(fail_first, bodies)
        stub.thread.start()
        started.append(stub)
        return stub

    yield start  # type: ignore[misc]
    for stub in started:
        stub.server.shutdown()
        stub.server.server_close()


def test_ids_file_and_inline_ids_parse_both_styles() -> None:
    assert parse_arxiv_ids(str(LIB / "arxiv_ids.txt")) == [*NEW_IDS, "hep-th/9901001"]
    assert parse_arxiv_ids(
        "2401.04081v2, arXiv:hep-th/9901001 https://arxiv.org/abs/2402.04347"
    ) == [
        "2401.04081",
        "hep-th/9901001",
        "2402.04347",
    ]
    with pytest.raises(InputError, match="is not an arXiv id"):
        parse_arxiv_ids("2401.04081, not-an-id")


def test_fetch_ids_retries_then_reads_papers_and_reports_the_missing_old_style_id(recorded) -> None:
    stub = recorded(fail_first=True)
    ids = parse_arxiv_ids(str(LIB / "arxiv_ids.txt"))
    result = fetch_arxiv_ids(ids, base_url=stub.url, delay=0.01, batch=4)
    assert [p.arxiv_id for p in result.papers] == NEW_IDS
    assert all(p.abstract and p.authors for p in result.papers)
    assert result.warnings == ["arXiv:hep-th/9901001: not found on arXiv (0 papers)"]
    # 503, then the retried first batch, then the old-style id alone
    assert len(stub.requests) == 3
    assert stub.requests[1][0]["id_list"] == [",".join(NEW_IDS)]
    assert stub.requests[2][0]["id_list"] == ["hep-th/9901001"]
    assert {agent for _, agent in stub.requests} == {USER_AGENT}


def test_cli_ingests_arxiv_ids(
    recorded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import json

    import rag_papers.providers.arxiv as arxiv
    from rag_papers.app.cli import main

    stub = recorded()
    monkeypatch.setattr(arxiv, "ARXIV_API", stub.url)
    monkeypatch.setattr(
        arxiv.fetch_arxiv_ids,
        "__kwdefaults__",
        {**arxiv.fetch_arxiv_ids.__kwdefaults__, "base_url": stub.url, "delay": 0.01, "batch": 4},
    )
    code = main(
        [
            "--home",
            str(tmp_path / "home"),
            "ingest",
            "--arxiv-ids",
            str(LIB / "arxiv_ids.txt"),
            "--json",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["read"], summary["new"]) == (4, 4)
    assert "arXiv:hep-th/9901001: not found on arXiv (0 papers)" in summary["warnings"]


def test_requests_are_spaced_by_the_delay_including_after_a_retry(
    recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Politeness: every request after the first waits at least `delay` (the waits asked
    for are recorded instead of slept, so the test checks them, not the clock)."""
    import time

    stub = recorded(fail_first=True)
    monkeypatch.setattr(time, "sleep", lambda s: stub.events.append(f"sleep {s:g}"))
    ids = parse_arxiv_ids(str(LIB / "arxiv_ids.txt"))
    fetch_arxiv_ids(ids, base_url=stub.url, delay=2.5, batch=4)
    # 503 -> wait (the retry's floor is the delay) -> batch 1 -> wait -> batch 2
    assert stub.events[0] == "request" and stub.events.count("request") == 3
    between = " ".join(stub.events).split("request")[1:-1]
    assert all(gap.split() and float(gap.split()[-1]) >= 2.5 for gap in between), stub.events


def old_style_feed() -> str:
    """arXiv's answer for id_list=hep-ex/0307015: the H1 paper's entry recorded in
    tests/fixtures/src_arxiv_atom.xml (the arXiv API manual's example), alone in a feed."""
    text = (LIB.parent / "src_arxiv_atom.xml").read_text(encoding="utf-8")
    entry = re.search(
        r"  <entry>\n    <id>http://arxiv.org/abs/hep-ex/0307015v1.*?</entry>\n", text, re.S
    )
    assert entry
    head = text[: text.index("  <entry>")]
    head = re.sub(r"(<opensearch:totalResults[^>]*>)\d+", r"\g<1>1", head)
    return head + entry.group(0) + "</feed>\n"


def test_old_style_ids_are_kept_by_every_reader() -> None:
    from rag_papers.readers.atom import atom_entries
    from rag_papers.readers.bibtex import bibtex_entries
    from rag_papers.readers.ris import ris_entries
    from rag_papers.types import clean_arxiv_id

    assert clean_arxiv_id("http://arxiv.org/abs/hep-th/9901001v1") == "hep-th/9901001"
    assert clean_arxiv_id("10.48550/arXiv.hep-th/9901001") == "hep-th/9901001"
    assert clean_arxiv_id("math.GT/0309136") == "math/0309136"  # arXiv drops the class
    assert clean_arxiv_id("https://example.org/papers/1234567") is None  # not an archive
    raw, _ = atom_entries(old_style_feed(), "feed")
    assert raw.papers[0].arxiv_id == "hep-ex/0307015"
    assert raw.papers[0].paper_id == "arxiv:hep-ex/0307015"
    title = "Multi-Electron Production at High Transverse Momenta in ep Collisions at {HERA}"
    abstract = raw.papers[0].abstract
    bib = f"@article{{h1, title={{{title}}}, abstract={{{abstract}}}, eprint={{hep-ex/0307015}}}}"
    assert bibtex_entries(Path("x.bib"), bib).papers[0].arxiv_id == "hep-ex/0307015"
    ris = f"TY  - JOUR\nTI  - {title}\nAB  - {abstract}\nUR  - https://arxiv.org/abs/hep-ex/0307015\nER  - \n"
    assert ris_entries(Path("x.ris"), ris).papers[0].arxiv_id == "hep-ex/0307015"


def test_cli_fetches_an_old_style_id_and_removes_it_by_that_id(
    recorded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import json

    import rag_papers.providers.arxiv as arxiv
    from rag_papers.app.cli import main

    stub = recorded(bodies={"hep-ex/0307015": old_style_feed().encode()})
    monkeypatch.setattr(
        arxiv.fetch_arxiv_ids,
        "__kwdefaults__",
        {**arxiv.fetch_arxiv_ids.__kwdefaults__, "base_url": stub.url, "delay": 0.01},
    )
    home = ["--home", str(tmp_path / "home")]
    assert main([*home, "ingest", "--arxiv-ids", "arXiv:hep-ex/0307015v1", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["new"], summary["warnings"]) == (1, [])
    assert stub.requests[0][0]["id_list"] == ["hep-ex/0307015"]
    assert main([*home, "papers", "--json"]) == 0
    paper = json.loads(capsys.readouterr().out)
    assert paper["paper_id"] == "arxiv:hep-ex/0307015"
    assert paper["url"] == "https://arxiv.org/abs/hep-ex/0307015"
    assert paper["title"].startswith("Multi-Electron Production")
    assert main([*home, "remove", "hep-ex/0307015"]) == 0
    assert capsys.readouterr().out.startswith("removed 1 paper")
