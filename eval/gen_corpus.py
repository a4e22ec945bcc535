"""Synthetic paper collections of any size, for scale benchmarks (not for answer quality).

    python eval/gen_corpus.py 10000 --seed 0 --out /tmp/papers_10k.jsonl

Every record is SYNTHETIC: titles are recombined from the bundled sample corpus's title
fragments, abstracts are sentences drawn from the sample's abstracts (half from one "topic"
paper, half from anywhere, so keyword and vector statistics look like a real collection
rather than uniform noise), authors come from a fixed name list, dates are spread over
2019-2025. Records carry `"categories": ["synthetic", ...]` and an `id` of the form
`synthetic-<seed>-<n>` (deliberately not arXiv-shaped, so no record points at a real paper).

Titles are distinct after `normalize_title`, so `rag_papers.readers.read_jsonl` reads back
exactly N papers (paper ids are title hashes when there is no arXiv id). The output depends
only on N and the seed, and record i does not depend on N (a 1k file is the head of the
100k file with the same seed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import random
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rag_papers.readers import read_paths, sample_corpus_dir
from rag_papers.types import normalize_title

log = logging.getLogger(__name__)

CATEGORIES = ["cs.CL", "cs.LG", "cs.CV", "cs.AI", "cs.IR", "stat.ML", "cs.RO", "eess.AS"]
FIRST = [
    "Ana",
    "Wei",
    "Priya",
    "Lukas",
    "Sofia",
    "Kenji",
    "Amara",
    "Diego",
    "Ines",
    "Omar",
    "Mei",
    "Jonas",
    "Fatima",
    "Tomás",
    "Yuki",
    "Elena",
    "Kwame",
    "Sara",
    "Ravi",
    "Noor",
]
LAST = [
    "Silva",
    "Chen",
    "Patel",
    "Müller",
    "Rossi",
    "Tanaka",
    "Okafor",
    "García",
    "Costa",
    "Haddad",
    "Lin",
    "Berg",
    "Khan",
    "Novak",
    "Sato",
    "Ivanova",
    "Mensah",
    "Cohen",
    "Rao",
    "Ali",
]
CONNECTORS = ["for", "via", "with", "in", "towards", "beyond", "through", "under"]
START = dt.date(2019, 1, 1)
DAYS = (dt.date(2025, 12, 31) - START).days

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")
_CONNECTOR_SPLIT = re.compile(
    r"\s+(?:for|via|with|in|towards|through|using|from)\s+", re.IGNORECASE
)


@dataclass(frozen=True)
class Pool:
    """The material synthetic papers are assembled from, read once from the sample corpus."""

    names: list[str]  # "Hiformer", "OptFS": the part of a title before ':'
    heads: list[str]  # "Heterogeneous Feature Interactions Learning"
    tails: list[str]  # "Recommender Systems"
    abstracts: list[list[str]]  # sentences, per sample paper
    sentences: list[str]  # all of them


@lru_cache(maxsize=1)
def sample_pool() -> Pool:
    """Split the bundled sample corpus into title fragments and abstract sentences."""
    papers = read_paths([sample_corpus_dir()]).papers
    names, heads, tails = set(), set(), set()
    abstracts: list[list[str]] = []
    for paper in papers:
        title = paper.title
        if ":" in title:
            name, title = (s.strip() for s in title.split(":", 1))
            if 0 < len(name) <= 40:
                names.add(name)
        parts = _CONNECTOR_SPLIT.split(title, maxsplit=1)
        heads.add(parts[0].strip())
        if len(parts) == 2 and parts[1].strip():
            tails.add(parts[1].strip())
        sents = [s.strip() for s in _SENTENCE_END.split(paper.abstract) if len(s.strip()) > 20]
        if sents:
            abstracts.append(sents)
    return Pool(
        names=sorted(names),
        heads=sorted(heads),
        tails=sorted(tails),
        abstracts=abstracts,
        sentences=[s for sents in abstracts for s in sents],
    )


def _title(rng: random.Random, pool: Pool) -> str:
    head = rng.choice(pool.heads)
    tail = rng.choice(pool.tails)
    body = f"{head} {rng.choice(CONNECTORS)} {tail}"
    return f"{rng.choice(pool.names)}: {body}" if rng.random() < 0.6 else body


def generate(n: int, seed: int = 0) -> Iterator[dict[str, Any]]:
    """Yield n synthetic paper records (JSONL-ready dicts), deterministic in (n, seed)."""
    pool = sample_pool()
    rng = random.Random(seed)
    seen: set[str] = set()
    for i in range(n):
        title = _title(rng, pool)
        tries = 0
        while normalize_title(title) in seen:
            tries += 1
            title = _title(rng, pool) if tries < 20 else f"{_title(rng, pool)} ({i})"
        seen.add(normalize_title(title))
        topic = rng.choice(pool.abstracts)
        n_sent = rng.randint(5, 10)
        own = rng.sample(topic, min(len(topic), n_sent // 2))
        others = [rng.choice(pool.sentences) for _ in range(n_sent - len(own))]
        sentences = own + others
        rng.shuffle(sentences)
        n_authors = rng.randint(1, 8)
        published = START + dt.timedelta(days=rng.randrange(DAYS + 1))
        yield {
            "id": f"synthetic-{seed}-{i}",
            "title": title,
            "abstract": " ".join(sentences),
            "authors": [f"{rng.choice(FIRST)} {rng.choice(LAST)}" for _ in range(n_authors)],
            "published": published.isoformat(),
            "categories": ["synthetic", rng.choice(CATEGORIES)],
        }


def write_jsonl(path: str | Path, n: int, seed: int = 0) -> Path:
    """Write generate(n, seed) to path, one record per line; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for record in generate(n, seed):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    log.info("wrote %d synthetic papers to %s", n, path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, help="number of papers")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="JSONL file to write")
    opts = parser.parse_args(argv)
    if opts.n < 1:
        parser.error("n must be at least 1")
    write_jsonl(opts.out, opts.n, opts.seed)
    print(f"wrote {opts.n} synthetic papers to {opts.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
