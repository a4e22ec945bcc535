"""Writers on several machines sharing one Chroma server: the writer lock held in the server.

Each writer and reader here has a home folder of its own, as separate machines would, so
the home's flock cannot order them: only the lock in the server (index/locking.py,
index/lease.py) can. A real `chroma run` server, real ingests in their own processes.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from library_subsets import ONLY, SHARED_IDS, write_subsets
from procs import cli_process
from test_store_server import chroma_server  # noqa: F401  (module-scoped `chroma run` fixture)

from rag_papers.errors import WriterLockError
from rag_papers.index import lease
from rag_papers.index.ingest import ingest
from rag_papers.index.library import list_collections
from rag_papers.index.locking import ServerLock
from rag_papers.index.stats import collection_stats
from rag_papers.index.store import PaperStore
from rag_papers.qa.retrieve import Retriever
from rag_papers.settings import Settings

pytestmark = pytest.mark.server

# An ingest that stops, holding the writer lock, once its first chunks are embedded (before
# it writes them), and goes on when the test creates the `go` file: the test decides when
# the other processes run, instead of hoping two ingests overlap.
PAUSED_WRITER = r"""
import sys, time
from pathlib import Path
from rag_papers.index.ingest import ingest
from rag_papers.index.library import list_collections
from rag_papers.settings import Settings

host, port, collection, home, lease, src, writing, go = sys.argv[1:]
settings = Settings(
    home=home, chroma_host=host, chroma_port=int(port), collection=collection,
    writer_lease_s=float(lease),
)

def progress(phase, done=0, total=None):
    if phase == "embedding chunks" and not Path(writing).exists():
        Path(writing).touch()
        deadline = time.monotonic() + 180
        while not Path(go).exists() and time.monotonic() < deadline:
            time.sleep(0.05)

