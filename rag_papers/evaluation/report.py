"""Evaluation report files: report.json, report.md, per_question.jsonl and PNG plots.

Written from the report dict that rag_papers.evaluation.run builds (its schema is documented in
eval/README.md) plus the per-question records. Plots use matplotlib's object API with the
Agg canvas, so no display and no global pyplot state are involved.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
PER_QUESTION = "per_question.jsonl"
PLOT_RECALL = "recall_at_k.png"
PLOT_BY_TYPE = "by_type.png"
PLOT_LATENCY = "latency.png"

RETRIEVAL_ROWS = (
    "hit@1",
    "hit@3",
    "hit@5",
    "hit@10",
    "recall@1",
    "recall@3",
    "recall@5",
    "recall@10",
    "mrr",
    "ndcg@10",
    "latency_p50_s",
    "latency_p95_s",
)
ANSWER_ROWS = (
    "answer_rate",
    "abstention_precision",
    "abstention_recall",
    "abstention_f1",
    "citation_validity",
    "citation_precision",
    "citation_recall",
    "fact_coverage",
    "fact_coverage_answered",
    "faithfulness",
    "citation_support",
    "latency_p50_s",
    "latency_p95_s",
    "tokens_prompt",
    "tokens_completion",
    "cost_usd",
)
TYPE_METRICS = (("recall@5", "recall@5"), ("mrr", "MRR"), ("ndcg@10", "nDCG@10"))


def write_all(
    report: dict[str, Any], per_question: Sequence[dict[str, Any]], out: Path
) -> dict[str, Any]:
    """Write every report file into `out`; return their names (relative to `out`)."""
    files: dict[str, Any] = {
        "report_json": REPORT_JSON,
        "report_md": REPORT_MD,
        "per_question": PER_QUESTION,
        "plots": [],
    }
    report["files"] = files
    files["plots"] = write_plots(report, per_question, out)
    _atomic_write(
        out / PER_QUESTION, "".join(json.dumps(r, default=str) + "\n" for r in per_question)
    )
    _atomic_write(out / REPORT_MD, markdown(report))
    _atomic_write(out / REPORT_JSON, json.dumps(report, indent=2, default=str) + "\n")
    return files


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# -- text -------------------------------------------------------------------------------
def fmt(value: object, *, delta: bool = False) -> str:
    if value is None:
        return "n/m"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:+,}" if delta else f"{value:,}"
    if isinstance(value, (int, float)):
        if delta:
            return f"{value:+.3f}" if abs(value) >= 0.001 or value == 0 else f"{value:+.2e}"
        return f"{value:.3f}" if abs(value) >= 0.001 or value == 0 else f"{value:.2e}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def _metric_table(report: dict[str, Any], section: Any, keys: Sequence[str]) -> list[str]:
    """Rows = metrics, columns = configurations, then each non-baseline's difference to the best baseline."""
    configs = report["configs"]
    names = [n for n in configs if section(configs[n]) is not None]
    ours = [n for n in names if not configs[n]["baseline"]]
    have_baselines = any(configs[n]["baseline"] for n in names)
    header = ["metric", *names] + ([f"{n} − best baseline" for n in ours] if have_baselines else [])
    rows = []
    for key in keys:
        row = [key] + [fmt(section(configs[n])["overall"].get(key)) for n in names]
        if have_baselines:
            for n in ours:
                cmp = (section(configs[n]).get("vs_best_baseline") or {}).get(key)
                row.append(
                    f"{fmt(cmp['delta'], delta=True)} (vs {cmp['baseline']})" if cmp else "n/m"
                )
        rows.append(row)
    return _table(header, rows)


def _type_table(report: dict[str, Any], section: Any, key: str) -> list[str]:
    configs = report["configs"]
    names = [n for n in configs if section(configs[n]) is not None]
    types = sorted({t for n in names for t in section(configs[n])["by_type"]})
    rows = []
    for t in types:
        first = section(configs[names[0]])["by_type"].get(t, {})
        rows.append(
            [t, str(first.get("n", 0))]
            + [fmt(section(configs[n])["by_type"].get(t, {}).get(key)) for n in names]
        )
    return _table(["type", "n", *names], rows)


