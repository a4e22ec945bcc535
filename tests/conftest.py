"""Shared fixtures. Tests never read the developer's environment and never touch the network."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from fault_server import fault_server_fixture  # noqa: F401
from llm_server import llama_base_url_fixture, llama_fixture  # noqa: F401

from rag_papers import _offline  # noqa: F401  (offline switches for every test process)

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "rag_papers" / "data" / "sample"
# One real listing file (67 papers): enough for answer tests, quick to embed.
SMALL_LISTING = SAMPLE_DIR / "004_9055317b84f6e392.txt"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Drop OPENAI_* and RAG_PAPERS_* from the shell and run from an empty folder (no stray .env)."""
    for name in list(os.environ):
        if name.startswith(("OPENAI_", "RAG_PAPERS_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


@pytest.fixture(scope="session")
def small_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home folder with one real listing file ingested (built once per test session)."""
    from rag_papers.index.ingest import ingest
    from rag_papers.settings import Settings

    home = tmp_path_factory.mktemp("small_index")
    ingest([SMALL_LISTING], settings=Settings(home=home), progress=False)
    return home


@pytest.fixture
def small_home(small_index: Path, tmp_path: Path) -> Path:
    """A private copy of the small index, for tests that write to it."""
    home = tmp_path / "home"
    shutil.copytree(small_index, home)
    return home


@pytest.fixture(scope="session")
def small_pipeline(small_index: Path):
    """One Pipeline over the small index (embedding model loaded once)."""
    from rag_papers.qa.pipeline import Pipeline
    from rag_papers.settings import Settings

    return Pipeline(Settings(home=small_index, mode="extractive"))


@pytest.fixture(scope="session")
def sample_pipeline(tmp_path_factory: pytest.TempPathFactory):
    """One extractive Pipeline over the whole bundled sample (445 papers; built once)."""
    from rag_papers.index.ingest import ingest
    from rag_papers.qa.pipeline import Pipeline
    from rag_papers.settings import Settings

    home = tmp_path_factory.mktemp("sample_index")
    ingest(sample=True, settings=Settings(home=home), progress=False)
    return Pipeline(Settings(home=home, mode="extractive"))


@pytest.fixture(scope="session")
def mamba_pipeline(tmp_path_factory: pytest.TempPathFactory):
    """An extractive Pipeline over 57 real papers of the 2024 collection (Mamba, MoE, Llama
    families and 20 others; tests/fixtures/hf2024_mamba_moe_llama.json)."""
    from rag_papers.index.ingest import ingest
    from rag_papers.qa.pipeline import Pipeline
    from rag_papers.settings import Settings

    home = tmp_path_factory.mktemp("mamba_index")
    source = Path(__file__).parent / "fixtures" / "hf2024_mamba_moe_llama.json"
    ingest([source], settings=Settings(home=home), progress=False)
    return Pipeline(Settings(home=home, mode="extractive"))
