"""The command line, driven through rag_papers.app.cli.main (and once through the installed script).

Exit codes are part of the interface: 0 on success, 2 with "error: ..." on stderr for any
failure the user can fix, warnings on stderr without failing unless --strict.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rag_papers.app.cli import main
from rag_papers.readers import read_listing

SAMPLE = Path(__file__).resolve().parents[1] / "rag_papers" / "data" / "sample"
LISTING = SAMPLE / "004_9055317b84f6e392.txt"
STATS_KEYS = {"papers", "chunks", "embedding_model", "store", "last_ingest"}


def record(i: int) -> dict[str, Any]:
    p = read_listing(LISTING).papers[i]
    return {
        "title": p.title,
        "abstract": p.abstract,
        "published": f"2024-03-{i + 1:02d}",
        "url": f"https://arxiv.org/abs/2403.{10000 + i}",
    }


def write_jsonl(path: Path, lines: list[Any]) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


PROGRESS_LINE = re.compile(r"^\[\d+:\d\d\] .*\n?", re.MULTILINE)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr without ingest's progress lines (`[0:03] embedding …`)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, PROGRESS_LINE.sub("", err)


def stats(capsys: pytest.CaptureFixture[str], home: Path) -> dict[str, Any]:
    code, out, err = run(capsys, "--home", str(home), "stats", "--json")
    assert code == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def papers_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli_src")
    return write_jsonl(folder / "papers.jsonl", [record(0), record(1), record(2)])


@pytest.fixture(scope="module")
def cli_ingest(tmp_path_factory: pytest.TempPathFactory, papers_file: Path) -> tuple[Path, str]:
    """Three papers ingested through the CLI, and what it printed (home shared read-only)."""
    home = tmp_path_factory.mktemp("cli_home")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--home", str(home), "ingest", str(papers_file)]) == 0
    return home, out.getvalue()


@pytest.fixture(scope="module")
def cli_home(cli_ingest: tuple[Path, str]) -> Path:
    return cli_ingest[0]


def test_ingest_prints_a_summary_and_reingest_says_0_new(
    capsys: pytest.CaptureFixture[str],
    cli_ingest: tuple[Path, str],
    papers_file: Path,
    tmp_path: Path,
) -> None:
    assert cli_ingest[1].startswith("read 3 papers: 3 new, 0 updated, 0 unchanged, 0 skipped;")
    home = tmp_path / "home"
    shutil.copytree(cli_ingest[0], home)
    code, out, err = run(capsys, "--home", str(home), "ingest", str(papers_file))
    assert code == 0 and err == ""
    assert "0 new" in out and "3 unchanged" in out and "; 0 chunks embedded" in out
    code, out, err = run(capsys, "--home", str(home), "ingest", "--rebuild", str(papers_file))
    assert code == 0, err
    assert out.startswith("read 3 papers: 3 new, 0 updated, 0 unchanged")


def test_stats_text_and_json(capsys: pytest.CaptureFixture[str], cli_home: Path) -> None:
    data = stats(capsys, cli_home)
    assert set(data) >= STATS_KEYS
    assert data["papers"] == 3 and data["chunks"] >= 3
    assert data["embedding_model"] == "local:all-MiniLM-L6-v2"
    assert data["store"] == str(cli_home / "chroma")
    assert data["last_ingest"] and data["last_ingest"][:2] == "20"  # ISO timestamp
    code, out, _ = run(capsys, "--home", str(cli_home), "stats")
    assert code == 0
    rows = dict(line.split(None, 1) for line in out.splitlines())
    assert rows["papers"] == "3" and rows["embedding_model"] == "local:all-MiniLM-L6-v2"


def test_stats_on_an_empty_home(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = stats(capsys, tmp_path / "fresh")
    assert (data["papers"], data["chunks"], data["embedding_model"], data["last_ingest"]) == (
        0,
        0,
        None,
        None,
    )


def test_ask_on_an_empty_store_says_what_to_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, "--home", str(tmp_path / "empty"), "ask", "What is RAG?")
    assert code == 2 and out == ""
    assert err.startswith("error: ") and "rag-papers ingest" in err


def test_ask_json_is_valid_json(capsys: pytest.CaptureFixture[str], cli_home: Path) -> None:
    code, out, err = run(
        capsys,
        "--home",
        str(cli_home),
        "ask",
        "--json",
        "--mode",
        "extractive",
        "How does Matryoshka Representation Learning encode information at different granularities?",
    )
    assert code == 0, err
    data = json.loads(out)
    assert {"text", "citations", "abstained"} <= set(data)
    assert isinstance(data["text"], str) and isinstance(data["abstained"], bool)
    assert data["mode"] == "extractive"
    if not data["abstained"]:
        assert data["citations"], data
        titles = {c["title"] for c in data["citations"]}
        assert read_listing(LISTING).papers[1].title in titles


# -- bad input through the CLI ---------------------------------------------------------------


def _bad_file(kind: str, folder: Path) -> Path:
    if kind == "missing":
        return folder / "nope.jsonl"
    path = folder / {"empty": "empty.jsonl", "binary": "blob.jsonl", "csv": "papers.csv"}[kind]
    if kind == "empty":
        path.write_text("")
    elif kind == "binary":
        path.write_bytes(b"PK\x03\x04\x00\x00" + bytes(range(200)))
    else:
        path.write_text("name,abstract\nA paper,An abstract that is long enough.\n")
    return path


@pytest.mark.parametrize("kind", ["missing", "empty", "binary", "csv"])
def test_bad_file_exits_2_with_error_and_keeps_the_index(
    kind: str, capsys: pytest.CaptureFixture[str], cli_home: Path, tmp_path: Path
) -> None:
    before = stats(capsys, cli_home)
    path = _bad_file(kind, tmp_path)
    code, out, err = run(capsys, "--home", str(cli_home), "ingest", str(path))
    assert code == 2 and out == ""
    assert err.startswith("error: ") and str(path) in err
    assert len(err.strip().splitlines()) <= 3  # a message, not a traceback
    assert stats(capsys, cli_home) == before


def test_bad_lines_warn_with_file_and_line_and_strict_fails(
    capsys: pytest.CaptureFixture[str], cli_home: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    shutil.copytree(cli_home, home)
    src = write_jsonl(
        tmp_path / "mixed.jsonl",
        [
            record(0),
            "{not json",
            {"title": "No abstract here", "published": "2024-01-01"},
            record(1),
        ],
    )
    code, out, err = run(capsys, "--home", str(home), "ingest", "--strict", str(src))
    assert code == 2 and err.startswith("error: ") and "strict" in err
    assert f"{src}:2" in err and f"{src}:3" in err

    code, out, err = run(capsys, "--home", str(home), "ingest", str(src))
    assert code == 0
    warnings = [ln for ln in err.splitlines() if ln.startswith("warning: ")]
    assert len(warnings) == 2
    assert warnings[0].startswith(f"warning: {src}:2: not valid JSON")
    assert warnings[1].startswith(f"warning: {src}:3: ") and "no abstract" in warnings[1]
    assert "read 2 papers: 0 new, 0 updated, 2 unchanged, 2 skipped" in out

    code, out, err = run(
        capsys,
        "--home",
        str(home),
        "ask",
        "--json",
        "--mode",
        "extractive",
        "supervised pre-training",
    )
    assert code == 0, err  # still usable
    assert json.loads(out)["contexts"]


def test_mismatched_embedding_backend_is_refused(
    capsys: pytest.CaptureFixture[str],
    cli_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    papers_file: Path,
) -> None:
    monkeypatch.setenv("RAG_PAPERS_EMBED_BACKEND", "openai")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # never contacted
    for argv in (["ask", "What is RAG?"], ["ingest", str(papers_file)]):
        code, _, err = run(capsys, "--home", str(cli_home), *argv)
        assert code == 2
        assert err.startswith("error: ") and "local:all-MiniLM-L6-v2" in err
        assert "openai:text-embedding-3-small" in err and "--rebuild" in err


def test_unreachable_chroma_server_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("RAG_PAPERS_CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("RAG_PAPERS_CHROMA_PORT", str(port))
    code, _, err = run(capsys, "--home", str(tmp_path), "stats")
    assert code == 2
    assert err.startswith(f"error: cannot reach the Chroma server at 127.0.0.1:{port}")
    assert "chroma run" in err


def test_installed_entry_point(cli_home: Path) -> None:
    """The real `rag-papers` script, as a user runs it."""
    script = Path(sys.executable).parent / "rag-papers"
    proc = subprocess.run(
        [str(script), "--home", str(cli_home), "stats", "--json"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) >= STATS_KEYS and data["papers"] == 3
