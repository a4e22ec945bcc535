"""rag_papers: question answering over research-paper abstracts with verified citations.

    from rag_papers import ingest, answer
    ingest(sample=True)
    print(answer("What is UL2's Mixture-of-Denoisers?").text)

Heavy modules (torch, chromadb, llama-index) load on first use, not on import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rag_papers.errors import (
    ConfigError,
    EmbeddingMismatchError,
    IndexNotFoundError,
    InputError,
    LLMError,
    QuestionError,
    RagPapersError,
    StoreDamagedError,
)
from rag_papers.index.ingest import IngestSummary, ingest

# These modules import their heavy dependencies (torch, chromadb, llama-index) lazily.
from rag_papers.qa.pipeline import CANNOT_ANSWER, aanswer, answer, stream_answer
from rag_papers.settings import Settings
from rag_papers.types import Answer, Citation, Paper, RetrievedPaper

if TYPE_CHECKING:
    from rag_papers.qa.chat import Assistant
    from rag_papers.qa.retrieve import Filters, Retriever

__version__ = "0.1.0"

_LAZY = {
    "Assistant": "rag_papers.qa.chat",
    "Filters": "rag_papers.qa.retrieve",
    "Retriever": "rag_papers.qa.retrieve",
}

__all__ = [
    "CANNOT_ANSWER",
    "Answer",
    "Assistant",
    "Citation",
    "ConfigError",
    "EmbeddingMismatchError",
    "Filters",
    "IndexNotFoundError",
    "IngestSummary",
    "InputError",
    "LLMError",
    "Paper",
    "QuestionError",
    "RagPapersError",
    "RetrievedPaper",
    "Retriever",
    "Settings",
    "StoreDamagedError",
    "aanswer",
    "answer",
    "ingest",
    "stream_answer",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rag_papers' has no attribute {name!r}")
