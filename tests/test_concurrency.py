"""One writer and a reader at once against a real `chroma run` server, in separate processes.

The deployment this protects: a UI process answering questions while `rag-papers ingest`
runs elsewhere against the same Chroma server. Each process has its own home folder (its
own BM25 copy), as two machines would; the BM25 version in the collection's metadata is
what tells the reader its copy is stale.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_store_server import chroma_server  # noqa: F401  (module-scoped `chroma run` fixture)

from rag_papers.readers import read_listing
from rag_papers.settings import Settings

pytestmark = pytest.mark.server

LISTING = (
    Path(__file__).resolve().parents[1]
    / "rag_papers"
    / "data"
    / "sample"
    / "004_9055317b84f6e392.txt"
)
COLLECTION = "concurrent_papers"

WRITER = r"""
import json, sys, time
from pathlib import Path
from rag_papers.index.ingest import ingest
from rag_papers.settings import Settings

COLLECTION, host, port, home, first, second, seeded, go = sys.argv[1:]
settings = Settings(home=home, chroma_host=host, chroma_port=int(port), collection=COLLECTION)
ingest([first], settings=settings, progress=False)
Path(seeded).write_text("ok")
deadline = time.monotonic() + 120
while not Path(go).exists():
    if time.monotonic() > deadline:
        sys.exit("the reader never started")
    time.sleep(0.05)
start = time.time()
summary = ingest([second], settings=settings, progress=False)
print(json.dumps({"start": start, "end": time.time(), "new": summary.new, "chunks": summary.chunks}))
"""

READER = r"""
import json, sys, time, traceback
from pathlib import Path
from rag_papers.qa.retrieve import Retriever
from rag_papers.settings import Settings

COLLECTION, host, port, home, seeded, go, done, questions, new_titles = sys.argv[1:]
questions, new_titles = json.loads(questions), json.loads(new_titles)
deadline = time.monotonic() + 120
while not Path(seeded).exists():
    if time.monotonic() > deadline:
        sys.exit("the writer never seeded the store")
    time.sleep(0.05)
settings = Settings(home=home, chroma_host=host, chroma_port=int(port), collection=COLLECTION)
reader = Retriever(settings)  # long-lived, as in the UI
log, errors = [], []
i = 0
while True:
    finished = Path(done).exists()  # read before the query: the last loop starts after the writer
    method = ("hybrid", "dense", "bm25")[i % 3]
    try:
        got = reader.retrieve(questions[i % len(questions)], k=3, method=method)
        log.append({"t": time.time(), "method": method, "titles": [p.title for p in got]})
        Path(go).touch()
    except Exception:
        errors.append(traceback.format_exc())
    i += 1
    if finished or time.monotonic() > deadline + 120:
        break


def top_titles(retriever, question, method):
    return [p.title for p in retriever.retrieve(question, k=3, method=method)]


fresh = Retriever(settings)  # a new reader process would start like this, same home folder
result = {
    "log": log,
    "errors": errors,
    "long_lived_dense": [top_titles(reader, t, "dense") for t in new_titles],
    "long_lived_bm25": [top_titles(reader, t, "bm25") for t in new_titles],
    "fresh_bm25": [top_titles(fresh, t, "bm25") for t in new_titles],
    "fresh_hybrid": [top_titles(fresh, t, "hybrid") for t in new_titles],
}
print(json.dumps(result))
"""


def _jsonl(path: Path, papers: list) -> Path:
    path.write_text(
        "\n".join(json.dumps({"title": p.title, "abstract": p.abstract}) for p in papers)
    )
    return path


def test_reader_keeps_answering_while_a_writer_ingests_and_then_sees_new_papers(
    chroma_server: tuple[str, int],  # noqa: F811
    tmp_path: Path,
) -> None:
    host, port = chroma_server
    papers = read_listing(LISTING).papers
    seed, added = papers[:6], papers[6:12]
    first = _jsonl(tmp_path / "first.jsonl", seed)
    second = _jsonl(tmp_path / "second.jsonl", added)
    seeded, go, done = (tmp_path / name for name in ("seeded", "go", "done"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_PAPERS_", "OPENAI_"))}
    server = [COLLECTION, host, str(port)]

    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            WRITER,
            *server,
            str(tmp_path / "writer_home"),
            str(first),
            str(second),
            str(seeded),
            str(go),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    questions = [f"What does {p.title} propose?" for p in seed]
    new_titles = [p.title for p in added[:3]]
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            READER,
            *server,
            str(tmp_path / "reader_home"),
            str(seeded),
            str(go),
            str(done),
            json.dumps(questions),
            json.dumps(new_titles),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        w_out, w_err = writer.communicate(timeout=240)
        assert writer.returncode == 0, w_err[-3000:]
        done.touch()
        r_out, r_err = reader.communicate(timeout=240)
        assert reader.returncode == 0, r_err[-3000:]
    finally:
        for proc in (writer, reader):
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    wrote = json.loads(w_out.strip().splitlines()[-1])
    seen = json.loads(r_out.strip().splitlines()[-1])
    assert wrote["new"] == len(added) and wrote["chunks"] >= len(added)

    assert seen["errors"] == [], seen["errors"][0]
    print(
        "long-lived reader BM25 for new titles:",
        seen["long_lived_bm25"],
        "queries:",
        len(seen["log"]),
    )
    during = [q for q in seen["log"] if wrote["start"] <= q["t"] <= wrote["end"]]
    assert {q["method"] for q in during} == {"hybrid", "dense", "bm25"}, (
        "reader did not overlap the writer"
    )
    assert all(q["titles"] for q in seen["log"])

    for title, dense in zip(new_titles, seen["long_lived_dense"], strict=False):
        assert title in dense  # vectors live on the server: a running reader sees them at once
    for title, bm25, hybrid in zip(
        new_titles, seen["fresh_bm25"], seen["fresh_hybrid"], strict=False
    ):
        # the reader's own BM25 copy predates the write; the version in the collection's
        # metadata makes the next reader rebuild it rather than miss the new papers
        assert title in bm25 and title in hybrid
    reader_settings = Settings(home=tmp_path / "reader_home", collection=COLLECTION)
    marker = json.loads((reader_settings.bm25_dir / "version.json").read_text())
    assert marker["chunks"] >= len(seed) + len(added)