summary = ingest([src], settings=settings, progress=progress)
print(summary.line())
"""


def _env(host: str, port: int, collection: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RAG_PAPERS_"))}
    env.update(
        RAG_PAPERS_CHROMA_HOST=host,
        RAG_PAPERS_CHROMA_PORT=str(port),
        RAG_PAPERS_COLLECTION=collection,
        **extra,
    )
    return env


def _cli(*argv: str, home: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """`rag-papers --home HOME ...` in its own process, as a user on another machine runs it."""
    return cli_process(*argv, home=home, env=env)


def _paused_writer(
    server: tuple[str, int], collection: str, home: Path, src: Path, gates: Path, lease_s: float
) -> subprocess.Popen[str]:
    """An ingest in its own process; returns once it holds the lock and is embedding."""
    host, port = server
    writing = gates / "writing"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            PAUSED_WRITER,
            host,
            str(port),
            collection,
            str(home),
            str(lease_s),
            str(src),
            str(writing),
            str(gates / "go"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(host, port, collection),
    )
    deadline = time.monotonic() + 240
    while not writing.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"the writer never started embedding: {err[-3000:]}")
        time.sleep(0.05)
    return proc


def _read_until(stream: object, text: str, lines: int = 200) -> list[str]:
    """Lines of `stream` up to and including the first holding `text` (or up to its end)."""
    seen: list[str] = []
    for _ in range(lines):
        line = stream.readline()  # type: ignore[attr-defined]
        seen.append(line)
        if text in line or not line:
            break
    return seen


def _settings(server: tuple[str, int], collection: str, home: Path, **extra: object) -> Settings:
    host, port = server
    return Settings(home=home, chroma_host=host, chroma_port=port, collection=collection, **extra)  # type: ignore[arg-type]


def _locks(server: tuple[str, int], collection: str, home: Path) -> list[str]:
    store = PaperStore(_settings(server, collection, home))
    return [c.name for c in store.client.list_collections() if lease.is_lock(c.name)]


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test starts; any still running at the end are killed."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_two_homes_ingesting_into_one_server_at_once_take_turns(
    chroma_server: tuple[str, int],  # noqa: F811
    tmp_path: Path,
    procs: list[subprocess.Popen[str]],
) -> None:
    collection = "two_homes"
    sample, extra = write_subsets(tmp_path)  # five papers in both, under different ids
    first = _paused_writer(chroma_server, collection, tmp_path / "home_a", sample, tmp_path, 60)
    procs.append(first)
    second = _cli(
        "ingest", str(extra), home=tmp_path / "home_b", env=_env(*chroma_server, collection)
    )
    procs.append(second)

    seen = _read_until(second.stderr, "waiting for another ingest (host")
    assert "waiting for another ingest (host" in seen[-1], seen
    assert f"pid {first.pid}, since" in seen[-1]
    assert second.poll() is None, "the second writer waits instead of writing alongside"
    (tmp_path / "go").touch()

    out_a, err_a = first.communicate(timeout=300)
    assert first.returncode == 0, err_a[-3000:]
    out_b, err_b = second.communicate(timeout=300)
    assert second.returncode == 0, err_b[-3000:]
    assert f"{len(SHARED_IDS) + ONLY} new" in out_a
    # The second saw every paper of the first: the shared five merged into them, not added.
    assert f"{ONLY} new" in out_b, out_b
    stats = collection_stats(_settings(chroma_server, collection, tmp_path / "home_b"))
    assert stats["papers"] == len(SHARED_IDS) + 2 * ONLY
    assert _locks(chroma_server, collection, tmp_path) == []  # released, nothing left behind


def test_a_killed_writers_lock_is_taken_over_once_its_lease_runs_out(
    chroma_server: tuple[str, int],  # noqa: F811
    tmp_path: Path,
    procs: list[subprocess.Popen[str]],
) -> None:
    collection = "killed_writer"
    sample, _extra = write_subsets(tmp_path)
    dead = _paused_writer(chroma_server, collection, tmp_path / "home_a", sample, tmp_path, 2)
    procs.append(dead)
    os.kill(dead.pid, signal.SIGKILL)  # no chance to release the lock
    dead.communicate()
    assert _locks(chroma_server, collection, tmp_path) == [lease.lock_name(collection)]

    env = _env(*chroma_server, collection, RAG_PAPERS_WRITER_WAIT_S="120")
    proc = _cli("ingest", str(sample), home=tmp_path / "home_b", env=env)
    procs.append(proc)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    assert f"waiting for another ingest (host {os.uname().nodename}, pid {dead.pid}" in err
    assert "was not renewed for" in err and "taking the lock over" in err
    assert err.count("taking the lock over") == 1
    assert f"{len(SHARED_IDS) + ONLY} new" in out
    stats = collection_stats(_settings(chroma_server, collection, tmp_path / "home_b"))
    assert stats["papers"] == len(SHARED_IDS) + ONLY
    assert _locks(chroma_server, collection, tmp_path) == []


def test_a_reader_in_another_home_answers_while_a_writer_holds_the_lock(
    chroma_server: tuple[str, int],  # noqa: F811
    tmp_path: Path,
    procs: list[subprocess.Popen[str]],
) -> None:
    collection = "reader_during_write"
    sample, extra = write_subsets(tmp_path)
    ingest(
        [sample], settings=_settings(chroma_server, collection, tmp_path / "seed"), progress=False
    )
    writer = _paused_writer(chroma_server, collection, tmp_path / "home_a", extra, tmp_path, 60)
    procs.append(writer)

    env = _env(*chroma_server, collection)
    title = json.loads(sample.read_text().splitlines()[0])["title"]
    question = f"What does {title} propose?"
    for home in (tmp_path / "home_c", tmp_path / "seed"):  # a new home, and one with old BM25
        ask = _cli("ask", question, "--mode", "extractive", home=home, env=env)
        out, err = ask.communicate(timeout=300)
        assert ask.returncode == 0, err[-3000:]
        assert "[1]" in out, out
        assert "waiting" not in err
    assert writer.poll() is None  # the writer was holding the lock all along
    assert _locks(chroma_server, collection, tmp_path) == [lease.lock_name(collection)]

    (tmp_path / "go").touch()
    _out, err = writer.communicate(timeout=300)
    assert writer.returncode == 0, err[-3000:]


def test_a_writer_that_may_not_wait_refuses_before_touching_anything(
    chroma_server: tuple[str, int],  # noqa: F811
    tmp_path: Path,
) -> None:
    collection = "refused_writer"
    sample, extra = write_subsets(tmp_path)
    ingest(
        [sample], settings=_settings(chroma_server, collection, tmp_path / "seed"), progress=False
    )
    settings = _settings(chroma_server, collection, tmp_path / "holder")
    held = ServerLock(PaperStore(settings), settings)
    held.acquire()  # another machine's ingest, as far as the server can tell
    try:
        before = PaperStore(settings).collection.count()
        version = PaperStore(settings).metadata(fresh=True).get("bm25_version")
        # The lock is no paper collection: `collections` does not list it.
        listed = [c.name for c in list_collections(settings)]
        assert collection in listed and not any(lease.is_lock(n) for n in listed)
        assert _locks(chroma_server, collection, tmp_path) == [lease.lock_name(collection)]

        env = _env(*chroma_server, collection, RAG_PAPERS_WRITER_WAIT_S="0")
        proc = _cli("ingest", str(extra), home=tmp_path / "home_b", env=env)
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 2, (out, err)
        assert f"another ingest (host {os.uname().nodename}, pid {os.getpid()}" in err
        assert "holds the writer lock" in err and "nothing was written" in err
        assert PaperStore(settings).collection.count() == before
        assert PaperStore(settings).metadata(fresh=True).get("bm25_version") == version
        assert not (tmp_path / "home_b" / "manifest.json").exists()

        waiting = _settings(chroma_server, collection, tmp_path / "home_c", writer_wait_s=0.5)
        with pytest.raises(WriterLockError, match="holds the writer lock"):
            ingest([extra], settings=waiting, progress=False)
    finally:
        held.release()
    assert _locks(chroma_server, collection, tmp_path) == []


def test_a_home_out_of_step_with_the_server_rebuilds_its_keyword_index_once(
    chroma_server: tuple[str, int],  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    collection = "out_of_step"
    sample, extra = write_subsets(tmp_path)
    here = _settings(chroma_server, collection, tmp_path / "machine_a")
    there = _settings(chroma_server, collection, tmp_path / "machine_b")
    ingest([sample], settings=here, progress=False)
    only_there = [
        " ".join(p["title"].split())
        for i, p in json.loads(extra.read_text()).items()
        if i not in SHARED_IDS
    ]
    titles = [h.title for h in Retriever(here).retrieve(only_there[0], k=3, method="bm25")]
    assert only_there[0] not in titles

    ingest([extra], settings=there, progress=False)  # another machine writes
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="rag_papers"):
        for title in only_there:
            found = [h.title for h in Retriever(here).retrieve(title, k=3, method="bm25")]
            assert title in found
    rebuilt = [r for r in caplog.records if "out of step" in r.getMessage()]
    assert len(rebuilt) == 1 and rebuilt[0].levelno == logging.WARNING, caplog.text
    assert "another writer" in rebuilt[0].getMessage()


def test_a_keyword_rebuild_that_another_machine_writes_during_is_not_taken_as_current(
    chroma_server: tuple[str, int],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A reader rebuilding its copy while a writer elsewhere adds papers (no lock orders
    the two: readers never wait for writers) must not label the copy with the version the
    writer left, or it would answer without those papers until the next write."""
    from rag_papers.index import bm25

    collection = "rebuild_race"
    sample, extra = write_subsets(tmp_path)
    here = _settings(chroma_server, collection, tmp_path / "machine_a")
    there = _settings(chroma_server, collection, tmp_path / "machine_b")
    ingest([sample], settings=here, progress=False)
    bm25.mark_changed(PaperStore(here))  # this home's copy is stale: the next read rebuilds it
    real_write = bm25.write_bm25
    wrote_between: list[int] = []

    def write_then_another_machine_ingests(*args: object, **kwargs: object) -> int:
        chunks = real_write(*args, **kwargs)  # type: ignore[arg-type]
        if not wrote_between:  # the other machine's ingest lands after the chunks were read
            wrote_between.append(-1)  # (its own BM25 build comes through here too)
            wrote_between[0] = ingest([extra], settings=there, progress=False).new
        return chunks

    monkeypatch.setattr(bm25, "write_bm25", write_then_another_machine_ingests)
    Retriever(here).retrieve("diffusion", k=3, method="bm25")
    monkeypatch.undo()
    assert wrote_between == [ONLY]

    only_there = [
        " ".join(p["title"].split())
        for i, p in json.loads(extra.read_text()).items()
        if i not in SHARED_IDS
    ]
    for title in only_there:  # a later read in this home sees its copy is stale and rebuilds
        found = [h.title for h in Retriever(here).retrieve(title, k=3, method="bm25")]
        assert title in found
