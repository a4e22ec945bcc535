"""The scale tools: the synthetic corpus generator and the benchmark's own steps, on small N."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from rag_papers.readers import read_jsonl

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str) -> ModuleType:
    """eval/ is a folder of scripts, not a package: load one by path."""
    spec = importlib.util.spec_from_file_location(f"eval_{name}", ROOT / "eval" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


gen_corpus = _load("gen_corpus")


def test_generator_is_deterministic_and_prefix_stable() -> None:
    a = list(gen_corpus.generate(60, seed=7))
    assert a == list(gen_corpus.generate(60, seed=7))
    assert list(gen_corpus.generate(25, seed=7)) == a[:25]  # a 1k file is the head of the 100k one
    other = list(gen_corpus.generate(60, seed=8))
    assert [r["title"] for r in other] != [r["title"] for r in a]


def test_generated_jsonl_reads_back_as_n_distinct_papers(tmp_path: Path) -> None:
    n = 400
    path = gen_corpus.write_jsonl(tmp_path / "papers.jsonl", n, seed=1)
    result = read_jsonl(path)
    assert result.warnings == [] and result.skipped == 0
    assert result.entries == n and len(result.papers) == n  # nothing merged by dedup
    assert len({p.paper_id for p in result.papers}) == n
    sample = set(gen_corpus.sample_pool().sentences)
    for paper in result.papers[:50]:
        assert "synthetic" in paper.categories
        assert paper.published and 2019 <= (paper.year or 0) <= 2025
        assert paper.authors and paper.n_authors == len(paper.authors)
        assert paper.arxiv_id is None and paper.url is None  # never points at a real paper
        assert len(paper.abstract) > 200
        # abstracts are made of the sample corpus's own sentences
        assert any(s in paper.abstract for s in sample)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert len({r["id"] for r in records}) == n and records[0]["id"] == "synthetic-1-0"


def test_generator_cli_writes_the_file(tmp_path: Path, capsys) -> None:
    out = tmp_path / "c.jsonl"
    assert gen_corpus.main(["30", "--seed", "2", "--out", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 30
    assert "wrote 30 synthetic papers" in capsys.readouterr().out


def test_bench_steps_write_query_and_plot_a_small_store(tmp_path: Path) -> None:
    """The benchmark's store and query steps, in process, on 40 papers (no embedding model)."""
    bench = _load("bench_scale")
    corpus = gen_corpus.write_jsonl(tmp_path / "papers.jsonl", 40, seed=0)
    home = tmp_path / "home"
    stored = bench.step_store(40, corpus, home, None)
    assert stored["papers"] == 40 and stored["chunks"] >= 40
    assert stored["store_mb"] > 0 and stored["bm25_mb"] > 0 and stored["ingest_papers_per_s"] > 0
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):  # as the benchmark's child processes run
        queried = bench.step_query(home, None, 4)
    for method in ("dense", "bm25", "hybrid"):
        assert 0 < queried[f"{method}_p50_ms"] <= queried[f"{method}_p95_ms"]
    assert queried["bm25_load_s"] >= 0 and queried["peak_rss_mb_query"] > 0

    results = {"store_path": [{"mode": "embedded", **stored, **queried}], "real_model": []}
    png = tmp_path / "bench.png"
    bench.plot(results, png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_benchmarks_use_the_reports_percentile() -> None:
    """One percentile (linear interpolation, numpy's default) for reports and benchmarks."""
    from rag_papers.evaluation.metrics import percentile

    for name in ("bench_scale", "bench_query"):
        assert _load(name).percentile is percentile
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.5 and percentile(values, 95) == pytest.approx(95.05)
