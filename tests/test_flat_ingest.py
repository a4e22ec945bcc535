"""A flat streaming ingest: files are read twice (keys, then papers a slice at a time), JSON
arrays stream, and the merged papers, their order and the counts are what reading whole
gave (the rules before the streamed ingest are the oracle: tests/old_merge.py)."""

from __future__ import annotations

import gc
import io
import json
import random
from pathlib import Path
from typing import Any

import pytest
from old_merge import old_dedupe, old_reconcile

from rag_papers.errors import InputError
from rag_papers.index.ingest import ingest, paper_metadata, write_group_size
from rag_papers.index.plan import IngestPlan
from rag_papers.index.reconcile import StoredKeys
from rag_papers.index.store import PaperStore
from rag_papers.readers import dedupe, read_json, read_paths
from rag_papers.readers.base import RawEntries
from rag_papers.readers.jsonstream import members
from rag_papers.readers.stream import EntryStream, file_papers
from rag_papers.settings import Settings
from rag_papers.types import Paper

# -- JSON arrays stream ---------------------------------------------------------------------


class CountingReader(io.RawIOBase):
    """A binary file that records how many bytes were read from it."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        size = len(self.data) - self.pos if size is None or size < 0 else size
        out = self.data[self.pos : self.pos + size]
        self.pos += len(out)
        return out


def test_a_big_json_array_yields_its_first_record_before_the_file_is_read() -> None:
    rows = [{"title": f"Widget study {i}", "abstract": "Widgets fold. " * 30} for i in range(5000)]
    data = json.dumps(rows, indent=1).encode()  # ~2.4 MB
    f = CountingReader(data)
    got = members(f, chunk=64 * 1024)
    first, line = next(got)
    assert first == rows[0] and line == 2
    assert f.pos <= 64 * 1024 < len(data) // 20  # one piece of the file, not the file
    rest = list(got)
    assert [m for m, _ in rest] == rows[1:]
    assert f.pos == len(data)


def tricky_array(path: Path) -> Path:
    rows: list[Any] = [
        {"title": "Widgets Fold", "abstract": "Widgets fold in three ways.", "id": "2401.00001"},
        {"title": ["a", "list"], "abstract": "A title that is not text."},
        {"title": "No Abstract Here"},
        "not an object",
        {"title": "Widgets fold", "abstract": "A repeat.", "published": "2024-01-02"},
        {"title": "Ünïcode Títle", "abstract": "Ärger — \u2028 with a line separator."},
        {"title": "Numbers", "abstract": "A number at a piece's end.", "n_authors": 12345},
    ]
    text = "[\r\n" + ",\n\n".join(json.dumps(r, ensure_ascii=False, indent=2) for r in rows) + "]\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())  # with a byte-order mark
    return path


@pytest.mark.parametrize("chunk", [7, 64, 1 << 20])  # pieces that cut records, numbers, BOM
def test_a_streamed_json_array_gives_what_its_whole_text_gave(
    tmp_path: Path, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tricky_array(tmp_path / "papers.json")
    whole = read_json(path)
    assert whole.warnings and whole.no_abstract and len(whole.papers) >= 3
    monkeypatch.setattr("rag_papers.readers.jsonstream.CHUNK", chunk)
    monkeypatch.setattr(Path, "read_bytes", lambda *a: pytest.fail("a JSON array was read whole"))
    raw = RawEntries()
    papers = list(file_papers(path, raw))
    assert dedupe(papers)[0] == whole.papers
    assert raw.warnings == whole.warnings and raw.skipped == whole.skipped
    assert [f"{p.title} ({p.source})" for p in raw.no_abstract] == whole.no_abstract


@pytest.mark.parametrize(
    "text",
    [
        '[{"title": "A", "abstract": "b"},]',  # trailing comma
        '[{"title": "A", "abstract": "b"} {"title": "C", "abstract": "d"}]',
        '[{"title": "A", "abstract": "b"},\n {"title": "C", "abstract": "d"}',  # unterminated
        '[{"title": "A", "abstract": "b"}] extra',
        '[{"title": "A", "abstract": "b", "n": ' + "9" * 5000 + "}]",
        "[" * 200_000 + "]" * 200_000,
    ],
)
def test_a_broken_json_array_is_refused_as_reading_it_whole_refused(
    tmp_path: Path, text: str
) -> None:
    path = tmp_path / "papers.json"
    path.write_text(text)
    with pytest.raises(InputError) as whole:
        read_paths([path])
    stream = EntryStream([path])
    with pytest.raises(InputError) as streamed:
        list(stream.scan(RawEntries()))
    assert str(streamed.value) == str(whole.value)


def test_csl_json_and_json_objects_are_read_as_before(tmp_path: Path) -> None:
    csl = tmp_path / "csl.json"
    item = {"type": "article", "title": "Widgets", "abstract": "Fold.", "issued": {}}
    csl.write_text(json.dumps([item, item | {"title": "Gadgets"}]))
    keyed = tmp_path / "keyed.json"
    keyed.write_text(json.dumps({"2401.00002": {"title": "Spin", "abstract": "Twice."}}))
    for path in (csl, keyed):
        raw = RawEntries()
        assert list(file_papers(path, raw)) == read_paths([path]).papers


# -- the same papers, in the same order -----------------------------------------------------

TITLES = ["Widgets Fold", "widgets  fold!", "Gadgets Spin", "Sprockets", "Gears Mesh"]


def random_entry(rng: random.Random, i: int, source: str) -> Paper:
    return Paper(
        title=rng.choice(TITLES) + ("" if rng.random() < 0.7 else f" {rng.randrange(3)}"),
        abstract=f"abstract {i}" if rng.random() < 0.8 else "",
        authors=[f"A{i}"] if rng.random() < 0.5 else [],
        n_authors=rng.choice([None, 1, 3]),
        published=rng.choice([None, "2024-01-02", "2023-05-06"]),
        date_text=rng.choice([None, "Jan 2", "Jan 2, 2024"]),
        url=rng.choice([None, f"https://x/{i}"]),
        arxiv_id=rng.choice([None, None, "2401.00001", "2401.00002", "2402.00003"]),
        source=f"{source}:{i + 1}",
    )


def stored_records(rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for i in range(rng.randrange(4)):
        paper = random_entry(rng, 100 + i, rng.choice(["a.jsonl", "old.bib"]))
        paper.abstract = paper.abstract or "stored"
        meta = paper_metadata(paper) | {"chunk_index": 0, "abstract": paper.abstract}
        out.append(meta)
    return out


@pytest.mark.parametrize("seed", range(300))
def test_the_plan_merges_as_dedupe_and_reconcile_did(seed: int) -> None:
    rng = random.Random(seed)
    entries = [random_entry(rng, i, rng.choice(["a.jsonl", "b.json"])) for i in range(12)]
    stored = stored_records(rng)
    deduped, merges = old_dedupe(entries)
    assert dedupe(entries) == (deduped, merges)
    before = old_reconcile(deduped, stored)

    plan = IngestPlan.read(entries)
    keys = StoredKeys(stored, keep=True)
    plan.match(keys)
    got = list(plan.papers(lambda: entries, keys.records.get))
    assert plan.merged == merges and plan.outputs == len(before.papers)
    assert [p for p, _ in got] == before.papers
    assert {p.paper_id for p, v in got if v is True} == before.unchanged
    assert {p.paper_id for p, v in got if v is False} == before.updated
    assert plan.superseded == before.superseded


def test_entries_needed_from_further_on_are_the_only_ones_held() -> None:
    a, b, c = (Paper(title=t, abstract=t.lower()) for t in ("Alpha", "Beta", "Gamma"))
    later_a = Paper(title="alpha", abstract="", url="https://a")
    later_b = Paper(title="beta", abstract="", url="https://b")
    entries = [a, b, c, later_b, Paper(title="Delta", abstract="d"), later_a]
    reads = []

    def again() -> list[Paper]:
        reads.append(1)
        return entries

    plan = IngestPlan.read(entries)
    plan.match(StoredKeys([]))
    got = [p for p, _ in plan.papers(again, lambda pid: None)]
    assert [p.title for p in got] == ["Alpha", "Beta", "Gamma", "Delta"]
    assert [p.url for p in got] == ["https://a", "https://b", None, None]
    assert len(reads) == 2  # the entries once in order, and once ahead for the repeats


def test_a_file_changed_between_the_passes_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "papers.jsonl"
    path.write_text(json.dumps({"title": "A", "abstract": "b"}) + "\n")
    stream = EntryStream([path])
    assert len(list(stream.scan(RawEntries()))) == 1
    path.write_text(json.dumps({"title": "A", "abstract": "changed"}) + "\n" * 3)
    with pytest.raises(InputError, match="changed while it was being read"):
        list(stream.again())


# -- the store ------------------------------------------------------------------------------


def test_the_first_slice_is_searchable_before_the_last_is_read(tmp_path: Path) -> None:
    """Papers are written a slice at a time while the file is read the second time: when
    the first slice is in the store (another reader finds it), the papers of later slices
    have not been built yet, and few papers are alive at any time (counted, not timed)."""
    settings = Settings(home=tmp_path / "home", embed_batch_size=2)  # slices of 16 papers
    group = write_group_size(settings)
    path = tmp_path / "papers.json"
    rows = [
        {"title": f"Widget study {i}", "abstract": f"Widgets {i} fold."} for i in range(5 * group)
    ]
    rows.append(rows[1] | {"url": "https://example.org/w1"})  # a repeat across slices
    path.write_text(json.dumps(rows, indent=1))
    seen: list[tuple[int, int, int]] = []  # (chunks embedded, chunks another reader sees, alive)
    before = sum(type(o) is Paper for o in gc.get_objects())

    def progress(phase: str, done: int = 0, total: int | None = None) -> None:
        if phase == "embedding chunks" and done % group == 0:
            alive = sum(type(o) is Paper for o in gc.get_objects()) - before
            seen.append((done, PaperStore(Settings(home=settings.home)).count_chunks(), alive))

    summary = ingest([path], settings=settings, progress=progress)
    assert (summary.read, summary.merged, summary.new) == (5 * group, 1, 5 * group)
    early = [s for s in seen if 0 < s[1] < 5 * group]
    assert early, seen
    assert max(alive for _, _, alive in seen) <= 2 * group + 2, seen
    store = PaperStore(Settings(home=settings.home))
    merged = store.get_papers([Paper(title="Widget study 1", abstract="").paper_id])
    assert next(iter(merged.values()))["url"] == "https://example.org/w1"


def test_streamed_ingest_stores_what_reading_whole_gave(tmp_path: Path) -> None:
    """Duplicates within and across files, in another slice than their first copy, an
    alias met by id under another title: the store holds read_paths' papers, in its order."""
    rng = random.Random(7)
    one, two = tmp_path / "in" / "a.jsonl", tmp_path / "in" / "b.json"
    one.parent.mkdir()
    rows_a = [{"title": f"Paper {i}", "abstract": f"About {i}."} for i in range(40)]
    rows_a[30] = {"title": "Paper 3", "abstract": "again", "authors": ["Ann"]}
    rows_a[35] = {"title": "Other name", "abstract": "x", "id": "2401.00009"}
    rows_b = [{"title": f"Paper {rng.randrange(60)}", "abstract": "b side"} for _ in range(30)]
    rows_b.append({"title": "Paper 5", "abstract": "y", "id": "2401.00009"})
    one.write_text("\n".join(json.dumps(r) for r in rows_a) + "\n")
    two.write_text(json.dumps(rows_b))
    expected = read_paths([one.parent])
    settings = Settings(home=tmp_path / "home", embed_batch_size=1)  # slices of 8 papers
    summary = ingest([one.parent], settings=settings, progress=False)
    assert summary.read == len(expected.papers)
    assert summary.merged == expected.entries - len(expected.papers)
    listed = PaperStore(settings).list_papers()
    by_id = {m["paper_id"]: m for m in listed}
    assert set(by_id) == {p.paper_id for p in expected.papers}
    for paper in expected.papers:
        meta = paper_metadata(paper)
        assert {k: by_id[paper.paper_id].get(k) for k in meta} == meta
