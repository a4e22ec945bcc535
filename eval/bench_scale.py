"""Scale benchmark: ingest throughput, store size, query latency and memory against corpus size.

    nice -n 15 python eval/bench_scale.py --sizes 1000,10000,100000 --server-sizes 10000 \
        --real-n 1000 --batch-sizes 16,64,256 --batch-n 250

Corpora come from eval/gen_corpus.py (synthetic, deterministic, seed 0). For each N:

* store path (every N): the papers are chunked by the real `chunk_papers`, given
  PRECOMPUTED vectors and written through `PaperStore.vector_store()` (LlamaIndex's
  ChromaVectorStore) in batches, then the BM25 index is built by the real `rebuild_bm25`.
  This measures the store and retrieval alone: the embedding model is not run. The vectors
  are random but clustered (64 random unit "topics" + noise, normalised), which HNSW treats
  more like real embeddings than uniform noise; dim 384 as all-MiniLM-L6-v2, and the store
  records the real model id, so queries go through the real `Retriever` with the real
  (numpy MiniLM) query encoder. Retrieved papers are meaningless; their latency is not.
* query path: a fresh process opens the store, loads the persisted BM25 index (timed
  separately), warms up, then times `Retriever.retrieve(q, k=5, method=...)` for ~50
  questions (eval/dev_questions.jsonl, padded with sample titles) per method.
* server path (--server-sizes): the same through a `chroma run` server on 127.0.0.1.
* real embedding path (--real-n, --batch-sizes): the real `ingest()` with all-MiniLM-L6-v2,
  and the effect of `embed_batch_size` on a --batch-n slice of the 1k corpus.

Ingest and query run in separate child processes so each reports its own peak RSS
(`ru_maxrss`), as a writer and a reader process would in deployment. Results are written to
eval/results/bench_scale.json after every step (a long run that is stopped keeps what it
measured) and plotted to eval/results/bench_scale.png. Machine load is recorded with each
result: on a shared 2-core box, latencies move with what else runs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rag_papers import _offline  # noqa: F401  (offline switches before heavy imports)
from rag_papers.evaluation.metrics import percentile

log = logging.getLogger(__name__)

DIM = 384
TOPICS = 64
WRITE_PAPERS = 2000  # papers chunked and written per store batch (~4k chunks)
METHODS = ("dense", "bm25", "hybrid")
TARGETS = {"hybrid_p95_ms_at_100k": 150.0}


# -- helpers --------------------------------------------------------------------------------


def dir_mb(path: Path) -> float:
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0
    return round(total / 1e6, 2)


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KB on Linux


def proc_mem_mb(pid: int) -> dict[str, float]:
    """Current and peak RSS of another process (the Chroma server)."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


def load() -> float:
    return round(os.getloadavg()[0], 2)


def questions(n: int) -> list[str]:
    qs = [json.loads(line)["question"] for line in (ROOT / "eval" / "dev_questions.jsonl").open()]
    if len(qs) < n:
        from rag_papers.readers import read_paths, sample_corpus_dir

        titles = [p.title for p in read_paths([sample_corpus_dir()]).papers]
        qs += [f"What does {t} propose?" for t in titles[: n - len(qs)]]
    return qs[:n]


def settings_for(home: Path, server: tuple[str, int] | None, batch: int = 64) -> Any:
    from rag_papers.settings import Settings

    if server:
        return Settings(
            home=home,
            chroma_host=server[0],
            chroma_port=server[1],
            collection="scale",
            embed_batch_size=batch,
        )
    return Settings(home=home, collection="scale", embed_batch_size=batch)


def corpus(work: Path, n: int) -> Path:
    """The n-paper synthetic corpus (the head of the largest one, which is generated once)."""
    from eval.gen_corpus import write_jsonl

    path = work / f"papers_{n}.jsonl"
    if not path.exists():
        write_jsonl(path, n, seed=0)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def chroma_server(data: Path) -> Iterator[tuple[str, int, subprocess.Popen[bytes]]]:
    """`chroma run` from this venv on a free port (as tests/test_store_server.py does)."""
    import httpx

    chroma = Path(sys.executable).parent / "chroma"
    data.mkdir(parents=True, exist_ok=True)
    port = free_port()
    logf = (data.parent / f"{data.name}.log").open("w")
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
        stdout=logf,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
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
                raise RuntimeError(f"chroma server did not start: see {logf.name}")
            time.sleep(0.2)
        yield "127.0.0.1", port, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        logf.close()


# -- child-process steps --------------------------------------------------------------------


