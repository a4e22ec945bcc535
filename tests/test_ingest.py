"""Ingestion with the real embedding model and a real embedded Chroma store.

Papers are real abstracts from the bundled sample listing, a handful per test, written to
temporary JSONL files so a test can change one field and ingest again. What is checked is
what the store ends up holding: chunk ids, texts, metadata and vectors, and whether the
index still answers after an ingest fails.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from rag_papers.errors import EmbeddingMismatchError, InputError
from rag_papers.index.ingest import ingest
from rag_papers.index.stats import collection_stats
from rag_papers.readers import read_listing
from rag_papers.settings import Settings
from rag_papers.types import Paper

SAMPLE = Path(__file__).resolve().parents[1] / "rag_papers" / "data" / "sample"
LISTING = SAMPLE / "004_9055317b84f6e392.txt"  # has author counts and dates
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@functools.cache
def real_papers() -> tuple[Paper, ...]:
    return tuple(read_listing(LISTING).papers)


def record(i: int, *, short: bool = True, **changes: Any) -> dict[str, Any]:
    """Paper i of the sample listing as a JSONL record with full metadata.

    By default only the abstract's first two sentences (one chunk, quick to embed).
    """
    p = real_papers()[i]
    abstract = " ".join(re.split(r"(?<=[.!?])\s+", p.abstract)[:2]) if short else p.abstract
    rec = {
        "title": p.title,
        "abstract": abstract,
        "authors": [f"Author {i}-{j}" for j in range(3)],
        "published": f"2024-03-{i + 1:02d}",
        "url": f"https://arxiv.org/abs/2403.{10000 + i}",
        "arxiv_id": f"2403.{10000 + i}",
    }
    rec.update(changes)
    return rec


def write_jsonl(path: Path, records: list[dict[str, Any] | str]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def store_chunks(settings: Settings, *, embeddings: bool = False) -> dict[str, dict[str, Any]]:
    """chunk id -> {document, metadata[, embedding]} for everything in the collection."""
    from rag_papers.index.store import PaperStore

    store = PaperStore(settings)
    if not store.exists():
        return {}
    include = ["documents", "metadatas"] + (["embeddings"] if embeddings else [])
    got = store.collection.get(include=include)
    out = {}
    for n, cid in enumerate(got["ids"]):
        out[cid] = {"document": got["documents"][n], "metadata": got["metadatas"][n]}
        if embeddings:
            out[cid]["embedding"] = [float(x) for x in got["embeddings"][n]]
    return out


def papers_in_store(settings: Settings) -> dict[str, list[str]]:
    """paper_id -> its chunk ids, sorted."""
    out: dict[str, list[str]] = {}
    for cid, chunk in store_chunks(settings).items():
        out.setdefault(chunk["metadata"]["paper_id"], []).append(cid)
    return {pid: sorted(ids) for pid, ids in out.items()}


def assert_complete(settings: Settings) -> None:
    """Every paper holds exactly chunks 0..n-1 of one version."""
    by_paper: dict[str, list[dict[str, Any]]] = {}
    for cid, chunk in store_chunks(settings).items():
        assert cid.startswith(chunk["metadata"]["paper_id"] + "#")
        by_paper.setdefault(chunk["metadata"]["paper_id"], []).append(chunk["metadata"])
    for pid, metas in by_paper.items():
        n = metas[0]["n_chunks"]
        assert sorted(m["chunk_index"] for m in metas) == list(range(n)), pid
        assert len({m["content_hash"] for m in metas}) == 1, pid


def retrieve_titles(settings: Settings, question: str, k: int = 3) -> list[str]:
    from rag_papers.qa.retrieve import Retriever

    return [p.title for p in Retriever(settings).retrieve(question, k=k)]


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


class CrashingModel:
    """The real local model, raising on its batch call number `good_calls + 1` (a crash
    mid-run); passed to ingest() as its embedding model."""

    def __init__(self, settings: Settings, good_calls: int) -> None:
        from rag_papers.providers.embed import make_embed_model

        self.real = make_embed_model(settings)
        self.good_calls = good_calls
        self.calls: list[int] = []

    def get_text_embedding(self, text: str) -> list[float]:
        return self.real.get_text_embedding(text)

    def get_text_embedding_batch(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        self.calls.append(len(texts))
        if len(self.calls) > self.good_calls:
            raise RuntimeError("simulated crash while embedding")
        return self.real.get_text_embedding_batch(texts, **kwargs)


class UnusableModel:
    """An embedding model that fails the test if ingest() uses it at all."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"an unchanged re-ingest must not use the embedding model ({name})")


