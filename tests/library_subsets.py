"""Real subsets of the two collections whose overlap exposed the two-ingest duplicate bug.

The bundled sample (listing text: titles and abstracts, no arXiv ids) and the 2024 collection
(a JSON object keyed by arXiv id, titles wrapped at ~80 columns) share five papers. The
subsets keep those five plus three papers found only on each side, unchanged, so a test
embeds 16 abstracts instead of 1,198.
"""

from __future__ import annotations

import json
from pathlib import Path

from rag_papers.readers import read_paths
from rag_papers.settings import Settings
from rag_papers.types import normalize_title

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "rag_papers" / "data" / "sample"
# The five shared papers and the first three others of hf_daily_papers_2024.json, verbatim.
EXTRA_2024_SUBSET = Path(__file__).resolve().parent / "fixtures" / "library" / "hf_2024_subset.json"

SHARED_IDS = ("2403.11781", "2401.16380", "2402.13616", "2404.04125", "2402.04177")
ONLY = 3  # papers found on one side only, per side


def write_subsets(folder: Path) -> tuple[Path, Path]:
    """(sample subset as JSONL without ids, 2024 subset as the original keyed JSON)."""
    data = json.loads(EXTRA_2024_SUBSET.read_text(encoding="utf-8"))
    shared_titles = {normalize_title(data[i]["title"]) for i in SHARED_IDS}
    sample = read_paths([SAMPLE_DIR]).papers
    overlap = [p for p in sample if p.dedup_key in shared_titles]
    assert len(overlap) == len(SHARED_IDS)
    others = [p for p in sample if p.dedup_key not in shared_titles][:ONLY]
    sample_path = folder / "sample_subset.jsonl"
    sample_path.write_text(
        "".join(
            json.dumps({"title": p.title, "abstract": p.abstract}) + "\n" for p in overlap + others
        ),
        encoding="utf-8",
    )
    assert len(data) == len(SHARED_IDS) + ONLY
    return sample_path, EXTRA_2024_SUBSET


def ingest_both_collections(settings: Settings, order: str) -> None:
    """The whole sample (445) and the whole 2024 collection (753) in two ingests, in `order`
    ("sample_first" or "2024_first"), checking the counts each ingest reports and the 1,193
    distinct papers they leave (1,198 before the fix). Stand-in vectors (LlamaIndex's
    MockEmbedding): which papers the store ends up holding does not depend on the embedding."""
    from llama_index.core.embeddings import MockEmbedding

    from rag_papers.index.ingest import ingest
    from rag_papers.index.stats import collection_stats
    from rag_papers.readers import sample_corpus_dir

    hf_2024 = Path(__file__).resolve().parents[1] / "eval" / "data" / "hf_daily_papers_2024.json"
    files = [sample_corpus_dir(), hf_2024]
    if order == "2024_first":
        files.reverse()
    model = MockEmbedding(embed_dim=16)
    first = ingest([files[0]], settings=settings, progress=False, embed_model=model)
    second = ingest([files[1]], settings=settings, progress=False, embed_model=model)
    assert first.new == (445 if order == "sample_first" else 753)
    assert second.new == (748 if order == "sample_first" else 440)
    assert second.updated + second.unchanged == 5
    assert collection_stats(settings)["papers"] == 1193