def step_store(
    n: int, corpus_path: Path, home: Path, server: tuple[str, int] | None
) -> dict[str, Any]:
    """Write n papers with precomputed vectors, build BM25; timings and sizes."""
    import numpy as np

    from rag_papers.index.bm25 import mark_changed, rebuild_bm25
    from rag_papers.index.ingest import chunk_papers
    from rag_papers.index.store import PaperStore
    from rag_papers.providers.embed import embed_model_id
    from rag_papers.readers import read_jsonl

    settings = settings_for(home, server)
    t0 = time.perf_counter()
    result = read_jsonl(corpus_path)
    read_s = time.perf_counter() - t0
    papers = result.papers[:n]
    assert len(papers) == n and not result.warnings, (len(papers), result.warnings[:3])

    store = PaperStore(settings)
    store.reset()
    store.bind_model(embed_model_id(settings), DIM)
    mark_changed(store)
    vector_store = store.vector_store()
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((TOPICS, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)

    chunk_s = write_s = 0.0
    chunks = 0
    for i in range(0, n, WRITE_PAPERS):
        t = time.perf_counter()
        nodes = chunk_papers(papers[i : i + WRITE_PAPERS], settings)
        chunk_s += time.perf_counter() - t
        vecs = centres[rng.integers(0, TOPICS, len(nodes))] + 0.6 * rng.standard_normal(
            (len(nodes), DIM), dtype=np.float32
        ) / np.sqrt(DIM)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        for node, vec in zip(nodes, vecs.tolist(), strict=False):
            node.embedding = vec
        t = time.perf_counter()
        vector_store.add(nodes)
        write_s += time.perf_counter() - t
        chunks += len(nodes)
    rss_after_write = peak_rss_mb()

    t = time.perf_counter()
    rebuild_bm25(store, settings, bump=True)
    bm25_build_s = time.perf_counter() - t
    assert store.count_chunks() == chunks
    return {
        "papers": n,
        "chunk_tokens": settings.chunk_tokens,
        "chunks": chunks,
        "read_jsonl_s": round(read_s, 2),
        "chunk_s": round(chunk_s, 2),
        "write_s": round(write_s, 2),
        "ingest_papers_per_s": round(n / (chunk_s + write_s), 1),
        "write_chunks_per_s": round(chunks / write_s, 1),
        "bm25_build_s": round(bm25_build_s, 2),
        "store_mb": None if server else dir_mb(settings.store_dir),
        "bm25_mb": dir_mb(settings.bm25_dir),
        "peak_rss_mb_write": rss_after_write,
        "peak_rss_mb_ingest": peak_rss_mb(),
        "load_avg": load(),
    }


def step_query(home: Path, server: tuple[str, int] | None, n_queries: int) -> dict[str, Any]:
    """Open the store as a fresh reader; BM25 load time, then latency per method."""
    import bm25s  # noqa: F401  (imports are start-up cost, not index loading)
    from llama_index.retrievers.bm25 import BM25Retriever  # noqa: F401

    from rag_papers.qa.retrieve import Retriever

    settings = settings_for(home, server)
    qs = questions(n_queries)
    t = time.perf_counter()
    retriever = Retriever(settings)
    retriever.ensure_index()
    open_s = time.perf_counter() - t
    t = time.perf_counter()
    assert retriever.bm25() is not None
    bm25_load_s = time.perf_counter() - t
    t = time.perf_counter()
    retriever.embed_model.get_query_embedding("warm up")
    model_s = time.perf_counter() - t
    for q in qs[:3]:  # warm caches (HNSW pages, tokenizer)
        retriever.retrieve(q, k=5, method="hybrid")
    out: dict[str, Any] = {
        "queries": len(qs),
        "open_s": round(open_s, 2),
        "bm25_load_s": round(bm25_load_s, 2),
        "query_model_load_s": round(model_s, 2),
    }
    for method in METHODS:
        times = []
        for q in qs:
            t = time.perf_counter()
            got = retriever.retrieve(q, k=5, method=method)
            times.append((time.perf_counter() - t) * 1000)
            assert got, f"{method} returned nothing for {q!r}"
        out[f"{method}_p50_ms"] = round(percentile(times, 50), 1)
        out[f"{method}_p95_ms"] = round(percentile(times, 95), 1)
        out[f"{method}_mean_ms"] = round(sum(times) / len(times), 1)
    out["peak_rss_mb_query"] = peak_rss_mb()
    out["load_avg"] = load()
    return out


def step_real(n: int, corpus_path: Path, home: Path, batch: int) -> dict[str, Any]:
    """The real ingest() (all-MiniLM-L6-v2 on CPU) of the first n papers at one batch size."""
    from rag_papers.index.ingest import ingest
    from rag_papers.providers.embed import make_embed_model
    from rag_papers.readers import read_jsonl

    settings = settings_for(home, None, batch)
    papers = read_jsonl(corpus_path).papers[:n]
    t = time.perf_counter()
    make_embed_model(settings).get_text_embedding("warm up")  # imports + weights into page cache
    warm_s = time.perf_counter() - t
    t = time.perf_counter()
    summary = ingest(papers=papers, settings=settings, progress=False)
    seconds = time.perf_counter() - t
    return {
        "papers": n,
        "embed_batch_size": batch,
        "chunk_tokens": settings.chunk_tokens,
        "chunks": summary.chunks,
        "ingest_s": round(seconds, 1),
        "ingest_papers_per_s": round(n / seconds, 2),
        "model_warm_load_s": round(warm_s, 1),
        "store_mb": dir_mb(settings.store_dir),
        "peak_rss_mb": peak_rss_mb(),
        "load_avg": load(),
    }


BLAS_THREADS: str | None = "1"


def child(args: list[str]) -> dict[str, Any]:
    """Run one step in a fresh interpreter (own peak RSS); returns its JSON result.

    OPENBLAS_NUM_THREADS=1 by default (--blas-threads): on this loaded 2-core machine
    OpenBLAS's worker threads made one numpy query encoding take ~2 s instead of ~40 ms,
    which would swamp every other cost measured here.
    """
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", *args]
    env = dict(os.environ)
    if BLAS_THREADS:
        env["OPENBLAS_NUM_THREADS"] = BLAS_THREADS
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"step {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["step_wall_s"] = round(time.perf_counter() - t, 1)
    return result


# -- driver ---------------------------------------------------------------------------------


def run_child(opts: argparse.Namespace) -> int:
    server = (opts.host, opts.port) if opts.host else None
    home = Path(opts.home)
    if opts.child == "store":
        out = step_store(opts.n, Path(opts.corpus), home, server)
    elif opts.child == "query":
        out = step_query(home, server, opts.queries)
    else:
        out = step_real(opts.n, Path(opts.corpus), home, opts.batch)
    print(json.dumps(out))
    return 0


def measure_size(
    work: Path, n: int, n_queries: int, server: tuple[str, int, Any] | None
) -> dict[str, Any]:
    tag = "server" if server else "embedded"
    home = work / f"home_{tag}_{n}"
    shutil.rmtree(home, ignore_errors=True)
    path = str(corpus(work, n))
    extra = ["--host", server[0], "--port", str(server[1])] if server else []
    row: dict[str, Any] = {"mode": tag}
    log.info("N=%d %s: writing with precomputed vectors", n, tag)
    stored = child(["store", "--n", str(n), "--corpus", path, "--home", str(home), *extra])
    stored["store_step_wall_s"] = stored.pop("step_wall_s")
    row.update(stored)
    log.info("N=%d %s: querying", n, tag)
    q = child(["query", "--home", str(home), "--queries", str(n_queries), *extra])
    q["query_step_wall_s"] = q.pop("step_wall_s")
    row["query_load_avg"] = q.pop("load_avg")
    row.update(q)
    if server:
        row["server_mem_mb"] = proc_mem_mb(server[2].pid)
    return row


def write_results(out: Path, results: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))


