"""The store boundary: PaperStore is the one place that speaks Chroma."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from rag_papers import Filters, Settings
from rag_papers.index.store import DENSE_EF_SEARCH, PaperStore, where_clause, widen_search

PACKAGE = Path(__file__).resolve().parents[1] / "rag_papers"


def test_no_module_outside_the_store_reaches_into_chroma() -> None:
    """Callers use PaperStore's methods, never its Chroma collection or client."""
    reach = re.compile(r"\b\w*store\w*(\(\))?\.(collection|client)\b|\)\.(collection|client)\b")
    offenders = [
        f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}"
        for path in PACKAGE.rglob("*.py")
        # the two modules the import-linter contract lets speak Chroma
        if path not in (PACKAGE / "index" / "store.py", PACKAGE / "index" / "lease.py")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if reach.search(line)
    ]
    assert offenders == []


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters(), None),
        (Filters(title_contains="bert"), None),
        (Filters(year_from=2022), {"published_ord": {"$gte": 20220101}}),
        (
            Filters(year_from=2021, year_to=2022),
            {
                "$and": [
                    {"published_ord": {"$gte": 20210101}},
                    {"published_ord": {"$lte": 20221231}},
                ]
            },
        ),
        (
            # an open start must not let undated papers (stored as 0) through
            Filters(date_to="2020-06-30"),
            {"$and": [{"published_ord": {"$lte": 20200630}}, {"published_ord": {"$gt": 0}}]},
        ),
        (
            # the narrower bound wins when a year and a date are both given
            Filters(year_from=2020, date_from="2020-05-01"),
            {"published_ord": {"$gte": 20200501}},
        ),
    ],
)
def test_filters_become_a_chroma_where_clause(filters: Filters, expected) -> None:
    assert where_clause(filters) == expected


@pytest.fixture(scope="module")
def store(small_index: Path) -> PaperStore:
    return PaperStore(Settings(home=small_index))


def test_papers_are_listed_once_with_their_first_chunk(store: PaperStore) -> None:
    papers = store.list_papers()
    ids = [m["paper_id"] for m in papers]
    assert len(ids) == len(set(ids)) == store.count_papers() == 67
    assert all(m["chunk_index"] == 0 and m["title"] and m["abstract"] for m in papers)
    assert store.count_chunks() > store.count_papers()


def test_metadata_records_model_chunking_and_bm25_version(store: PaperStore) -> None:
    meta = store.metadata()
    assert meta["embed_model"] and meta["embed_dim"] == 384
    assert meta["chunking"] and meta["bm25_version"]
    assert store.metadata(fresh=True) == meta


def test_empty_store_lists_nothing(tmp_path: Path) -> None:
    empty = PaperStore(Settings(home=tmp_path))
    assert empty.list_papers() == [] and empty.count_papers() == 0


def test_a_new_collection_is_cosine_with_the_wide_search_beam(tmp_path: Path) -> None:
    store = PaperStore(Settings(home=tmp_path))
    hnsw = store.collection.configuration["hnsw"]
    assert hnsw["space"] == "cosine" and hnsw["ef_search"] == DENSE_EF_SEARCH
    store.update_metadata(embed_model="m")  # metadata writes keep the configuration
    store.refresh()
    assert store.collection.configuration["hnsw"] == hnsw
    assert store.metadata(fresh=True)["embed_model"] == "m"


def test_a_collection_made_by_an_older_version_gets_the_wide_beam_on_opening(
    tmp_path: Path,
) -> None:
    settings = Settings(home=tmp_path)
    client = PaperStore(settings).client
    # How versions before DENSE_EF_SEARCH created it: Chroma's default beam of 100.
    client.create_collection(
        "papers", embedding_function=None, metadata={"hnsw:space": "cosine", "chunking": "256/32"}
    )
    client.get_collection("papers").add(ids=["p#0"], embeddings=[[1.0, 0.0, 0.0]])
    assert client.get_collection("papers").configuration["hnsw"]["ef_search"] == 100

    store = PaperStore(settings)
    assert store.collection.configuration["hnsw"]["ef_search"] == DENSE_EF_SEARCH
    reread = client.get_collection("papers")
    assert reread.configuration["hnsw"]["ef_search"] == DENSE_EF_SEARCH
    assert reread.configuration["hnsw"]["space"] == "cosine"
    assert store.metadata(fresh=True) == {"hnsw:space": "cosine", "chunking": "256/32"}
    assert store.count_chunks() == 1


def test_a_store_that_refuses_the_wider_beam_is_still_opened(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class ReadOnly:  # the part of a Chroma collection widen_search uses
        name = "papers"
        configuration = {"hnsw": {"space": "cosine", "ef_search": 100}}

        def modify(self, **_: object) -> None:
            raise RuntimeError("attempt to write a readonly database")

    with caplog.at_level("WARNING"):
        widen_search(ReadOnly())  # type: ignore[arg-type]
    assert "from ef_search 100 to 1000" in caplog.text and "readonly" in caplog.text


def test_query_returns_cosine_similarity_and_honours_filters(store: PaperStore) -> None:
    ids, docs, metas = next(store.iter_chunks(batch=1))
    got = store.collection.get(ids=ids, include=["embeddings"])
    vec = [float(x) for x in got["embeddings"][0]]
    top = store.query(vec, 3)
    assert len(top) == 3
    assert top[0].text == docs[0] and top[0].paper_id == metas[0]["paper_id"]
    assert top[0].similarity == pytest.approx(1.0, abs=1e-5)  # cosine of a vector with itself
    assert top[0].similarity >= top[1].similarity >= top[2].similarity
    norm = math.sqrt(sum(x * x for x in vec))
    assert norm == pytest.approx(1.0, abs=1e-3)  # normalised vectors: similarity is in [-1, 1]

    year = int(metas[0]["year"])
    other = store.query(vec, 5, Filters(year_from=year + 1))
    assert other and all(int(m.metadata["year"]) > year for m in other)
    assert all(m.paper_id != metas[0]["paper_id"] for m in other)

    word = str(metas[0]["title"]).split()[0].lower()
    titled = store.query(vec, 5, Filters(title_contains=word))
    assert titled and all(word in str(m.metadata["title"]).lower() for m in titled)