def _not_measured(report: dict[str, Any], section: Any) -> list[str]:
    seen: dict[str, set[str]] = {}
    for name, entry in report["configs"].items():
        sec = section(entry)
        if sec is None:
            continue
        for key, why in sec["overall"].get("not_measured", {}).items():
            seen.setdefault(f"{key}: {why}", set()).add(name)
    return [f"- {k} ({', '.join(sorted(v))})" for k, v in sorted(seen.items())]


def markdown(report: dict[str, Any]) -> str:
    run = report.get("run", {})
    git = run.get("git") or {}
    index = run.get("index") or {}
    lines = ["# Evaluation report", ""]
    lines.append(
        f"Questions: `{run.get('questions_path')}` ({run.get('n_questions')} questions, sha256 "
        f"`{str(run.get('questions_sha256', ''))[:12]}`). Code: `{str(git.get('revision'))[:12]}`"
        f"{' (uncommitted changes)' if git.get('dirty') else ''}. Settings hash `{run.get('settings_hash')}`. "
        f"Index: {index.get('chunks', '?')} chunks at `{index.get('location', '?')}`. "
        f"Started {run.get('started_at')}, {run.get('duration_s')} s; cache {run.get('cache', {}).get('hits')} hits, "
        f"{run.get('cache', {}).get('misses')} misses. Judge: {(run.get('judge') or {}).get('model', 'none')}."
    )
    lines += [
        "",
        "Metric definitions: eval/README.md. n/m = not measured or undefined (reasons listed).",
        "",
    ]
    configs = report["configs"]
    if any(c["retrieval"] for c in configs.values()):
        n = next(c["retrieval"]["overall"]["n"] for c in configs.values() if c["retrieval"])
        lines += [f"## Retrieval (paper level; {n} answerable questions with gold papers)", ""]
        lines += _metric_table(report, lambda c: c["retrieval"], RETRIEVAL_ROWS)
        for key, label in TYPE_METRICS:
            lines += ["", f"### {label} by question type", ""]
            lines += _type_table(report, lambda c: c["retrieval"], key)
        lines.append("")
    modes = next((list(c["answers"]) for c in configs.values() if c["answers"]), [])
    for mode in modes:

        def sec(c: dict[str, Any], m: str = mode) -> Any:
            return (c["answers"] or {}).get(m)

        lines += [f"## Answers: {mode}", ""]
        lines += _metric_table(report, sec, ANSWER_ROWS)
        for key in ("answer_rate", "fact_coverage", "citation_recall"):
            lines += ["", f"### {key} by question type ({mode})", ""]
            lines += _type_table(report, sec, key)
        notes = _not_measured(report, sec)
        if notes:
            lines += ["", "Not measured or undefined:", *notes]
        lines.append("")
    if len(modes) > 1:
        lines += ["## Extractive versus LLM", ""]
        keys = (
            "answer_rate",
            "abstention_f1",
            "citation_precision",
            "citation_recall",
            "fact_coverage",
            "faithfulness",
            "citation_support",
            "latency_p50_s",
            "cost_usd",
        )
        rows = [
            [f"{n} / {m}"] + [fmt(c["answers"][m]["overall"].get(k)) for k in keys]
            for n, c in configs.items()
            if c["answers"]
            for m in modes
        ]
        lines += _table(["config / mode", *keys], rows) + [""]
    plots = (report.get("files") or {}).get("plots") or []
    if plots:
        lines += ["## Plots", ""] + [f"![{p}]({p})" for p in plots] + [""]
    return "\n".join(lines)


def summary_lines(report: dict[str, Any]) -> list[str]:
    """A few lines for the terminal: headline metrics per configuration."""
    out = []
    for name, entry in report["configs"].items():
        parts = []
        if entry["retrieval"]:
            o = entry["retrieval"]["overall"]
            parts.append(
                f"recall@5 {fmt(o['recall@5'])}  MRR {fmt(o['mrr'])}  nDCG@10 {fmt(o['ndcg@10'])}"
            )
        for mode, sec in (entry["answers"] or {}).items():
            o = sec["overall"]
            parts.append(
                f"{mode}: answer rate {fmt(o['answer_rate'])}  abstention F1 {fmt(o['abstention_f1'])}  "
                f"facts {fmt(o['fact_coverage'])}"
            )
        out.append(f"{name:<10} " + " | ".join(parts))
    return out


