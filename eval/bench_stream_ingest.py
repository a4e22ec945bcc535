"""Memory of a big ingest: peak RSS while a large JSONL is read, chunked, embedded, written.

    python eval/gen_corpus.py 120000 --out /tmp/p120k.jsonl
    head -n 60000 /tmp/p120k.jsonl > /tmp/p60k.jsonl
    nice -n 10 python eval/bench_stream_ingest.py /tmp/p60k.jsonl /tmp/p120k.jsonl

Each file is ingested by the real `ingest()` (readers, chunking, Chroma writes through
LlamaIndex's ChromaVectorStore, the BM25 rebuild) in a fresh child process and a fresh home
folder, with ONE substitution: the embedding model is a stand-in that returns
deterministic pseudo-random unit vectors of dimension 384 (all-MiniLM-L6-v2's), because the
real model would take hours for 120k papers on this machine and its memory does not grow
with the collection (it sees one batch at a time). The store records the real model id.

Reported per file: peak RSS of the child (ru_maxrss), RSS sampled every 0.5 s (the curve
shows whether memory stays flat while embedding) and at the end, seconds until the first
model batch was embedded and until the first chunks were written to the store (dense search
finds them from then on), the total time, the load average at the start and the end, and for each ingest phase (reading, loading the model, chunking, the BM25
build) when it started with the RSS and the peak RSS at that moment: the BM25 phase's
figures are memory at the end of writing, before the keyword index is built. Results go to
eval/results/bench_stream_ingest.json under --label. Not a test: run it by hand.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "eval" / "results" / "bench_stream_ingest.json"
DIM = 384

CHILD = r"""
import json, os, resource, sys, threading, time
import numpy as np

# Measure the checkout given with --code: an editable install's import hook would otherwise
# import its own rag_papers whatever PYTHONPATH says.
code = os.path.abspath(os.environ["BENCH_CODE"])
sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
sys.path.insert(0, code)
import rag_papers
if not os.path.abspath(rag_papers.__file__).startswith(code + os.sep):
    raise SystemExit(f"measuring {rag_papers.__file__}, not the code in {code}")

start = time.perf_counter()
load = list(os.getloadavg())
samples, first = [], []
def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
def sample():
    while True:
        samples.append((round(time.perf_counter() - start, 1), round(rss_mb())))
        time.sleep(0.5)
threading.Thread(target=sample, daemon=True).start()

import rag_papers.providers.embed as embed

class StandIn:
    '''Deterministic unit vectors from a hash of the text: no model, same shape as MiniLM.'''
    def get_text_embedding(self, text):
        return self.get_text_embedding_batch([text])[0]
    def get_text_embedding_batch(self, texts, **kwargs):
        out = []
        for t in texts:
            seed = int.from_bytes(__import__("hashlib").blake2b(t.encode(), digest_size=8).digest(), "little")
            v = np.random.default_rng(seed).standard_normal(DIM_)
            out.append((v / np.linalg.norm(v)).tolist())
        return out

embed.make_embed_model = lambda settings: StandIn()

# When the first chunks reach the store (from then on dense search finds them).
from llama_index.vector_stores.chroma import ChromaVectorStore
written = []
_add = ChromaVectorStore.add
def add(self, nodes, **kwargs):
    out = _add(self, nodes, **kwargs)
    if not written:
        written.append(round(time.perf_counter() - start, 1))
    return out
ChromaVectorStore.add = add
from rag_papers.index.ingest import ingest
from rag_papers.settings import Settings

phases = {}
def progress(phase, done=0, total=None):
    if phase == "embedding chunks" and done and not first:
        first.append(round(time.perf_counter() - start, 1))
    if phase not in phases and phase != "embedding chunks":
        # where each phase starts: seconds, RSS now, peak RSS so far (MB)
        phases[phase] = (
            round(time.perf_counter() - start, 1),
            round(rss_mb()),
            round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        )

path, home = sys.argv[1:3]
summary = ingest([path], settings=Settings(home=home), progress=progress)
print(json.dumps({
    "papers": summary.read, "chunks": summary.chunks,
    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    "first_batch_embedded_s": first[0] if first else None,
    "code": os.path.dirname(os.path.abspath(rag_papers.__file__)),
    "first_written_s": written[0] if written else None,
    "rss_end_mb": round(rss_mb()),
    "load_avg_start_end": [load, list(os.getloadavg())],
    "phases_s_rss_peak_mb": phases,
    "total_s": round(time.perf_counter() - start, 1),
    "rss_mb_samples": samples[:: max(1, len(samples) // 40)],
}))
""".replace("DIM_", str(DIM))


def run(path: Path, home: Path, code_root: Path) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(code_root), BENCH_CODE=str(code_root))
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(home)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode:
        raise SystemExit(f"ingest of {path} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="JSONL files to ingest")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench_stream_ingest"))
    parser.add_argument(
        "--code", type=Path, default=ROOT, help="checkout whose rag_papers is measured"
    )
    parser.add_argument("--label", default="streamed")
    parser.add_argument("--results", type=Path, default=RESULTS, help="JSON file to add to")
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text()) if args.results.is_file() else {}
    for path in args.files:
        home = (
            args.work
            / f"{args.label}-{path.stem}-{hashlib.sha1(str(path).encode()).hexdigest()[:6]}"
        )
        if home.exists():
            subprocess.run(["rm", "-rf", str(home)], check=True)
        got = run(path, home, args.code)
        got["file_mb"] = round(path.stat().st_size / 2**20, 1)
        print(json.dumps({k: v for k, v in got.items() if k != "rss_mb_samples"}), flush=True)
        results.setdefault(args.label, {})[path.name] = got
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(json.dumps(results, indent=2))
        subprocess.run(["rm", "-rf", str(home)], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