# -- incremental --------------------------------------------------------------------------


def test_reingest_is_incremental_and_rebuild_starts_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(home=tmp_path / "home")
    src = write_jsonl(tmp_path / "papers.jsonl", [record(0), record(1), record(2)])

    first = ingest([src], settings=settings, progress=False)
    assert (first.read, first.new, first.updated, first.unchanged) == (3, 3, 0, 0)
    assert first.chunks == collection_stats(settings)["chunks"] >= 3
    before = store_chunks(settings)

    # Unchanged input: nothing is embedded; the model is not even used.
    again = ingest([src], settings=settings, progress=False, embed_model=UnusableModel())  # type: ignore[arg-type]
    assert (again.new, again.updated, again.unchanged, again.chunks) == (0, 0, 3, 0)
    assert "0 new" in again.line() and "0 chunks embedded" in again.line()
    assert store_chunks(settings) == before

    # One changed abstract: only that paper is re-embedded, and its stored text changes.
    changed = record(1, abstract=record(1)["abstract"] + " ZEBRAFISH MARKER SENTENCE.")
    write_jsonl(src, [record(0), changed, record(2)])
    third = ingest([src], settings=settings, progress=False)
    assert (third.new, third.updated, third.unchanged) == (0, 1, 2)
    after = store_chunks(settings)
    pid1 = "arxiv:2403.10001"
    ids1 = [cid for cid in after if cid.startswith(pid1 + "#")]
    assert third.chunks == len(ids1)
    assert "ZEBRAFISH MARKER SENTENCE" in after[ids1[-1]]["document"]
    assert not any("ZEBRAFISH" in c["document"] for cid, c in before.items())
    for cid, chunk in after.items():  # the other papers' chunks are untouched
        if not cid.startswith(pid1):
            assert chunk == before[cid]
    assert len(papers_in_store(settings)) == 3
    assert_complete(settings)

    # --rebuild: everything is new again, and papers no longer in the input are gone.
    write_jsonl(src, [record(0), record(3)])
    rebuilt = ingest([src], settings=settings, rebuild=True, progress=False)
    assert (rebuilt.new, rebuilt.updated, rebuilt.unchanged) == (2, 0, 0)
    assert set(papers_in_store(settings)) == {"arxiv:2403.10000", "arxiv:2403.10003"}
    assert collection_stats(settings)["papers"] == 2