def plot(results: dict[str, Any], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["store_path"]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    for mode, marker in (("embedded", "o"), ("server", "s")):
        rs = sorted((r for r in rows if r["mode"] == mode), key=lambda r: r["papers"])
        if not rs:
            continue
        ns = [r["papers"] for r in rs]
        for method, style in zip(METHODS, ("-", "--", ":"), strict=False):
            axes[0, 0].plot(
                ns,
                [r[f"{method}_p95_ms"] for r in rs],
                style,
                marker=marker,
                label=f"{method} p95 ({mode})",
            )
        axes[0, 1].plot(
            ns,
            [r["ingest_papers_per_s"] for r in rs],
            marker=marker,
            label=f"write, precomputed vectors ({mode})",
        )
        axes[1, 0].plot(
            ns,
            [r["peak_rss_mb_ingest"] for r in rs],
            "-",
            marker=marker,
            label=f"writer peak RSS ({mode})",
        )
        axes[1, 0].plot(
            ns,
            [r["peak_rss_mb_query"] for r in rs],
            "--",
            marker=marker,
            label=f"reader peak RSS ({mode})",
        )
        axes[1, 1].plot(
            ns, [r["bm25_build_s"] for r in rs], "-", marker=marker, label=f"BM25 build s ({mode})"
        )
        axes[1, 1].plot(
            ns, [r["bm25_load_s"] for r in rs], "--", marker=marker, label=f"BM25 load s ({mode})"
        )
        if mode == "embedded":
            axes[1, 1].plot(
                ns, [r["store_mb"] for r in rs], ":", marker=marker, label="Chroma store MB"
            )
    for real in results.get("real_model", []):
        axes[0, 1].scatter(
            [real["papers"]],
            [real["ingest_papers_per_s"]],
            marker="x",
            label=f"real model, batch {real['embed_batch_size']}",
        )
    axes[0, 0].axhline(
        TARGETS["hybrid_p95_ms_at_100k"], color="red", lw=0.8, label="hybrid p95 target"
    )
    titles = [
        "query latency p95 (ms)",
        "ingest throughput (papers/s)",
        "peak RSS (MB)",
        "BM25 s / store MB",
    ]
    for ax, title in zip(axes.flat, titles, strict=False):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("papers (N)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("rag_papers at scale (synthetic corpus, 2-core CPU)")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", choices=["store", "query", "real"], help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    parser.add_argument("--host", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=64, help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="1000,10000", help="corpus sizes for the store path")
    parser.add_argument(
        "--server-sizes", default="10000", help="sizes also run through `chroma run`"
    )
    parser.add_argument(
        "--real-n", type=int, default=1000, help="papers for the real-model ingest (0: skip)"
    )
    parser.add_argument(
        "--batch-sizes", default="16,64,256", help="embed_batch_size values to compare"
    )
    parser.add_argument(
        "--batch-n", type=int, default=250, help="papers for the batch-size comparison"
    )
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--work", default="/tmp/rag_papers_bench_scale", help="corpora and stores")
    parser.add_argument("--out", default=str(ROOT / "eval" / "results" / "bench_scale.json"))
    parser.add_argument("--append", action="store_true", help="keep rows already in --out")
    parser.add_argument(
        "--blas-threads", default="1", help="OPENBLAS_NUM_THREADS for steps ('' = leave)"
    )
    parser.add_argument("--plot-only", action="store_true", help="re-plot --out and exit")
    opts = parser.parse_args(argv)
    global BLAS_THREADS
    BLAS_THREADS = opts.blas_threads or None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if opts.child:
        return run_child(opts)

    if opts.plot_only:
        plot(json.loads(Path(opts.out).read_text()), Path(opts.out).with_suffix(".png"))
        return 0
    work = Path(opts.work)
    work.mkdir(parents=True, exist_ok=True)
    out = Path(opts.out)
    results: dict[str, Any] = {"store_path": [], "real_model": [], "batch_size": []}
    if opts.append and out.exists():
        results.update(json.loads(out.read_text()))
    results["machine"] = {
        "cpus": os.cpu_count(),
        "nice": os.nice(0),
        "python": sys.version.split()[0],
        "openblas_num_threads": BLAS_THREADS,
    }
    results["targets"] = TARGETS
    results["notes"] = (
        "store_path rows use precomputed clustered random vectors (no embedding model); "
        "query latency uses the real Retriever and query encoder; real_model rows run the full "
        "ingest() with all-MiniLM-L6-v2 on CPU; corpora are synthetic (eval/gen_corpus.py)."
    )
    sizes = [int(s) for s in opts.sizes.split(",") if s]
    server_sizes = [int(s) for s in opts.server_sizes.split(",") if s]
    for n in sizes + [s for s in server_sizes if s not in sizes]:
        corpus(work, n)

    def save() -> None:
        write_results(out, results)
        plot(results, out.with_suffix(".png"))

    def keep(section: str, row: dict[str, Any], keys: tuple[str, ...]) -> None:
        results[section] = [
            r
            for r in results[section]
            if tuple(r.get(k) for k in keys) != tuple(row.get(k) for k in keys)
        ]
        results[section].append(row)
        log.info("%s: %s", section, json.dumps(row))
        save()

    for n in sizes:
        keep("store_path", measure_size(work, n, opts.queries, None), ("mode", "papers"))
    for n in server_sizes:
        with chroma_server(work / f"server_{n}") as (host, port, proc):
            row = measure_size(work, n, opts.queries, (host, port, proc))
        row["store_mb"] = dir_mb(work / f"server_{n}")
        keep("store_path", row, ("mode", "papers"))
    if opts.real_n:
        home = work / f"home_real_{opts.real_n}"
        shutil.rmtree(home, ignore_errors=True)
        path = str(corpus(work, opts.real_n))
        keep(
            "real_model",
            child(["real", "--n", str(opts.real_n), "--corpus", path, "--home", str(home)]),
            ("papers", "embed_batch_size"),
        )
    if opts.batch_n:
        path = str(corpus(work, max(opts.batch_n, 1000)))
        for batch in [int(b) for b in opts.batch_sizes.split(",") if b]:
            home = work / f"home_batch_{batch}"
            shutil.rmtree(home, ignore_errors=True)
            row = child(
                [
                    "real",
                    "--n",
                    str(opts.batch_n),
                    "--corpus",
                    path,
                    "--home",
                    str(home),
                    "--batch",
                    str(batch),
                ]
            )
            keep("batch_size", row, ("papers", "embed_batch_size"))
    save()
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
