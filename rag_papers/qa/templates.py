"""Prompt templates from prompts/*.md (installed as rag_papers.prompts), with checked placeholders."""

from __future__ import annotations

import re
import string
from functools import cache
from importlib import resources

# Every template and the placeholders it must use; a test keeps files and code in step.
TEMPLATES: dict[str, frozenset[str]] = {
    "answer_system": frozenset({"cannot_answer"}),
    "answer_user": frozenset({"history", "sources", "question", "cannot_answer"}),
    "condense": frozenset({"history", "question"}),
}


@cache
def load(name: str) -> str:
    if name not in TEMPLATES:
        raise KeyError(f"unknown prompt {name!r}; known: {', '.join(sorted(TEMPLATES))}")
    return resources.files("rag_papers.prompts").joinpath(f"{name}.md").read_text(encoding="utf-8")


def placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def render(name: str, **values: str) -> str:
    """Fill a template. Values are inserted verbatim: braces in an abstract are safe."""
    template = load(name)
    missing = placeholders(template) - set(values)
    if missing:
        raise KeyError(f"prompt {name} needs {sorted(missing)}")
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), template)
