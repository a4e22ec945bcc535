"""The Chroma server path: a real `chroma run` on 127.0.0.1, ingest, retrieval and stats over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from library_subsets import ingest_both_collections
from procs import free_port, stop_process

from rag_papers.errors import ConfigError
from rag_papers.index.ingest import ingest
from rag_papers.index.stats import collection_stats
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


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """`chroma run` from this venv, on a free port, data in a temp folder; stopped afterwards."""
    chroma = Path(sys.executable).parent / "chroma"
    assert chroma.exists(), f"{chroma} missing — pip install chromadb"
    data = tmp_path_factory.mktemp("chroma_server")
    port = free_port()
    log = (data.parent / "chroma_server.log").open("w")
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if (
                    httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code
                    == 200
                ):
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chroma server did not start: see {log.name}")
            time.sleep(0.1)
        yield "127.0.0.1", port
    finally:
        stop_process(proc)
        log.close()


def test_ingest_retrieve_and_stats_through_a_chroma_server(
    chroma_server: tuple[str, int], tmp_path: Path
) -> None:
    from rag_papers.qa.retrieve import Retriever

    host, port = chroma_server
    settings = Settings(
        home=tmp_path / "home", chroma_host=host, chroma_port=port, collection="server_papers"
    )
    papers = read_listing(LISTING).papers[:4]
    src = tmp_path / "papers.jsonl"
    src.write_text(
        "\n".join(json.dumps({"title": p.title, "abstract": p.abstract}) for p in papers)
    )

    first = ingest([src], settings=settings, progress=False)
    assert first.new == 4
    assert not settings.store_dir.exists()  # nothing embedded locally: the server holds it
    stats = collection_stats(settings)
    assert stats["store"] == f"http://{host}:{port}"
    assert (stats["papers"], stats["chunks"]) == (4, first.chunks)
    assert stats["embedding_model"] == "local:all-MiniLM-L6-v2"

    # the collection is really on the server: a plain client sees it
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.HttpClient(
        host=host, port=port, settings=ChromaSettings(anonymized_telemetry=False)
    )
    assert client.get_collection("server_papers").count() == first.chunks

    top = Retriever(settings).retrieve("Matryoshka representation learning", k=2)
    assert top[0].title == papers[1].title and top[0].abstract == papers[1].abstract

    again = ingest([src], settings=settings, progress=False)
    assert (again.new, again.unchanged, again.chunks) == (0, 4, 0)


@pytest.mark.parametrize("order", ["sample_first", "2024_first"])
def test_two_ingests_in_either_order_index_each_paper_once_on_a_server(
    chroma_server: tuple[str, int], tmp_path: Path, order: str
) -> None:
    from library_subsets import ONLY, SHARED_IDS, write_subsets

    host, port = chroma_server
    settings = Settings(
        home=tmp_path / "home", chroma_host=host, chroma_port=port, collection=f"dedup_{order}"
    )
    sample, extra = write_subsets(tmp_path)
    files = [sample, extra] if order == "sample_first" else [extra, sample]
    ingest([files[0]], settings=settings, progress=False)
    second = ingest([files[1]], settings=settings, progress=False)
    assert second.new == ONLY
    assert second.updated + second.unchanged == len(SHARED_IDS)
    stats = collection_stats(settings)
    assert stats["papers"] == len(SHARED_IDS) + 2 * ONLY

    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.HttpClient(
        host=host, port=port, settings=ChromaSettings(anonymized_telemetry=False)
    )
    metas = client.get_collection(f"dedup_{order}").get(include=["metadatas"])["metadatas"]
    ids = {m["paper_id"] for m in metas}
    assert {f"arxiv:{i}" for i in SHARED_IDS} <= ids
    assert len(ids) == len(SHARED_IDS) + 2 * ONLY


def test_unreachable_server_is_a_config_error(tmp_path: Path) -> None:
    port = free_port()  # nothing listens here
    settings = Settings(home=tmp_path, chroma_host="127.0.0.1", chroma_port=port)
    with pytest.raises(ConfigError) as err:
        collection_stats(settings)
    message = str(err.value)
    assert f"127.0.0.1:{port}" in message
    assert "chroma run --path DIR" in message and "RAG_PAPERS_CHROMA_HOST" in message


@pytest.mark.parametrize("order", ["sample_first", "2024_first"])
def test_full_size_two_ingests_give_1193_papers_on_a_server(
    chroma_server: tuple[str, int], tmp_path: Path, order: str
) -> None:
    """The bug report's numbers through a Chroma server: the whole sample (445) and the whole
    2024 collection (753) in two ingests give 1,193 papers (1,198 before the fix). Stand-in
    vectors (LlamaIndex's MockEmbedding) as in tests/test_library_dedup.py: which papers the
    server ends up holding does not depend on the embedding."""
    host, port = chroma_server
    settings = Settings(
        home=tmp_path / "home", chroma_host=host, chroma_port=port, collection=f"full_{order}"
    )
    ingest_both_collections(settings, order)

    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.HttpClient(
        host=host, port=port, settings=ChromaSettings(anonymized_telemetry=False)
    )
    metas = client.get_collection(f"full_{order}").get(include=["metadatas"])["metadatas"]
    assert len({m["paper_id"] for m in metas}) == 1193
