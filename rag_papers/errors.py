"""Errors that say what to do next. Every public failure is a RagPapersError."""

from __future__ import annotations


class RagPapersError(Exception):
    """Base class for every error rag_papers raises on purpose."""


class ConfigError(RagPapersError):
    """A setting is missing or invalid."""


class InputError(RagPapersError):
    """A paper collection (file, line, field) cannot be read."""


class IndexNotFoundError(RagPapersError):
    """The store holds no papers yet."""


class EmbeddingMismatchError(RagPapersError):
    """The store was built with another embedding model than the one configured."""


class QuestionError(RagPapersError):
    """The question or its options (k, mode, filters) are not usable."""


class LLMError(RagPapersError):
    """The language model endpoint failed after the retries allowed."""


class StoreDamagedError(RagPapersError):
    """The embedded Chroma store's database file is damaged; it must be rebuilt or restored."""


class WriterLockError(RagPapersError):
    """Another writer holds the index's writer lock (and waiting was not allowed or timed
    out), or this writer lost the lock to another while it ran."""
