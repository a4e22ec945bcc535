"""One paper once across ingests: the order and grouping of ingests never changes the result.

Real papers: the five papers the bundled sample and the 2024 collection share (titles
wrapped differently, the sample side without arXiv ids) plus three found on each side only.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from library_subsets import ONLY, SHARED_IDS, ingest_both_collections, write_subsets

from rag_papers.index.ingest import ingest
from rag_papers.index.reconcile import reconcile
from rag_papers.index.stats import collection_stats
from rag_papers.settings import Settings
from rag_papers.types import Paper

EXPECTED = len(SHARED_IDS) + 2 * ONLY  # 11 distinct papers


def stored(settings: Settings) -> dict[str, dict]:
    """paper_id -> chunk-0 metadata, checking every paper holds chunks 0..n-1 of one version."""
    from rag_papers.index.store import PaperStore

    store = PaperStore(settings)
    got = store.collection.get(include=["metadatas"])
    by_paper: dict[str, list[dict]] = {}
    for cid, meta in zip(got["ids"], got["metadatas"], strict=True):
        assert cid.startswith(meta["paper_id"] + "#")
        by_paper.setdefault(meta["paper_id"], []).append(meta)
    for pid, metas in by_paper.items():
        assert sorted(m["chunk_index"] for m in metas) == list(range(metas[0]["n_chunks"])), pid
        assert len({m["content_hash"] for m in metas}) == 1, pid
    return {pid: next(m for m in metas if m["chunk_index"] == 0) for pid, metas in by_paper.items()}


def check_merged(settings: Settings) -> dict[str, dict]:
    papers = stored(settings)
    assert len(papers) == EXPECTED
    assert collection_stats(settings)["papers"] == EXPECTED
    for arxiv_id in SHARED_IDS:  # each shared paper once, under its arXiv id, with its authors
        meta = papers[f"arxiv:{arxiv_id}"]
        assert meta["url"] == f"https://arxiv.org/abs/{arxiv_id}"
        assert meta["authors"]
    assert len([pid for pid in papers if pid.startswith("title:")]) == ONLY  # sample-only
    return papers


@pytest.mark.parametrize("order", ["sample_first", "2024_first"])
def test_two_ingests_in_either_order_index_each_paper_once(tmp_path: Path, order: str) -> None:
    sample, extra = write_subsets(tmp_path)
    settings = Settings(home=tmp_path / "home")
    first_file, second_file = (sample, extra) if order == "sample_first" else (extra, sample)

    first = ingest([first_file], settings=settings, progress=False)
    assert first.new == len(SHARED_IDS) + ONLY
    second = ingest([second_file], settings=settings, progress=False)
    assert second.read == len(SHARED_IDS) + ONLY
    assert second.new == ONLY  # the shared five are not new
    if order == "sample_first":  # they gain an arXiv id, authors, dates: updated
        assert (second.updated, second.unchanged) == (len(SHARED_IDS), 0)
    else:  # the stored copy already has everything the listing offers
        assert (second.updated, second.unchanged) == (0, len(SHARED_IDS))
    two_commands = check_merged(settings)

    # the same two files in one command give the same papers
    together = Settings(home=tmp_path / "together")
    one = ingest([sample, extra], settings=together, progress=False)
    assert one.new == EXPECTED
    assert set(check_merged(together)) == set(two_commands)

    # a third ingest of either file changes nothing
    again = ingest([second_file, first_file], settings=settings, progress=False)
    assert (again.new, again.updated, again.chunks) == (0, 0, 0)
    assert len(stored(settings)) == EXPECTED


def test_keyword_and_vector_search_find_a_merged_paper_once(tmp_path: Path) -> None:
    from rag_papers.qa.retrieve import Retriever

    sample, extra = write_subsets(tmp_path)
    settings = Settings(home=tmp_path / "home")
    ingest([sample], settings=settings, progress=False)
    ingest([extra], settings=settings, progress=False)
    for method in ("bm25", "dense"):
        s = settings.model_copy(update={"retriever": method})
        hits = Retriever(s).retrieve("YOLOv9 programmable gradient information", k=5)
        yolo = [h for h in hits if h.title.startswith("YOLOv9")]
        assert len(yolo) == 1, method
        assert yolo[0].paper_id == "arxiv:2402.13616"


def test_a_duplicate_left_by_an_interrupted_merge_is_merged_by_the_next_ingest() -> None:
    # The store holds the same paper twice (the merged copy was written, the old one not yet
    # deleted): ingesting either copy again supersedes the other.
    listing = {
        "paper_id": "title:0c6c9f83000af81d",
        "title": "No Zero-Shot Without Exponential Data",
        "abstract": "Web-crawled pretraining datasets underlie ...",
        "arxiv_id": "",
    }
    arxiv = {
        "paper_id": "arxiv:2404.04125",
        "title": 'No "Zero-Shot" Without\n  Exponential Data',
        "abstract": "Web-crawled pretraining datasets underlie ...",
        "arxiv_id": "2404.04125",
        "authors": "Vishaal Udandarao; Ameya Prabhu",
        "n_authors": 2,
    }
    incoming = Paper(title="No Zero-Shot Without Exponential Data", abstract="other text")
    plan = reconcile([incoming], [listing, arxiv])
    assert [p.paper_id for p in plan.papers] == ["arxiv:2404.04125"]
    assert plan.superseded == ["title:0c6c9f83000af81d"]
    assert plan.papers[0].abstract == "Web-crawled pretraining datasets underlie ..."  # stored wins
    assert plan.updated == {"arxiv:2404.04125"}


def test_papers_with_different_arxiv_ids_are_never_merged_by_title() -> None:
    stored_meta = {"paper_id": "arxiv:2401.00001", "title": "Attention", "arxiv_id": "2401.00001"}
    incoming = Paper(title="Attention", abstract="x", arxiv_id="2402.00002")
    plan = reconcile([incoming], [stored_meta])
    assert plan.papers == [incoming] and not plan.superseded and not plan.updated


@pytest.mark.parametrize("order", ["sample_first", "2024_first"])
def test_full_size_two_ingests_give_1193_papers(tmp_path: Path, order: str) -> None:
    """The whole sample (445) and the whole 2024 collection (753), the numbers from the bug
    report: 1,198 before the fix. The model is a stand-in (constant vectors from
    LlamaIndex's MockEmbedding) so this runs in seconds; what is checked is which papers the
    real store ends up holding, which no embedding changes."""
    ingest_both_collections(Settings(home=tmp_path / "home"), order)


def test_a_file_ingested_again_keeps_what_another_file_merged_in_and_its_edits_win(
    tmp_path: Path,
) -> None:
    """refs.bib, then zotero.csv (which adds day-precise dates to four of its papers), then
    either file again: nothing changes and nothing is embedded. It used to flip: the .bib
    read again replaced the merged papers with its own (dates back to 2024-01), the CSV
    merged them again, four papers re-embedded each time. An edit to the file still wins.
    Stand-in vectors: what is checked is which metadata the store keeps."""
    from llama_index.core.embeddings import MockEmbedding

    from rag_papers.index.library import paper_records

    lib = Path(__file__).resolve().parent / "fixtures" / "library"
    bib = tmp_path / "refs.bib"
    bib.write_text((lib / "refs.bib").read_text(encoding="utf-8"), encoding="utf-8")
    zotero = lib / "zotero.csv"
    settings = Settings(home=tmp_path / "home")
    model = MockEmbedding(embed_dim=16)

    def run(path: Path):
        return ingest([path], settings=settings, progress=False, embed_model=model)

    assert run(bib).new == 8
    assert run(zotero).updated == 4
    merged = {p.paper_id: p.to_dict() for p in paper_records(settings)}
    moe = merged["arxiv:2401.04081"]
    assert (moe["published"], moe["date_text"]) == ("2024-01-08", None)  # Zotero's day
    for path in (bib, zotero, bib):
        again = run(path)
        assert (again.new, again.updated, again.chunks) == (0, 0, 0), path
    assert {p.paper_id: p.to_dict() for p in paper_records(settings)} == merged

    text = bib.read_text(encoding="utf-8")
    old = "State Space Models (SSMs) have become serious contenders"
    bib.write_text(text.replace(old, "State Space Models (SSMs) are now serious contenders"))
    edited = run(bib)
    assert (edited.new, edited.updated, edited.unchanged) == (0, 1, 7)
    now = {p.paper_id: p for p in paper_records(settings)}["arxiv:2401.04081"]
    assert now.abstract.startswith("State Space Models (SSMs) are now serious contenders")
    assert now.published == "2024-01-08"  # what the CSV merged in stays
