"""The evaluation harness: run a question set through several configurations, score, report.

    rag-papers eval --questions eval/dev_questions.jsonl --mode both --out runs/dev
    from rag_papers.evaluation.run import evaluate
    report = evaluate("eval/dev_questions.jsonl", mode="both", out_dir="runs/dev")

Built-in configurations run side by side on the same questions: `hybrid` (ours) and the
baselines `bm25` and `dense` (plain top-k vector retrieval, what a LlamaIndex
VectorStoreIndex does with its default query settings). Answers are produced in extractive
mode always and by the LLM too when one is configured. Every raw result (ranking, answer,
judge verdicts) is appended to a JSONL cache in the output folder as soon as it exists, so
an interrupted run resumes; metrics are recomputed from the raw results on every run.
Metric definitions: eval/README.md. Report files: rag_papers/report.py.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag_papers import _offline  # noqa: F401
from rag_papers.errors import ConfigError
from rag_papers.evaluation import metrics
from rag_papers.evaluation.cache import CACHE_FILE, ResultCache, file_sha256
from rag_papers.evaluation.config import (
    DEFAULT_QUESTIONS,
    GATE_CONFIG,
    MODES,
    EvalConfig,
    Question,
    default_configs,
    load_config,
    load_questions,
)
from rag_papers.evaluation.judge import Judge
from rag_papers.evaluation.models import Runtime
from rag_papers.evaluation.runner import Run, git_info, timed
from rag_papers.evaluation.score import NOT_JUDGED, assemble
from rag_papers.settings import Settings

if TYPE_CHECKING:
    from rag_papers.providers.llm import ChatLLM
    from rag_papers.qa.retrieve import Retriever
    from rag_papers.types import ProgressCallback

log = logging.getLogger(__name__)


# -- the run ----------------------------------------------------------------------------
def evaluate(
    questions_path: str | Path | None = None,
    *,
    mode: str = "both",
    configs: Sequence[EvalConfig | dict[str, Any] | str | Path] = (),
    out_dir: str | Path,
    settings: Settings | None = None,
    retriever: Retriever | None = None,
    llm: ChatLLM | None = None,
    judge: ChatLLM | None = None,
    use_judge: bool = True,
    use_cache: bool = True,
    progress: bool | ProgressCallback = True,
) -> dict[str, Any]:
    """Evaluate retrieval and/or answers of the built-in and extra configurations; write reports.

    `configs` adds configurations to hybrid/bm25/dense ({"name", "settings"} dicts or JSON
    files). `retriever` and `llm` replace the ones the settings would build (for the default
    configurations); `judge` is the LLM that grades faithfulness and citation support
    (default: the configured LLM when settings resolve to llm; none otherwise).
    `progress`: tqdm bars (True), none (False), or a ProgressCallback told each phase and step.
    Returns the report (the content of report.json).
    """
    started = time.time()
    settings = settings or Settings()
    if mode not in MODES:
        raise ConfigError(f"unknown eval mode {mode!r} — use one of: {', '.join(MODES)}")
    qpath = Path(questions_path) if questions_path else DEFAULT_QUESTIONS
    questions = load_questions(qpath)
    cfgs = default_configs(settings) + [
        c if isinstance(c, EvalConfig) else load_config(c, settings) for c in configs
    ]
    names = [c.name for c in cfgs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(
            f"configuration name(s) {', '.join(dupes)} used twice (hybrid, bm25 and dense are built in)"
            " — give each --config a name of its own"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if callable(progress):
        progress("opening the index")
    run = Run(
        questions,
        cfgs,
        settings,
        ResultCache(out / CACHE_FILE, enabled=use_cache),
        Runtime(settings, retriever=retriever, llm=llm),
        progress,
    )

    llm_configured = llm is not None or settings.resolved_mode() == "llm"
    answer_modes = (
        (["extractive"] + (["llm"] if llm_configured else [])) if mode != "retrieval" else []
    )
    judge_obj = None
    if use_judge and mode != "retrieval":
        if judge is not None:
            judge_obj = Judge(judge)
        elif settings.resolved_mode() == "llm":
            from rag_papers.providers.registry import make_llm

            judge_obj = Judge(llm if llm is not None else make_llm(settings))

    if mode in ("retrieval", "both"):
        with timed("retrieval"):
            run.retrieve_all()
    for amode in answer_modes:
        with timed(f"answers ({amode})"):
            run.answer_all(amode)
        with timed(f"fact matching ({amode})"):
            run.match_facts(amode)
        if judge_obj is not None:
            with timed(f"judge ({amode})"):
                run.judge_all(amode, judge_obj)

    from rag_papers.evaluation import report as report_mod

    per_question, report = assemble(run, answer_modes, judge_obj, mode)
    judge_info = None
    if judge_obj is not None:
        p_tok = sum(r.get("tokens", {}).get("prompt", 0) for r in run.judged.values())
        c_tok = sum(r.get("tokens", {}).get("completion", 0) for r in run.judged.values())
        judge_info = {
            "model": judge_obj.model,
            "prompt_tokens": p_tok,
            "completion_tokens": c_tok,
            "cost_usd": metrics.cost_usd(p_tok, c_tok, settings.prices.get(judge_obj.model)),
        }
    report["run"] = {
        "git": git_info(),
        "settings_hash": settings.settings_hash(),
        "questions_path": str(qpath),
        "questions_sha256": file_sha256(qpath),
        "n_questions": len(questions),
        "mode": mode,
        "answer_modes": answer_modes,
        "judge": judge_info,
        "index": next(iter(run.indexes.values())) if len(run.indexes) == 1 else run.indexes,
        "cache": {
            "file": CACHE_FILE,
            "enabled": use_cache,
            "hits": run.cache.hits,
            "misses": run.cache.misses,
        },
        "started_at": datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds"),
        "duration_s": round(time.time() - started, 3),
        "python": sys.version.split()[0],
    }
    report["files"] = report_mod.write_all(report, per_question, out)
    return report


# -- the CI gate ------------------------------------------------------------------------
ANSWER_GATE_KEYS = (
    "abstention_f1",
    "abstention_precision",
    "abstention_recall",
    "answer_rate",
    "citation_precision",
    "citation_recall",
    "citation_validity",
    "fact_coverage",
)


def parse_floor(text: str) -> tuple[str, float]:
    """'recall@5=0.95' -> ('recall@5', 0.95); retrieval or answer metric names."""
    name, sep, value = text.partition("=")
    name = name.strip().lower()
    known = (*metrics.RETRIEVAL_KEYS, "latency_p50_s", "latency_p95_s", *ANSWER_GATE_KEYS)
    if not sep or name not in known:
        raise ConfigError(
            f"--fail-under {text!r}: use METRIC=VALUE with METRIC one of {', '.join(known)}"
        )
    try:
        return name, float(value)
    except ValueError:
        raise ConfigError(f"--fail-under {text!r}: {value!r} is not a number") from None


def check_floors(
    report: dict[str, Any], floors: Sequence[tuple[str, float]], config: str = GATE_CONFIG
) -> list[str]:
    """Failures of the gate: the named config's overall metrics below their floors.

    Retrieval floors read the retrieval section; answer floors read every answer mode that
    ran (each must pass). No floors, no failures, whatever ran.
    """
    entry = report["configs"].get(config) or {}
    failures = []
    for name, floor in floors:
        if name in ANSWER_GATE_KEYS:
            modes = entry.get("answers") or {}
            if not modes:
                failures.append(
                    f"{config}: no answer metrics to check {name} (run with --mode answer or both)"
                )
            checked = [
                (f"{config} {mode}", (m or {}).get("overall") or {}) for mode, m in modes.items()
            ]
        else:
            overall = (entry.get("retrieval") or {}).get("overall")
            if overall is None:
                failures.append(
                    f"{config}: no retrieval metrics to check {name} (run with --mode retrieval or both)"
                )
                continue
            checked = [(config, overall)]
        for label, overall in checked:
            value = overall.get(name)
            if value is None:
                failures.append(f"{label} {name} was not measured (floor {floor})")
            elif value < floor:
                failures.append(f"{label} {name} = {value:.4f} is below the floor {floor}")
    return failures


__all__ = [
    "NOT_JUDGED",
    "EvalConfig",
    "Judge",
    "Question",
    "check_floors",
    "default_configs",
    "evaluate",
    "load_config",
    "load_questions",
    "parse_floor",
]
