"""Big collections are ingested in bounded slices: the first papers are in the store while
later ones are still being chunked; and merges of duplicates within a file are reported."""

from __future__ import annotations

import gc
import json
from pathlib import Path

from rag_papers.index.ingest import ingest, write_group_size
from rag_papers.index.store import PaperStore
from rag_papers.settings import Settings
from rag_papers.types import Paper


def test_first_papers_are_in_the_store_while_later_ones_are_still_to_come(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, embed_batch_size=2)  # slices of 16 papers
    group = write_group_size(settings)
    papers = [
        Paper(title=f"Widget study {i}", abstract=f"Widgets of kind {i} fold in {i} ways.")
        for i in range(3 * group)
    ]
    seen: list[tuple[int, int]] = []  # (chunks embedded so far, chunks a second reader sees)

    def progress(phase: str, done: int = 0, total: int | None = None) -> None:
        if phase == "embedding chunks" and done % group == 0:
            seen.append((done, PaperStore(Settings(home=tmp_path)).count_chunks()))

    summary = ingest(papers=papers, settings=settings, progress=progress)
    assert summary.new == 3 * group and summary.chunks == 3 * group
    # After the first slice was embedded, another process already found it in the store.
    early = [(done, stored) for done, stored in seen if 0 < stored < 3 * group]
    assert early, seen
    assert PaperStore(Settings(home=tmp_path)).count_chunks() == 3 * group


def test_the_summary_says_when_duplicates_within_a_file_were_merged(tmp_path: Path) -> None:
    path = tmp_path / "papers.jsonl"
    one = {"title": "Widgets Fold", "abstract": "Widgets fold in three ways."}
    two = {"title": "Gadgets Spin", "abstract": "Gadgets spin twice."}
    path.write_text("\n".join(json.dumps(r) for r in [one, two, one, one | {"url": ""}]) + "\n")
    summary = ingest([path], settings=Settings(home=tmp_path / "home"), progress=False)
    assert summary.read == 2 and summary.merged == 2
    assert "read 2 papers (2 duplicate entries merged): 2 new" in summary.line()


def test_no_paper_is_held_while_the_keyword_index_is_built(tmp_path: Path) -> None:
    """The BM25 build reads the store page by page: the papers read from the file are
    already let go, so what it holds does not grow with the file (counted, not measured)."""
    path = tmp_path / "papers.jsonl"
    rows = [
        {"title": f"Widget study {i}", "abstract": f"Widgets of kind {i} fold."} for i in range(60)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    alive: dict[str, int] = {}

    def papers_alive() -> int:
        gc.collect()
        return sum(type(o) is Paper for o in gc.get_objects())

    def progress(phase: str, done: int = 0, total: int | None = None) -> None:
        if phase in ("loading the embedding model", "building the keyword (BM25) index"):
            alive[phase] = papers_alive() - before

    before = papers_alive()
    summary = ingest([path], settings=Settings(home=tmp_path / "home"), progress=progress)
    assert summary.new == 60
    assert alive["loading the embedding model"] >= 60  # while embedding, the papers are needed
    assert alive["building the keyword (BM25) index"] <= 0
