"""Command-line options made library values: Settings, retrieval Filters, the answer mode.

Shared by the commands (cli.py), the terminal conversation (repl.py) and the page's server
(serve.py), so none of them imports another for it.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag_papers.errors import QuestionError
from rag_papers.settings import Settings

if TYPE_CHECKING:
    from rag_papers.qa.retrieve import Filters


def settings_from(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "home", None):
        overrides["home"] = Path(args.home)
    if getattr(args, "collection", None):
        overrides["collection"] = args.collection
    if getattr(args, "retriever", None):
        overrides["retriever"] = args.retriever
    return Settings(**overrides)


def filters_from(args: argparse.Namespace) -> Filters:
    """--year, --since, --until, --title and --include-undated as retrieval Filters."""
    from rag_papers.qa.retrieve import Filters

    filters = Filters.parse_years(args.year) if args.year else Filters()
    if args.since and args.until and args.since > args.until:
        raise QuestionError(
            f"--since {args.since} is after --until {args.until} — did you mean "
            f"--since {args.until} --until {args.since}?"
        )
    return dataclasses.replace(
        filters,
        date_from=args.since,
        date_to=args.until,
        title_contains=args.title or None,
        include_undated=args.include_undated,
    )


def mode_from(args: argparse.Namespace) -> str | None:
    return args.mode  # "openai" (the old name of "llm") is normalised by the pipeline