def test_papers_given_twice_are_indexed_once(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    paper = real_papers()[5]
    summary = ingest(settings=settings, papers=[paper, paper], progress=False)
    assert (summary.read, summary.new) == (1, 1)
    assert list(papers_in_store(settings)) == [paper.paper_id]


# -- what a chunk holds -------------------------------------------------------------------


def test_every_chunk_embeds_its_title_and_carries_metadata(tmp_path: Path) -> None:
    from rag_papers.providers.embed import make_embed_model

    # Small chunks so each abstract is split into several; all of them must carry the title.
    settings = Settings(home=tmp_path / "home", chunk_tokens=96, chunk_overlap=8)
    src = write_jsonl(tmp_path / "papers.jsonl", [record(0, short=False), record(4, short=False)])
    # Three papers of a real listing, with author counts and dates with and without a year.
    listing = tmp_path / "listing.txt"
    lines = (FIXTURES / "src_listing_meta.txt").read_text(encoding="utf-8").splitlines()
    listing.write_text("\n".join(lines[20:44]) + "\n", encoding="utf-8")
    listed = read_listing(listing).papers
    assert [p.published for p in listed] == [None, None, "2023-08-30"]

    summary = ingest([src, listing], settings=settings, progress=False)
    assert (summary.new, summary.warnings) == (5, [])
    chunks = store_chunks(settings, embeddings=True)
    assert len(chunks) == summary.chunks >= 15  # several chunks per paper

    model = make_embed_model(settings)
    ids = sorted(chunks)
    with_title = model.get_text_embedding_batch(
        [f"{chunks[c]['metadata']['title']}\n\n{chunks[c]['document']}" for c in ids]
    )
    without = model.get_text_embedding_batch([chunks[c]["document"] for c in ids])
    for cid, wt, wo in zip(ids, with_title, without, strict=False):
        stored = chunks[cid]["embedding"]
        assert cosine(stored, wt) > 0.999, cid  # the vector is of title + chunk text
        assert cosine(stored, wo) < 0.99, cid

    for cid, chunk in chunks.items():
        meta, n = chunk["metadata"], int(cid.split("#")[1])
        assert cid == f"{meta['paper_id']}#{n}" and meta["chunk_index"] == n
        assert ("abstract" in meta) == (n == 0)  # the whole abstract once, on chunk 0
        if not cid.startswith("arxiv:"):
            continue
        i = 0 if cid.startswith("arxiv:2403.10000") else 4
        assert meta["paper_id"] == f"arxiv:2403.{10000 + i}"
        assert meta["title"] == real_papers()[i].title
        assert meta["published"] == f"2024-03-{i + 1:02d}" and meta["year"] == 2024
        assert meta["authors"] == f"Author {i}-0; Author {i}-1; Author {i}-2"
        assert meta["n_authors"] == 3
        assert meta["url"] == f"https://arxiv.org/abs/2403.{10000 + i}"
        assert meta["source"] == f"{src}:{i // 4 + 1}"
        assert chunk["document"] in real_papers()[i].abstract

    # Listing papers: ISO dates where the listing gives a year, "" / 0 where it does not.
    firsts = {
        c["metadata"]["title"]: c["metadata"]
        for c in chunks.values()
        if c["metadata"]["chunk_index"] == 0
    }
    for p, (published, year, n_authors, line) in zip(
        listed, [("", 0, 5, 1), ("", 0, 8, 9), ("2023-08-30", 2023, 6, 17)], strict=False
    ):
        meta = firsts[p.title]
        assert (meta["published"], meta["year"], meta["n_authors"]) == (published, year, n_authors)
        assert meta["source"] == f"{listing}:{line}"
        assert meta["paper_id"] == p.paper_id and meta["url"] == ""
        assert meta["abstract"] == p.abstract


# -- an ingest that dies part-way -------------------------------------------------------------


def test_failed_ingest_leaves_index_usable_and_rerun_completes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag_papers.index.ingest import write_group_size

    # 8 chunks per write; at 128 tokens papers 2, 3 and 4 have 4, 3 and 3 chunks, so the first
    # write holds papers 2, 3 and the first chunk of 4, and the crash cuts paper 4 in half.
    settings = Settings(home=tmp_path / "home", embed_batch_size=1, chunk_tokens=128)
    assert write_group_size(settings) == 8
    full = [record(i, short=False) for i in range(7)]
    src = write_jsonl(tmp_path / "papers.jsonl", full[:2])
    ingest([src], settings=settings, progress=False)
    old0 = store_chunks(settings)["arxiv:2403.10000#0"]["document"]

    # Five new papers, then a changed version of paper 0 at the end: the crash comes first.
    changed0 = record(0, abstract="SUPERSEDED. " + full[0]["abstract"])
    write_jsonl(src, full[1:] + [changed0])
    # The model is called once per batch (1 text here, so progress can be reported per batch):
    # the 9th call, the first of the second write, crashes.
    crashing = CrashingModel(settings, good_calls=8)
    with pytest.raises(RuntimeError, match="simulated crash"):
        ingest([src], settings=settings, progress=False, embed_model=crashing)  # type: ignore[arg-type]
    assert len(crashing.calls) == 9 and set(crashing.calls) == {1}

    # The index still answers: stats, and retrieval of a paper from before the crash, whose
    # old version is kept because the crash came before its turn.
    from rag_papers.index.store import PaperStore

    states = PaperStore(settings).paper_states()
    assert sorted(states) == [f"arxiv:2403.{10000 + i}" for i in range(5)]
    assert [pid for pid, st in states.items() if not st.complete] == ["arxiv:2403.10004"]
    stats = collection_stats(settings)
    assert stats["papers"] == 5
    assert store_chunks(settings)["arxiv:2403.10000#0"]["document"] == old0
    top = retrieve_titles(settings, "Matryoshka representation learning nested embeddings")
    assert top[0] == real_papers()[1].title

    # Running it again completes the job: every paper once, each complete, paper 0 updated.
    done = ingest([src], settings=settings, progress=False)
    assert done.read == 7
    # new: 5, 6; updated: 0 (changed) and 4 (cut in half); unchanged: 1, 2, 3
    assert (done.new, done.updated, done.unchanged) == (2, 2, 3)
    assert set(papers_in_store(settings)) == {f"arxiv:2403.{10000 + i}" for i in range(7)}
    assert_complete(settings)
    assert store_chunks(settings)["arxiv:2403.10000#0"]["document"].startswith("SUPERSEDED.")
    assert collection_stats(settings)["papers"] == 7
    again = ingest([src], settings=settings, progress=False)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 7)


