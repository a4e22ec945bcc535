"""Hybrid retrieval: fusion, grouping by paper, filters, the persisted BM25 index."""

from __future__ import annotations

import pytest

from rag_papers import IndexNotFoundError, QuestionError, Settings
from rag_papers.qa.retrieve import Filters, Retriever, rrf

MRL = "Matryoshka Representation Learning"


def test_rrf_rewards_agreement_between_rankings() -> None:
    scores = rrf([["a", "b", "c"], ["b", "a", "d"]], k=60)
    assert scores["a"] == scores["b"] == pytest.approx(1 / 61 + 1 / 62)
    assert scores["a"] > scores["c"] > 0 and scores["c"] == scores["d"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023", (2023, 2023)),
        ("2021-2024", (2021, 2024)),
        ("2022-", (2022, None)),
        ("-2020", (None, 2020)),
    ],
)
def test_year_ranges_parse(text, expected) -> None:
    f = Filters.parse_years(text)
    assert (f.year_from, f.year_to) == expected


@pytest.mark.parametrize("text", ["twenty", "2021-20x4"])
def test_bad_year_range_is_a_clear_error(text) -> None:
    with pytest.raises(QuestionError, match="2021-2024"):
        Filters.parse_years(text)


def test_bad_date_is_a_clear_error() -> None:
    with pytest.raises(QuestionError, match="YYYY-MM-DD"):
        Filters(date_from="2022-13-01").ord_bounds()


@pytest.fixture(scope="module")
def retriever(small_index) -> Retriever:
    return Retriever(Settings(home=small_index))


@pytest.mark.parametrize("method", ["hybrid", "dense", "bm25"])
def test_each_method_finds_the_paper_and_groups_chunks_by_paper(
    retriever: Retriever, method: str
) -> None:
    papers = retriever.retrieve(
        "Matryoshka representations: one embedding, many granularities", k=5, method=method
    )
    assert papers[0].title == MRL or MRL in [p.title for p in papers[:2]]
    ids = [p.paper_id for p in papers]
    assert len(ids) == len(set(ids)) == 5
    assert all(p.abstract and p.chunks for p in papers)


def test_hybrid_records_both_rankings(retriever: Retriever) -> None:
    top = retriever.retrieve("Matryoshka Representation Learning", k=3)[0]
    assert top.dense_rank is not None and top.bm25_rank is not None
    assert 0 < top.dense_score <= 1 and top.bm25_score > 0


def test_date_and_title_filters(retriever: Retriever) -> None:
    dated = retriever.retrieve(
        "learning", k=10, filters=Filters(date_from="2022-01-01", date_to="2022-12-31")
    )
    assert dated and all("2022-01-01" <= p.published <= "2022-12-31" for p in dated)
    titled = retriever.retrieve("learning", k=10, filters=Filters(title_contains="matryoshka"))
    assert titled and all("matryoshka" in p.title.lower() for p in titled)
    assert (
        retriever.retrieve("learning", k=5, filters=Filters(title_contains="no such title zzz"))
        == []
    )


def test_unknown_method_is_a_clear_error(retriever: Retriever) -> None:
    with pytest.raises(QuestionError, match="hybrid, dense, bm25"):
        retriever.retrieve("x", method="magic")


def test_empty_store_names_the_command_to_run(tmp_path) -> None:
    with pytest.raises(IndexNotFoundError, match="rag-papers ingest"):
        Retriever(Settings(home=tmp_path)).retrieve("anything")


def test_bm25_index_is_reused_until_the_store_changes(small_home) -> None:
    from rag_papers.index.bm25 import VERSION_KEY, load_bm25, mark_changed
    from rag_papers.index.store import PaperStore

    settings = Settings(home=small_home)
    store = PaperStore(settings)
    marker = settings.bm25_dir / "version.json"
    before = marker.stat().st_mtime_ns
    assert load_bm25(store, settings) is not None
    assert marker.stat().st_mtime_ns == before, "an up-to-date index is loaded, not rebuilt"
    mark_changed(store)  # what a writer does before touching chunks
    assert load_bm25(store, settings) is not None
    assert marker.stat().st_mtime_ns != before, "a stale index is rebuilt"
    assert store.metadata()[VERSION_KEY] in marker.read_text()


def test_a_long_running_reader_picks_up_papers_a_writer_adds(tmp_path, monkeypatch) -> None:
    import rag_papers.qa.retrieve as retrieve_module
    from rag_papers import Paper, ingest

    settings = Settings(home=tmp_path)
    ingest(
        papers=[Paper(title="Alpha widgets", abstract="We study alpha widgets. They are great.")],
        settings=settings,
        progress=False,
    )
    reader = Retriever(settings)
    assert [p.title for p in reader.retrieve("zebra gadgets stripes", method="bm25")] == []
    # Another process (here: another ingest call with its own store handle) adds a paper.
    ingest(
        papers=[Paper(title="Zebra gadgets", abstract="Zebra gadgets fold into stripes.")],
        settings=Settings(home=tmp_path),
        progress=False,
    )
    monkeypatch.setattr(retrieve_module, "BM25_RECHECK_S", 0.0)
    assert [p.title for p in reader.retrieve("zebra gadgets stripes", method="bm25")] == [
        "Zebra gadgets"
    ]
