"""Command line: parse, call the library, print. No retrieval logic lives here.

Building the parser imports nothing heavy (no gradio, chromadb, llama-index or torch), so
`rag-papers --help` and every subcommand's --help answer at once; each command imports
what it needs when it runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from typing import Any

from rag_papers.app import console
from rag_papers.app.options import filters_from, mode_from, settings_from
from rag_papers.app.terminal import show_answer, style_for
from rag_papers.errors import InputError, QuestionError, RagPapersError
from rag_papers.sanitize import install_log_redaction
from rag_papers.settings import RETRIEVERS

MODES = ("auto", "llm", "openai", "extractive")


# -- ingest / stats ---------------------------------------------------------------------
def cmd_ingest(args: argparse.Namespace) -> int:
    from rag_papers.index.ingest import ingest

    settings = settings_from(args)
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

    fetched_papers: list[Any] | None = None
    fetched_warnings: list[str] = []
    if args.arxiv or args.arxiv_ids:
        from rag_papers.providers.arxiv import fetch_arxiv, fetch_arxiv_ids, parse_arxiv_ids

        fetched_papers = []
        for fetched in (
            fetch_arxiv(args.arxiv, max_results=args.max_results) if args.arxiv else None,
            fetch_arxiv_ids(parse_arxiv_ids(args.arxiv_ids)) if args.arxiv_ids else None,
        ):
            if fetched is not None:
                fetched_papers.extend(fetched.papers)
                fetched_warnings.extend(fetched.warnings)
    reporter = console.Progress(sys.stderr)
    try:
        summary = ingest(
            paths,
            sample=args.sample,
            settings=settings,
            rebuild=args.rebuild,
            strict=args.strict,
            papers=fetched_papers,
            confirm=confirm,
            progress=reporter,
        )
    finally:
        reporter.close()
    summary.warnings = fetched_warnings + summary.warnings
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
        return 0
    for warning in summary.warnings[:20]:
        print(f"warning: {warning}", file=sys.stderr)
    if len(summary.warnings) > 20:
        print(f"warning: … and {len(summary.warnings) - 20} more", file=sys.stderr)
    for skipped in summary.skipped_files:
        print(f"skipped file: {skipped}", file=sys.stderr)
    # wrapped at words on a terminal (it was cut mid-word at 80 columns: 'embedded i' / 'n 45.3 s')
    print(style_for(sys.stdout, shutil.get_terminal_size().columns).wrap(summary.line()))
    if summary.no_abstract:
        n = len(summary.no_abstract)
        print(
            f"{n} entr{'y has' if n == 1 else 'ies have'} no abstract and "
            f"{'was' if n == 1 else 'were'} not indexed (no question can be answered from "
            "a title alone: add the abstract, or ingest a file that has it):"
        )
        for entry in summary.no_abstract:
            print(f"  {entry}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from rag_papers.index.stats import collection_stats

    stats = collection_stats(settings_from(args))
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    width = max(len(k) for k in stats)
    for key, value in stats.items():
        print(f"{key:<{width}}  {value}")
    return 0


# -- ask --------------------------------------------------------------------------------
def cmd_ask(args: argparse.Namespace) -> int:
    if args.interactive:
        from rag_papers.app.repl import run_repl

        return run_repl(args, first=args.question)
    if not args.question:
        raise QuestionError('no question given — rag-papers ask "your question" (or -i to chat)')
    from rag_papers.qa.pipeline import Pipeline

    pipeline = Pipeline(settings_from(args))
    filters = filters_from(args)
    fmt = "json" if args.json else args.format
    if fmt != "text":
        from rag_papers.app.export import format_answer

        result = pipeline.run(args.question, filters=filters, k=args.k, mode=mode_from(args))
        sys.stdout.write(format_answer(result, fmt))
        if fmt == "bibtex" and not result.citations:
            print(
                "no paper cited: the BibTeX is empty (no indexed abstract answers this)",
                file=sys.stderr,
            )
        return 0
    show_answer(
        pipeline.stream(args.question, filters=filters, k=args.k, mode=mode_from(args)),
        sys.stdout,
    )
    return 0


# -- collections, papers, remove ---------------------------------------------------------
def cmd_library(args: argparse.Namespace) -> int:
    """`collections`, `papers` and `remove`: app/library_cli.py has one function per command."""
    from rag_papers.app import library_cli

    return getattr(library_cli, args.command)(args, settings_from(args))


def cmd_repl(args: argparse.Namespace) -> int:
    from rag_papers.app.repl import run_repl

    return run_repl(args)


def cmd_eval(args: argparse.Namespace) -> int:
    from rag_papers.app import eval_cli

    return eval_cli.run(args, settings_from(args))


def cmd_chat(args: argparse.Namespace) -> int:
    from rag_papers.app import serve

    return serve.run_cli(args)


# -- parser -----------------------------------------------------------------------------
def common_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """Options every command takes, before or after its name (`ask "q" --home DIR`)."""
    default = None if top else argparse.SUPPRESS  # a subcommand never overwrites the top's value
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=default, help="log details to stderr"
    )
    parser.add_argument(
        "--home",
        default=default,
        metavar="DIR",
        help="data directory (default: RAG_PAPERS_HOME or ~/.rag_papers)",
    )
    parser.add_argument(
        "--collection",
        default=default,
        metavar="NAME",
        help="collection to use (default: RAG_PAPERS_COLLECTION or papers); "
        "`rag-papers collections` lists them",
    )


def ask_options(p: argparse.ArgumentParser) -> None:
    """Retrieval and answer options shared by `ask` and `repl`."""
    p.add_argument("--k", type=int, default=None, help="papers to retrieve (default 5)")
    p.add_argument(
        "--year", help="publication years, e.g. 2023 or 2021-2024 (either end may be left open)"
    )
    p.add_argument(
        "--since", metavar="YYYY-MM-DD", help="only papers published on or after this date"
    )
    p.add_argument(
        "--until", metavar="YYYY-MM-DD", help="only papers published on or before this date"
    )
    p.add_argument("--title", help="only papers whose title contains this text")
    p.add_argument(
        "--include-undated",
        action="store_true",
        help="with a date filter, also search papers whose date is unknown (they are left out otherwise)",
    )
    p.add_argument(
        "--mode",
        choices=MODES,
        default=None,
        help="how to answer: extractive quotes the abstracts (no LLM), llm writes with the "
        "configured model (openai is the same), auto uses the LLM when one is configured "
        "(default: RAG_PAPERS_MODE or auto)",
    )
    p.add_argument(
        "--retriever",
        choices=RETRIEVERS,
        default=None,
        help="dense (embeddings), bm25 (keywords) or hybrid (both, fused; the default)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag-papers",
        description="Question answering over research-paper abstracts, with citations.",
    )
    common_options(parser, top=True)
    common = argparse.ArgumentParser(add_help=False)
    common_options(common, top=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "ingest",
        parents=[common],
        help="index paper collections (listing .txt, .json, .jsonl, .csv, arXiv Atom .xml, "
        "BibTeX .bib, RIS .ris, CSL-JSON, Zotero CSV)",
        description="Index paper files or folders; a second run embeds only new or changed papers.",
    )
    p.add_argument("paths", nargs="*", help="files or folders")
    p.add_argument(
        "--sample", action="store_true", help="index the bundled sample corpus (445 papers)"
    )
    p.add_argument(
        "--arxiv", metavar="QUERY", help="also fetch papers from the arXiv API (needs network)"
    )
    p.add_argument("--max-results", type=int, default=50, help="papers to fetch with --arxiv")
    p.add_argument(
        "--arxiv-ids",
        metavar="FILE_OR_IDS",
        help="also fetch these arXiv ids (a file, one per line, or '2401.04081,hep-th/9901001')",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--rebuild", action="store_true", help="delete the index and start over")
    p.add_argument(
        "--strict",
        action="store_true",
        help="treat warnings (bad lines, missing abstracts) as errors",
    )
    p.add_argument("--yes", action="store_true", help="do not ask before paying for API embeddings")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser(
        "stats",
        parents=[common],
        help="papers, chunks, embedding model, store location, last ingest",
        description="What is indexed: papers, chunks, embedding model, store, last ingest.",
    )
    p.add_argument("--json", action="store_true", help="print the statistics as a JSON object")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser(
        "ask",
        parents=[common],
        help="answer a question from the indexed abstracts",
        description="Answer a question from the indexed abstracts, citing them as [n].",
    )
    p.add_argument(
        "question",
        nargs="?",
        help='the question, quoted: "Which papers distill an LLM into a small classifier?"',
    )
    ask_options(p)
    p.add_argument("--json", action="store_true", help="print the whole Answer as JSON")
    p.add_argument(
        "--format",
        choices=("text", "markdown", "json", "bibtex"),
        default="text",
        help="markdown: the answer with numbered references to paste into notes; json: the "
        "whole Answer; bibtex: the cited papers as BibTeX entries",
    )
    p.add_argument(
        "-i",
        "--interactive",
        action="store_true",
        help="keep asking: a conversation in the terminal (the same as `rag-papers repl`)",
    )
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser(
        "collections",
        parents=[common],
        help="list the collections in this home: papers, embedding model, last ingest",
        description="The collections in this home (or on the Chroma server); * marks the current.",
    )
    p.add_argument("--json", action="store_true", help="print them as a JSON list")
    p.set_defaults(func=cmd_library)

    p = sub.add_parser(
        "papers",
        parents=[common],
        help="list or export the papers of a collection",
        description="List a collection's papers, or export them for a reference manager.",
    )
    p.add_argument(
        "--search", metavar="TEXT", help="only papers whose title, authors or id contain this"
    )
    p.add_argument(
        "--json", action="store_true", help="print one JSON object per paper (JSON Lines)"
    )
    p.add_argument(
        "--format",
        choices=("text", "bibtex", "csv", "jsonl"),
        default="text",
        help="bibtex, csv or jsonl export (csv and jsonl read back with `rag-papers ingest`)",
    )
    p.set_defaults(func=cmd_library)

    p = sub.add_parser(
        "remove",
        parents=[common],
        help="remove papers from a collection (ingesting their file again adds them back)",
        description="Remove papers by id (arxiv:2401.04081, 2401.04081 or title:...): their "
        "vectors, keyword index entries and manifest record.",
    )
    p.add_argument("paper_ids", nargs="+", metavar="PAPER_ID", help="ids from `rag-papers papers`")
    p.add_argument("--json", action="store_true", help="print what was removed as JSON")
    p.set_defaults(func=cmd_library)

    p = sub.add_parser(
        "repl",
        parents=[common],
        help="a conversation in the terminal: questions and follow-ups, Ctrl-D or exit to leave",
        description="Ask questions and follow-ups in the terminal; the models load once.",
    )
    ask_options(p)
    p.set_defaults(func=cmd_repl, question=None)

    p = sub.add_parser(
        "eval",
        parents=[common],
        help="evaluate retrieval and answers on a question set",
        description="Run a question set through each configuration and write a report.",
    )
    from rag_papers.app.eval_cli import add_arguments as eval_arguments  # light: no models

    eval_arguments(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "chat",
        parents=[common],
        help="start the chat page (http://127.0.0.1:7860)",
        description="Serve the chat page; Ctrl-C stops it.",
    )
    p.add_argument(
        "--host", default=None, help="address to bind (default: RAG_PAPERS_UI_HOST or 127.0.0.1)"
    )
    p.add_argument(
        "--port", type=int, default=None, help="port (default: RAG_PAPERS_UI_PORT or 7860)"
    )
    p.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="allow a non-local --host without RAG_PAPERS_UI_AUTH (anyone on the network can use the page)",
    )
    p.set_defaults(func=cmd_chat)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    console.configure_logging(args.verbose)
    install_log_redaction()
    try:
        if args.command in ("ask", "stats", "papers", "remove", "repl"):
            from rag_papers.index.library import require_collection

            require_collection(settings_from(args))  # a mistyped --collection is not empty
        return int(args.func(args) or 0)
    except RagPapersError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.command == "ingest":
            print(
                "interrupted — the index keeps every paper finished so far; run the command again to complete it",
                file=sys.stderr,
            )
        elif args.command == "remove":
            print(
                "interrupted — the collection stays usable (some of the papers may be removed "
                "already); run the command again to finish the removal",
                file=sys.stderr,
            )
        else:
            print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug or an environment problem: one line here, the trace with -v
        from rag_papers.index.store import damage_error

        damaged = damage_error(settings_from(args), exc)
        if damaged is not None:  # Chroma says it many ways; the file check says it one way
            print(f"error: {damaged}", file=sys.stderr)
            return 2
        if args.verbose:
            raise
        print(
            f"error: unexpected {type(exc).__name__}: {exc} (run with -v for the details)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
