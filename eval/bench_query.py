"""Query benchmark: retrieval latency over the dev questions (no LLM) and a cold `ask`.

    python eval/bench_query.py [--home DIR] [--out eval/results/bench_query.json]

The home must hold an index (default: a fresh temporary one with the sample corpus, which
takes a few minutes to embed). For each method (hybrid, dense, bm25) every dev question is
retrieved once to warm up and then timed three times; p50/p95 are over all timed calls.
A cold `rag-papers ask --mode extractive` subprocess is timed three times (each a new
process: imports, store open, BM25 load, query encoder, sentence embeddings, answer).
Targets on a 2-core machine: retrieval p50 <= 50 ms, cold ask <= 6 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rag_papers.evaluation.metrics import percentile

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "eval" / "dev_questions.jsonl"
TARGETS = {"retrieval_p50_ms": 50.0, "cold_ask_s": 6.0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--home", type=Path, help="an existing index (default: ingest the sample into a temp dir)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "eval" / "results" / "bench_query.json")
    args = parser.parse_args()

    from rag_papers import Settings, ingest
    from rag_papers.qa.retrieve import Retriever

    home = args.home or Path(tempfile.mkdtemp(prefix="rag_bench_"))
    settings = Settings(home=home)
    if args.home is None:
        print(ingest(sample=True, settings=settings, progress=False).line())
    questions = [
        json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line.strip()
    ]
    retriever = Retriever(settings)
    result: dict = {
        "questions": len(questions),
        "cpus": os.cpu_count(),
        "load_avg_before": os.getloadavg(),
    }
    for method in ("hybrid", "dense", "bm25"):
        for q in questions:  # warm-up: model, BM25 index, Chroma caches
            retriever.retrieve(q, method=method)
        times = []
        for _ in range(3):
            for q in questions:
                t0 = time.perf_counter()
                retriever.retrieve(q, method=method)
                times.append((time.perf_counter() - t0) * 1000)
        result[method] = {
            "p50_ms": round(percentile(times, 50), 2),
            "p95_ms": round(percentile(times, 95), 2),
        }
        print(
            f"{method:6s} retrieval p50 {result[method]['p50_ms']:7.2f} ms   p95 {result[method]['p95_ms']:7.2f} ms"
        )

    env = {**os.environ, "RAG_PAPERS_HOME": str(home)}
    exe = Path(sys.executable).with_name("rag-papers")
    colds = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run(
            [
                str(exe),
                "ask",
                "--mode",
                "extractive",
                "What is UL2's Mixture-of-Denoisers objective?",
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        colds.append(time.perf_counter() - t0)
    result["cold_ask_s"] = [round(c, 2) for c in colds]
    result["cold_ask_median_s"] = round(statistics.median(colds), 2)
    result["load_avg_after"] = os.getloadavg()
    result["targets"] = TARGETS
    result["met"] = {
        "retrieval_p50_ms": result["hybrid"]["p50_ms"] <= TARGETS["retrieval_p50_ms"],
        "cold_ask_s": result["cold_ask_median_s"] <= TARGETS["cold_ask_s"],
    }
    print(f"cold ask: {result['cold_ask_s']} s (median {result['cold_ask_median_s']} s)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