# -- plots ------------------------------------------------------------------------------
def _figure(rows: int = 1, height: float = 4.0) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, height * rows), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def write_plots(
    report: dict[str, Any], per_question: Sequence[dict[str, Any]], out: Path
) -> list[str]:
    """recall@k curves, metrics per question type, latency histograms; returns file names written."""
    configs = report["configs"]
    written = []
    with_ret = [n for n, c in configs.items() if c["retrieval"]]
    if with_ret:
        fig = _figure()
        ax = fig.add_subplot()
        ks = [1, 3, 5, 10]
        for name in with_ret:
            o = configs[name]["retrieval"]["overall"]
            ax.plot(ks, [o.get(f"recall@{k}") or 0.0 for k in ks], marker="o", label=name)
        ax.set(
            xlabel="k (papers retrieved)",
            ylabel="recall@k",
            xticks=ks,
            ylim=(0, 1.02),
            title="Paper-level recall@k",
        )
        ax.grid(alpha=0.3)
        ax.legend()
        fig.savefig(out / PLOT_RECALL, dpi=110)
        written.append(PLOT_RECALL)

    panels: list[tuple[str, list[str], Any, str]] = []
    if with_ret:
        panels.append(("recall@5 by question type", with_ret, lambda c: c["retrieval"], "recall@5"))
    modes = next((list(c["answers"]) for c in configs.values() if c["answers"]), [])
    for mode in modes:
        names = [n for n, c in configs.items() if c["answers"]]
        panels.append(
            (
                f"fact coverage by question type ({mode})",
                names,
                lambda c, m=mode: c["answers"][m],
                "fact_coverage",
            )
        )
    if panels:
        fig = _figure(len(panels), 3.2)
        for i, (title, names, sec, key) in enumerate(panels, start=1):
            ax = fig.add_subplot(len(panels), 1, i)
            types = sorted(
                {
                    t
                    for n in names
                    for t, v in sec(configs[n])["by_type"].items()
                    if v.get(key) is not None
                }
            )
            width = 0.8 / max(len(names), 1)
            for j, name in enumerate(names):
                vals = [sec(configs[name])["by_type"].get(t, {}).get(key) or 0.0 for t in types]
                ax.bar([x + j * width for x in range(len(types))], vals, width, label=name)
            ax.set_xticks([x + width * (len(names) - 1) / 2 for x in range(len(types))], types)
            ax.set(ylim=(0, 1.18), title=title, ylabel=key)
            ax.legend(fontsize="small", ncols=len(names), loc="upper center")
        fig.savefig(out / PLOT_BY_TYPE, dpi=110)
        written.append(PLOT_BY_TYPE)

    series: list[tuple[str, dict[str, list[float]]]] = []
    ret_lat: dict[str, list[float]] = {}
    ans_lat: dict[str, list[float]] = {}
    for rec in per_question:
        if rec.get("retrieval"):
            ret_lat.setdefault(rec["config"], []).append(rec["retrieval"]["latency_s"] * 1000)
        for mode, a in rec.get("answers", {}).items():
            if a.get("latency_s") is not None:
                ans_lat.setdefault(f"{rec['config']} / {mode}", []).append(a["latency_s"] * 1000)
    if ret_lat:
        series.append(("retrieval latency (ms)", ret_lat))
    if ans_lat:
        series.append(("answer latency (ms)", ans_lat))
    if series:
        fig = _figure(len(series), 3.2)
        for i, (title, data) in enumerate(series, start=1):
            ax = fig.add_subplot(len(series), 1, i)
            ax.hist(list(data.values()), bins=20, histtype="step", label=list(data), linewidth=1.5)
            ax.set(xlabel=title, ylabel="questions")
            ax.legend(fontsize="small")
        fig.savefig(out / PLOT_LATENCY, dpi=110)
        written.append(PLOT_LATENCY)
    return written


__all__ = ["markdown", "summary_lines", "write_all", "write_plots"]
