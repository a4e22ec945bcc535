"""Checking what a caller asks before any work is done: the question, k and the answer mode."""

from __future__ import annotations

import unicodedata

from rag_papers.errors import QuestionError
from rag_papers.settings import Settings, normalize_mode

MODES = ("auto", "llm", "extractive")  # "openai" is accepted as the old name of "llm"


def validate_question(question: object, settings: Settings) -> str:
    """The question with white space folded; a QuestionError that says what to fix otherwise."""
    if not isinstance(question, str):
        raise QuestionError(f"the question must be text, not {type(question).__name__}")
    bad = sorted({ch for ch in question if unicodedata.category(ch) == "Cc" and ch not in "\n\r\t"})
    if bad:
        codes = ", ".join(f"U+{ord(ch):04X}" for ch in bad[:5])
        raise QuestionError(
            f"the question contains control characters ({codes}) — remove them and ask again"
        )
    question = " ".join(question.split())
    if not question:
        raise QuestionError("the question is empty — type a question about the indexed papers")
    if len(question) > settings.max_question_chars:
        raise QuestionError(
            f"the question has {len(question):,} characters; the limit is {settings.max_question_chars:,} "
            "(RAG_PAPERS_MAX_QUESTION_CHARS) — shorten it to the question itself"
        )
    return question


def validate_k(k: object) -> int:
    limit = Settings.model_fields["k"].metadata[-1].le  # the same bound as RAG_PAPERS_K
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= limit:
        raise QuestionError(
            f"k (papers to retrieve) must be a whole number from 1 to {limit} — got {k!r}"
        )
    return k


def validate_mode(mode: object) -> str:
    mode = normalize_mode(mode) if isinstance(mode, str) else mode
    if not isinstance(mode, str) or mode not in MODES:
        raise QuestionError(f"unknown answer mode {mode!r} — use one of: {', '.join(MODES)}")
    return mode


__all__ = ["MODES", "validate_k", "validate_mode", "validate_question"]
