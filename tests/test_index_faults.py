"""The index under concurrency and damage: readers never fail, writers take turns, damage is
detected and repaired (the keyword index) or explained (the Chroma store)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
from pathlib import Path

import pytest
from conftest import SMALL_LISTING
from procs import cli_process

from rag_papers.app.cli import main
from rag_papers.index.bm25 import lock_path, mark_changed
from rag_papers.index.locking import file_lock
from rag_papers.index.store import PaperStore
from rag_papers.qa.retrieve import Retriever
from rag_papers.settings import Settings

QUESTION = "What do large language models struggle with?"


def cli(*argv: str, home: Path) -> subprocess.Popen[str]:
    """`rag-papers --home HOME ...` in its own process, as a user runs it."""
    return cli_process(*argv, home=home)


def leftovers(home: Path) -> list[str]:
    return sorted(p.name for p in home.iterdir() if p.name.startswith("bm25.") and p.is_dir())


def test_four_asks_at_once_on_a_changed_store_all_answer(small_home: Path) -> None:
    settings = Settings(home=small_home)
    mark_changed(PaperStore(settings))  # what an interrupted ingest leaves behind
    procs = [cli("ask", QUESTION, "--mode", "extractive", home=small_home) for _ in range(4)]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    for code, out, err in results:
        assert code == 0, err
        assert "[1]" in out
        assert "Traceback" not in err and "error" not in err.lower()
    assert leftovers(small_home) == []
    # The index they left is whole and current: loading it does not rebuild.
    marker = settings.bm25_dir / "version.json"
    before = marker.stat().st_mtime_ns
    assert Retriever(settings).retrieve(QUESTION, method="bm25")
    assert marker.stat().st_mtime_ns == before


def test_two_identical_ingests_at_once_both_succeed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    procs = [cli("ingest", str(SMALL_LISTING), home=home) for _ in range(2)]
    results = [(p.wait(timeout=600), *p.communicate()) for p in procs]
    for code, _out, err in results:
        assert code == 0, err
    outs = [out for _code, out, _err in results]
    # One embedded the papers, the other (after it) found them all unchanged.
    assert sorted("67 new" in out for out in outs) == [False, True], outs
    assert sorted("67 unchanged" in out for out in outs) == [False, True], outs
    assert leftovers(home) == []
    assert Retriever(Settings(home=home)).retrieve(QUESTION, method="bm25")


def test_a_second_ingest_says_it_waits_for_the_first(small_home: Path) -> None:
    lock = small_home / "ingest.lock"
    with file_lock(lock):  # this test plays the ingest already running
        proc = cli("ingest", str(SMALL_LISTING), home=small_home)
        assert proc.stderr is not None
        seen = []
        for _ in range(50):  # progress lines come first; each readline blocks until one arrives
            seen.append(proc.stderr.readline())
            if "waiting for another ingest" in seen[-1] or not seen[-1]:
                break
        assert "waiting for another ingest" in seen[-1], seen
        assert proc.poll() is None, "it waits instead of failing"
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "67 unchanged" in out


def test_a_reader_waits_for_a_rebuild_under_way_instead_of_failing(small_home: Path) -> None:
    settings = Settings(home=small_home)
    mark_changed(PaperStore(settings))
    with file_lock(lock_path(settings)):  # a rebuild is under way in "another process"
        proc = cli("ask", QUESTION, "--mode", "extractive", home=small_home)
        time.sleep(0.5)
        assert proc.poll() is None
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _cut(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


DAMAGE = {
    "vocab deleted": lambda d: (d / "vocab.index.json").unlink(),
    "data emptied": lambda d: _empty(d / "data.csc.index.npy"),
    "version emptied": lambda d: _empty(d / "version.json"),
    "params emptied": lambda d: _empty(d / "params.index.json"),
    "corpus cut": lambda d: _cut(d / "corpus.jsonl"),
    "corpus emptied": lambda d: _empty(d / "corpus.jsonl"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_bm25_is_rebuilt_once_with_a_warning(
    damage: str, small_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(home=small_home)
    good = Retriever(settings).retrieve(QUESTION, method="bm25")
    assert good
    DAMAGE[damage](settings.bm25_dir)
    with caplog.at_level(logging.WARNING, logger="rag_papers"):
        got = Retriever(settings).retrieve(QUESTION, method="bm25")
    assert [p.paper_id for p in got] == [p.paper_id for p in good]
    warned = [r.getMessage() for r in caplog.records if "damaged" in r.getMessage()]
    assert len(warned) == 1 and "rebuilding it from the store" in warned[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="rag_papers"):
        assert Retriever(settings).retrieve(QUESTION, method="bm25")
    assert not [r for r in caplog.records if "damaged" in r.getMessage()], "said once"


def test_ingest_that_changes_nothing_repairs_a_damaged_bm25(small_home: Path) -> None:
    settings = Settings(home=small_home)
    (settings.bm25_dir / "vocab.index.json").unlink()
    proc = cli("ingest", str(SMALL_LISTING), home=small_home)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "67 unchanged" in out and err.count("was damaged") == 1
    marker = json.loads((settings.bm25_dir / "version.json").read_text())
    assert "vocab.index.json" in marker["files"]
    assert (settings.bm25_dir / "vocab.index.json").is_file()


def test_ask_in_a_terminal_process_survives_a_cut_corpus_and_says_so(small_home: Path) -> None:
    _cut(Settings(home=small_home).bm25_dir / "corpus.jsonl")
    proc = cli("ask", QUESTION, "--mode", "extractive", home=small_home)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "[1]" in out and err.count("rebuilding it from the store") == 1


def _truncate(db: Path) -> None:
    os.truncate(db, 1_000_000)


def _garbage_pages(db: Path) -> None:
    with db.open("r+b") as f:
        for page in (5, 50, 300, 600):
            f.seek(4096 * page)
            f.write(os.urandom(4096))


@pytest.mark.parametrize("damage", [_truncate, _garbage_pages], ids=["truncated", "garbage"])
def test_damaged_chroma_store_says_what_happened_and_rebuild_recovers(
    damage, small_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(home=small_home)
    damage(settings.store_dir / "chroma.sqlite3")
    for argv in (
        ["stats"],
        ["ask", QUESTION, "--mode", "extractive"],
        ["ingest", str(SMALL_LISTING)],
    ):
        code = main(["--home", str(small_home), *argv])
        _out, err = capsys.readouterr()
        assert code == 2, (argv, err)
        assert "is damaged" in err and "ingest --rebuild" in err and "unexpected" not in err
    papers = tmp_path / "papers.jsonl"
    papers.write_text(
        json.dumps({"title": "Zebra gadgets", "abstract": "Zebra gadgets fold into stripes."})
        + "\n"
    )
    assert main(["--home", str(small_home), "ingest", "--rebuild", str(papers)]) == 0
    out, _err = capsys.readouterr()
    assert "1 new" in out
    assert [p.name for p in small_home.glob("chroma.damaged-*")], "the damaged store is kept aside"
    assert main(["--home", str(small_home), "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["papers"] == 1 and "warning" not in stats


def test_an_emptied_store_is_reported_against_the_manifest(
    small_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (Settings(home=small_home).store_dir / "chroma.sqlite3").write_bytes(b"")
    assert main(["--home", str(small_home), "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["papers"] == 0
    assert "is empty, but" in stats["warning"] and "145 chunks" in stats["warning"]
    code = main(["--home", str(small_home), "ask", QUESTION, "--mode", "extractive"])
    err = capsys.readouterr().err
    assert code == 2 and "was emptied or replaced" in err