# -- bad input ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_paper_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("two")
    src = write_jsonl(home.parent / "two.jsonl", [record(0), record(1)])
    ingest([src], settings=Settings(home=home), progress=False)
    return home


def bad_inputs(folder: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, text the InputError must contain besides the file's path)."""
    binary = folder / "papers.jsonl.gz"
    binary.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00" + bytes(range(256)))
    empty = folder / "empty.jsonl"
    empty.write_text("\n  \n")
    csv_file = folder / "papers.csv"
    csv_file.write_text("name,summary\nA paper,Its abstract.\n")
    return {
        "missing": (folder / "nope.jsonl", "no such file"),
        "empty": (empty, "empty"),
        "binary": (binary, "binary"),
        "csv_without_title": (csv_file, "title"),
    }


@pytest.mark.parametrize("case", ["missing", "empty", "binary", "csv_without_title"])
def test_bad_file_is_a_clear_error_and_the_index_is_untouched(
    case: str, two_paper_home: Path, tmp_path: Path
) -> None:
    settings = Settings(home=two_paper_home)
    before = collection_stats(settings)
    path, words = bad_inputs(tmp_path)[case]
    with pytest.raises(InputError) as err:
        ingest([path], settings=settings, progress=False)
    assert str(path) in str(err.value) and words in str(err.value).lower()
    after = collection_stats(settings)
    assert (after["papers"], after["chunks"], after["last_ingest"]) == (
        before["papers"],
        before["chunks"],
        before["last_ingest"],
    )


def test_bad_lines_are_counted_warnings_and_strict_makes_them_errors(
    two_paper_home: Path, tmp_path: Path
) -> None:
    settings = Settings(home=two_paper_home)
    src = write_jsonl(
        tmp_path / "mixed.jsonl",
        [
            record(0),
            '{"title": "Broken line", "abstract": ',
            record(1),
            {"title": "A paper without an abstract", "url": "https://arxiv.org/abs/2403.99999"},
        ],
    )
    with pytest.raises(InputError) as err:
        ingest([src], settings=settings, strict=True, progress=False)
    assert f"{src}:2" in str(err.value) and f"{src}:4" in str(err.value)
    assert collection_stats(settings)["papers"] == 2

    summary = ingest([src], settings=settings, progress=False)
    assert (summary.read, summary.skipped, summary.unchanged, summary.new) == (2, 2, 2, 0)
    assert len(summary.warnings) == 2
    assert summary.warnings[0].startswith(f"{src}:2: not valid JSON")
    assert summary.warnings[1].startswith(f"{src}:4: ") and "no abstract" in summary.warnings[1]
    # still usable after all of the above
    assert (
        retrieve_titles(settings, "nested Matryoshka embeddings of several sizes")[0]
        == real_papers()[1].title
    )


def test_collection_name_chroma_refuses_is_a_config_error(tmp_path: Path) -> None:
    from rag_papers.errors import ConfigError

    src = write_jsonl(tmp_path / "papers.jsonl", [record(0)])
    with pytest.raises(ConfigError, match="RAG_PAPERS_COLLECTION"):
        ingest([src], settings=Settings(home=tmp_path / "home", collection="x"), progress=False)


# -- embedding model mismatch ----------------------------------------------------------------


def test_store_built_with_another_model_refuses_and_says_how_to_rebuild(
    two_paper_home: Path, tmp_path: Path
) -> None:
    from rag_papers.providers.embed import local_model_dir
    from rag_papers.qa.retrieve import Retriever

    home = tmp_path / "home"
    shutil.copytree(two_paper_home, home)
    other = tmp_path / "my-finetuned-minilm"
    shutil.copytree(local_model_dir(), other)
    settings = Settings(home=home, embed_model=str(other))
    src = write_jsonl(tmp_path / "more.jsonl", [record(0), record(1), record(2)])

    with pytest.raises(EmbeddingMismatchError) as err:
        ingest([src], settings=settings, progress=False)
    message = str(err.value)
    assert "local:all-MiniLM-L6-v2" in message and str(other) in message
    assert "rag-papers ingest --rebuild" in message
    with pytest.raises(EmbeddingMismatchError, match="--rebuild"):
        Retriever(settings).retrieve("supervised pre-training", k=2)
    assert collection_stats(Settings(home=home))["papers"] == 2  # nothing was touched

    rebuilt = ingest([src], settings=settings, rebuild=True, progress=False)
    assert rebuilt.new == 3
    stats = collection_stats(settings)
    assert (stats["papers"], stats["embedding_model"]) == (3, f"local:{other}")
    assert (
        retrieve_titles(settings, "supervised pre-training for downstream transfer")[0]
        == real_papers()[0].title
    )
    with pytest.raises(EmbeddingMismatchError):  # and now the default model is the stranger
        Retriever(Settings(home=home)).retrieve("supervised pre-training", k=2)


# -- no network on the default path ---------------------------------------------------------

NET_GUARD = '''
"""Loaded at start-up (sitecustomize): record and refuse any non-loopback connection."""
import os
import re
import socket

_LOG = os.environ["NET_GUARD_LOG"]
_connect, _connect_ex, _getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo


def _local(host):
    host = host.decode() if isinstance(host, bytes) else str(host)
    return host in ("", "localhost", "::1", "0.0.0.0") or host.startswith("127.")


def _refuse(what, target):
    with open(_LOG, "a") as f:
        f.write(f"{what} {target!r}\\n")
    raise OSError(f"network disabled by test guard: {what} {target!r}")


def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):
        _refuse("connect", address)
    return _connect(self, address)


def connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):
        _refuse("connect_ex", address)
    return _connect_ex(self, address)


def getaddrinfo(host, *args, **kwargs):
    if host is not None and not _local(host):
        _refuse("getaddrinfo", host)
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo
'''

OFFLINE_SCRIPT = """
import sys
from rag_papers import ingest, Settings
from rag_papers.qa.retrieve import Retriever

settings = Settings(home=sys.argv[1])
summary = ingest([sys.argv[2]], settings=settings, progress=False)
papers = Retriever(settings).retrieve("nested representations of several sizes", k=2)
print(summary.new, papers[0].title)
"""


def test_default_path_makes_no_outbound_connection(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on: proxies that go nowhere
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    guard_dir = tmp_path / "guard"
    guard_dir.mkdir()
    (guard_dir / "sitecustomize.py").write_text(textwrap.dedent(NET_GUARD))
    log = tmp_path / "attempts.log"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HF_", "TRANSFORMERS_", "RAG_PAPERS_", "OPENAI_"))
    }
    env.update(
        PYTHONPATH=str(guard_dir),
        NET_GUARD_LOG=str(log),
        HTTP_PROXY=dead,
        HTTPS_PROXY=dead,
        http_proxy=dead,
        https_proxy=dead,
        ALL_PROXY=dead,
        HOME=str(tmp_path),  # no ~/.cache to lean on
    )
    src = write_jsonl(tmp_path / "p.jsonl", [record(0), record(1)])
    proc = subprocess.run(
        [sys.executable, "-c", OFFLINE_SCRIPT, str(tmp_path / "home"), str(src)],
        env=env,
        cwd=tmp_path,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split(None, 1) == ["2", real_papers()[1].title + "\n"]
    assert not log.exists(), log.read_text()
    # the guard itself works: a non-loopback connection is refused and recorded
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import socket; socket.create_connection(('192.0.2.1', 80), timeout=1)",
        ],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode != 0 and "network disabled by test guard" in probe.stderr
    assert "192.0.2.1" in log.read_text()


# -- the OpenAI embedding backend, over real HTTP ---------------------------------------------


class FakeEmbeddingsServer:
    """An OpenAI-compatible /v1/embeddings endpoint on 127.0.0.1 that can fail on cue.

    Vectors are hashed bags of words (so similar texts get similar vectors); `fail` queues
    (status, headers) answers by request number (1 = the first request). Every request's body
    and headers are recorded.
    """

    DIM = 64

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.failures: dict[int, tuple[int, dict[str, str]]] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                server.headers.append(
                    {k.lower(): v for k, v in self.headers.items()}
                )  # HTTP names are case-blind
                if self.path != "/v1/embeddings":
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                if len(server.requests) in server.failures:
                    status, headers = server.failures[len(server.requests)]
                    return self._send(status, {"error": {"message": f"scripted {status}"}}, headers)
                texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
                data = []
                for i, text in enumerate(texts):
                    vec = server.vector(text)
                    if body.get("encoding_format") == "base64":
                        import array
                        import base64

                        vec = base64.b64encode(array.array("f", vec).tobytes()).decode()
                    data.append({"object": "embedding", "index": i, "embedding": vec})
                data.reverse()  # servers may answer out of order; `index` is what counts
                usage = {"prompt_tokens": len(texts), "total_tokens": len(texts)}
                self._send(
                    200, {"object": "list", "data": data, "model": body["model"], "usage": usage}
                )

            def _send(
                self, status: int, payload: Any, headers: dict[str, str] | None = None
            ) -> None:
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}
        )
        self.thread.daemon = True

    def vector(self, text: str) -> list[float]:
        import hashlib
        import re

        vec = [0.0] * self.DIM
        for word in re.findall(r"[a-z0-9]+", text.lower()):
            vec[int(hashlib.md5(word.encode()).hexdigest(), 16) % self.DIM] += 1.0
        norm = math.sqrt(sum(v * v for v in vec)) or 1.0
        return [v / norm for v in vec]


