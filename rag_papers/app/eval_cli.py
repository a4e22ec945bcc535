"""`rag-papers eval`: its options, and the printing of the summary and the CI gate's verdict.

The harness itself (rag_papers.evaluation) is plain functions; this module only parses and
prints, like the rest of app/.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rag_papers.app import console
from rag_papers.errors import ConfigError
from rag_papers.evaluation.config import MODES
from rag_papers.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The eval subcommand's options (light: nothing heavy is imported to build the parser)."""
    parser.add_argument(
        "--questions",
        type=Path,
        default=None,
        help="question file (.jsonl, the format of eval/dev_questions.jsonl; that file by default)",
    )
    parser.add_argument(
        "--mode", choices=MODES, default="both", help="what to evaluate (default: both)"
    )
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        type=Path,
        metavar="FILE.json",
        help='extra configuration {"name": ..., "settings": {...}}; repeat for more',
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="output folder (reports, plots, cache)"
    )
    parser.add_argument(
        "--fail-under",
        action="append",
        default=[],
        metavar="METRIC=VALUE",
        help="exit 1 when hybrid's overall METRIC is below VALUE: retrieval (recall@5=0.95) "
        "or answer metrics (citation_precision=0.9, abstention_f1=0.85, answer_rate=0.9, ...)",
    )
    parser.add_argument(
        "--no-judge", action="store_true", help="skip the LLM judge even when an LLM is configured"
    )
    parser.add_argument(
        "--no-cache", action="store_true", help="ignore and do not write the result cache"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Evaluate, print the summary and the report's path; 1 when a --fail-under floor fails."""
    from rag_papers.evaluation.report import summary_lines
    from rag_papers.evaluation.run import ANSWER_GATE_KEYS, check_floors, evaluate, parse_floor

    floors = [parse_floor(f) for f in args.fail_under]  # checked before the run, not after it
    wrong = [
        name
        for name, _ in floors
        if (name in ANSWER_GATE_KEYS and args.mode == "retrieval")
        or (name not in ANSWER_GATE_KEYS and args.mode == "answer")
    ]
    if wrong:
        raise ConfigError(
            f"--fail-under {', '.join(wrong)}: not measured with --mode {args.mode} — use --mode both"
        )
    # Each phase named as it starts, a heartbeat while a step is slow, lines when piped.
    reporter = None if args.no_progress else console.Progress(sys.stderr)
    try:
        report = evaluate(
            args.questions,
            mode=args.mode,
            configs=args.config,
            out_dir=args.out,
            settings=settings,
            use_judge=not args.no_judge,
            use_cache=not args.no_cache,
            progress=reporter or False,
        )
    finally:
        if reporter is not None:
            reporter.close()
    print("\n".join(summary_lines(report)))
    print(f"\nreport: {Path(args.out) / report['files']['report_md']}")
    failures = check_floors(report, floors)
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0
