"""Command line: parse, call the library, print. No retrieval logic lives here."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path
from typing import Any

from rag_papers.errors import InputError, RagPapersError
from rag_papers.settings import Settings


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "home", None):
        overrides["home"] = Path(args.home)
    return Settings(**overrides)


# -- ingest / stats ---------------------------------------------------------------------
def cmd_ingest(args: argparse.Namespace) -> int:
    from rag_papers.index.ingest import ingest

    settings = _settings(args)
    paths = list(args.paths)

    def confirm(tokens: int, usd: float) -> bool:
        print(
            f"embedding through the OpenAI API: ~{tokens:,} tokens, about ${usd:.4f}",
            file=sys.stderr,
        )
        if args.yes:
            return True
        if not sys.stdin.isatty():
            raise InputError(
                "not asking on a non-interactive input — pass --yes to accept the cost"
            )
        return input("continue? [y/N] ").strip().lower() in ("y", "yes")

    if args.arxiv:
        from rag_papers.providers.arxiv import fetch_arxiv

        fetched = fetch_arxiv(args.arxiv, max_results=args.max_results)
        summary = ingest(
            paths,
            sample=args.sample,
            settings=settings,
            rebuild=args.rebuild,
            strict=args.strict,
            papers=fetched.papers,
            confirm=confirm,
        )
    else:
        summary = ingest(
            paths,
            sample=args.sample,
            settings=settings,
            rebuild=args.rebuild,
            strict=args.strict,
            confirm=confirm,
        )
    for warning in summary.warnings[:20]:
        print(f"warning: {warning}", file=sys.stderr)
    if len(summary.warnings) > 20:
        print(f"warning: … and {len(summary.warnings) - 20} more", file=sys.stderr)
    print(summary.line())
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from rag_papers.index.stats import collection_stats

    stats = collection_stats(_settings(args))
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    width = max(len(k) for k in stats)
    for key, value in stats.items():
        print(f"{key:<{width}}  {value}")
    return 0


# -- ask --------------------------------------------------------------------------------
def format_answer(answer: Any) -> str:
    """A readable answer with numbered references: title, date, link, quote."""
    lines = [answer.text, ""]
    if answer.abstained:
        lines.append("(abstained: no indexed abstract answers this)")
    for c in answer.citations:
        date = c.published or c.date_text or "date unknown"
        lines.append(f"[{c.number}] {c.title} ({date})" + (f" {c.url}" if c.url else ""))
        lines.append(
            f'    "{c.quote}"' + ("  (citation added by attribution)" if c.added_by_code else "")
        )
    if answer.dropped_citations:
        lines.append(f"(dropped citations to unknown sources: {answer.dropped_citations})")
    lines.append("")
    lines.append(f"mode: {answer.mode} ({answer.model}); {answer.timings.get('total', 0):.2f} s")
    return "\n".join(lines)


def cmd_ask(args: argparse.Namespace) -> int:
    from rag_papers.qa.pipeline import answer, stream_answer
    from rag_papers.qa.retrieve import Filters
    from rag_papers.types import Answer

    settings = _settings(args)
    filters = Filters.parse_years(args.year) if args.year else Filters()
    filters = dataclasses.replace(
        filters, date_from=args.since, date_to=args.until, title_contains=args.title or None
    )
    if args.json:
        result = answer(args.question, settings=settings, filters=filters, k=args.k, mode=args.mode)
        print(json.dumps(result.to_dict(), indent=2, default=str))
        return 0
    final = None
    streaming = sys.stdout.isatty()
    for item in stream_answer(
        args.question, settings=settings, filters=filters, k=args.k, mode=args.mode
    ):
        if isinstance(item, Answer):
            final = item
        elif streaming:
            print(item, end="", flush=True)
    assert final is not None
    if streaming:
        print("\r\033[J", end="")  # replace the streamed draft with the checked answer
    print(format_answer(final))
    return 0


# -- parser -----------------------------------------------------------------------------
def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser; with `command` known, only that command's heavy module is imported
    (gradio alone takes seconds to import, and `ask` should not pay for it)."""
    parser = argparse.ArgumentParser(
        prog="rag-papers",
        description="Question answering over research-paper abstracts, with citations.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    parser.add_argument("--home", help="data directory (default: RAG_PAPERS_HOME or ~/.rag_papers)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "ingest",
        help="index paper collections (listing .txt, .json, .jsonl, .csv, arXiv Atom .xml)",
    )
    p.add_argument("paths", nargs="*", help="files or folders")
    p.add_argument(
        "--sample", action="store_true", help="index the bundled sample corpus (445 papers)"
    )
    p.add_argument(
        "--arxiv", metavar="QUERY", help="also fetch papers from the arXiv API (needs network)"
    )
    p.add_argument("--max-results", type=int, default=50, help="papers to fetch with --arxiv")
    p.add_argument("--rebuild", action="store_true", help="delete the index and start over")
    p.add_argument(
        "--strict",
        action="store_true",
        help="treat warnings (bad lines, missing abstracts) as errors",
    )
    p.add_argument("--yes", action="store_true", help="do not ask before paying for API embeddings")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("stats", help="papers, chunks, embedding model, store location, last ingest")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("ask", help="answer a question from the indexed abstracts")
    p.add_argument("question")
    p.add_argument("--k", type=int, default=None, help="papers to retrieve (default 5)")
    p.add_argument("--year", help="publication years, e.g. 2023 or 2021-2024")
    p.add_argument(
        "--since", metavar="YYYY-MM-DD", help="only papers published on or after this date"
    )
    p.add_argument(
        "--until", metavar="YYYY-MM-DD", help="only papers published on or before this date"
    )
    p.add_argument("--title", help="only papers whose title contains this text")
    p.add_argument("--mode", choices=["auto", "openai", "extractive"], default=None)
    p.add_argument("--json", action="store_true", help="print the Answer as JSON")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("eval", help="evaluate retrieval and answers on a question set")
    if command in (None, "eval"):
        from rag_papers.evaluation import run as evaluate

        evaluate.add_arguments(p)
        p.set_defaults(func=evaluate.run_cli)
    p = sub.add_parser("chat", help="start the chat page (http://127.0.0.1:7860)")
    if command in (None, "chat"):
        from rag_papers.app import ui

        ui.add_arguments(p)
        p.set_defaults(func=ui.run_cli)
    return parser


def _command(argv: list[str]) -> str | None:
    """The subcommand named in argv, if any (options before it are skipped)."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--home":
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = _command(argv)
    known = {"ingest", "stats", "ask", "eval", "chat"}
    args = build_parser(
        command if command in known and "-h" not in argv and "--help" not in argv else None
    ).parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except RagPapersError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug or an environment problem: one line here, the trace in the log
        logging.getLogger("rag_papers").debug("unexpected error", exc_info=True)
        print(
            f"error: unexpected {type(exc).__name__}: {exc} (run with -v for the details)",
            file=sys.stderr,
        )
        if args.verbose:
            raise
        return 1
    except KeyboardInterrupt:
        print(
            "interrupted — the index keeps every paper finished so far; run the command again to complete it",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