@pytest.fixture
def embeddings_server() -> Any:
    server = FakeEmbeddingsServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def test_openai_backend_batches_retries_and_guards_the_store(
    embeddings_server: FakeEmbeddingsServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from rag_papers.errors import LLMError
    from rag_papers.qa.retrieve import Retriever

    settings = Settings(
        home=tmp_path / "home",
        embed_backend="openai",
        embed_batch_size=2,
        openai_api_key="sk-test-not-a-real-key",
        openai_base_url=embeddings_server.base_url,
        llm_max_wait=0.05,
    )
    src = write_jsonl(tmp_path / "papers.jsonl", [record(0), record(1), record(2)])
    # the probe for the dimension gets a 429 (Retry-After 0), the first batch a 503
    embeddings_server.failures = {1: (429, {"Retry-After": "0"}), 3: (503, {})}
    summary = ingest([src], settings=settings, progress=False)
    assert summary.new == 3 and summary.chunks >= 3

    reqs = embeddings_server.requests
    assert {r["model"] for r in reqs} == {"text-embedding-3-small"}
    assert reqs[0] == reqs[1]  # the probe, retried after the 429
    assert reqs[2] == reqs[3]  # the first batch, retried after the 503
    batches = [r["input"] for r in reqs[3:]]
    assert all(1 <= len(b) <= 2 for b in batches)  # embed_batch_size per request
    assert sum(len(b) for b in batches) == summary.chunks
    titles = tuple(real_papers()[i].title + "\n\n" for i in range(3))
    assert all(text.startswith(titles) for b in batches for text in b)
    assert all(
        h.get("authorization") == "Bearer sk-test-not-a-real-key" for h in embeddings_server.headers
    )
    assert "sk-test" not in caplog.text
    assert "retrying" in caplog.text

    # vectors stored are the server's, in input order despite the reversed answer
    chunks = store_chunks(settings, embeddings=True)
    for cid, chunk in list(chunks.items())[:3]:
        text = f"{chunk['metadata']['title']}\n\n{chunk['document']}"
        assert cosine(chunk["embedding"], embeddings_server.vector(text)) > 0.9999, cid
    stats = collection_stats(settings)
    assert (stats["embedding_model"], stats["embedding_dim"]) == (
        "openai:text-embedding-3-small",
        64,
    )
    top = Retriever(settings).retrieve("Matryoshka representation learning", k=2, method="dense")
    assert top[0].title == real_papers()[1].title

    # the same store opened with the local model configured is refused
    local = Settings(home=tmp_path / "home")
    with pytest.raises(EmbeddingMismatchError, match=r"openai:text-embedding-3-small.*--rebuild"):
        Retriever(local).retrieve("Matryoshka", k=2)
    with pytest.raises(EmbeddingMismatchError):
        ingest([src], settings=local, progress=False)

    # a refused key fails at once (no retries) with what to check, and the index is intact
    write_jsonl(src, [record(0), record(1), record(2), record(3)])
    before = len(embeddings_server.requests)
    embeddings_server.failures = {before + 1: (401, {})}
    with pytest.raises(LLMError, match="HTTP 401.*OPENAI_API_KEY"):
        ingest([src], settings=settings, progress=False)
    assert len(embeddings_server.requests) == before + 1
    assert collection_stats(settings)["papers"] == 3


def test_openai_backend_needs_a_key_or_base_url(tmp_path: Path) -> None:
    from rag_papers.errors import ConfigError

    settings = Settings(home=tmp_path / "home", embed_backend="openai")
    src = write_jsonl(tmp_path / "papers.jsonl", [record(0)])
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        ingest([src], settings=settings, progress=False)


def test_openai_ingest_shows_the_cost_first_and_can_be_declined(
    embeddings_server: FakeEmbeddingsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag_papers.errors import InputError

    settings = Settings(
        home=tmp_path / "home",
        embed_backend="openai",
        openai_api_key="sk-test-not-a-real-key",
        openai_base_url=embeddings_server.base_url,
    )
    src = write_jsonl(tmp_path / "papers.jsonl", [record(0), record(1)])
    asked: list[tuple[int, float]] = []

    def decline(tokens: int, usd: float) -> bool:
        asked.append((tokens, usd))
        return False

    with pytest.raises(InputError, match="--yes"):
        ingest([src], settings=settings, progress=False, confirm=decline)
    tokens, usd = asked[0]
    assert tokens > 50 and usd == pytest.approx(tokens * 0.02 / 1e6)
    assert embeddings_server.requests == [], "nothing is sent before the user agrees"
    summary = ingest([src], settings=settings, progress=False, confirm=lambda t, c: True)
    assert summary.new == 2 and embeddings_server.requests
    # the CLI refuses to ask on a non-interactive input unless told --yes
    from rag_papers.app.cli import main

    env_args = ["--home", str(tmp_path / "home2"), "ingest", str(src)]
    monkeypatch.setenv("RAG_PAPERS_EMBED_BACKEND", "openai")
    monkeypatch.setenv("OPENAI_BASE_URL", embeddings_server.base_url)
    assert main(env_args) == 2
    assert main([*env_args, "--yes"]) == 0


def test_changing_the_chunk_size_asks_for_a_rebuild(tmp_path: Path) -> None:
    from rag_papers.errors import ConfigError
    from rag_papers.qa.retrieve import Retriever

    src = write_jsonl(tmp_path / "papers.jsonl", [record(0), record(1)])
    ingest([src], settings=Settings(home=tmp_path / "home"), progress=False)
    other = Settings(home=tmp_path / "home", chunk_tokens=120)
    with pytest.raises(ConfigError, match="--rebuild"):
        ingest([src], settings=other, progress=False)
    assert Retriever(Settings(home=tmp_path / "home")).retrieve(real_papers()[0].title, k=1)
    summary = ingest([src], settings=other, progress=False, rebuild=True)
    assert summary.new == 2 and summary.chunks >= 2


def test_ingest_uses_the_store_and_model_it_is_given(tmp_path: Path) -> None:
    """Dependencies passed in, not patched: the light numpy encoder of the bundled model
    (the same vectors as sentence-transformers) embeds straight into the caller's store."""
    from rag_papers.index.store import PaperStore
    from rag_papers.providers.embed import make_query_model

    settings = Settings(home=tmp_path / "home")
    store = PaperStore(settings)
    model = make_query_model(settings)
    calls: list[int] = []
    real_batch = model.get_text_embedding_batch

    def counted(texts: list[str], **kwargs: Any) -> list[list[float]]:
        calls.append(len(texts))
        return real_batch(texts, **kwargs)

    object.__setattr__(model, "get_text_embedding_batch", counted)
    src = write_jsonl(tmp_path / "papers.jsonl", [record(0), record(1)])
    summary = ingest([src], settings=settings, progress=False, store=store, embed_model=model)
    assert summary.new == 2 and sum(calls) == summary.chunks >= 2
    assert store.count_papers() == 2
    top = retrieve_titles(settings, record(1)["title"], k=1)
    assert top == [record(1)["title"]]
