"""Scoring of an evaluation run: per-question records and the report's "configs" section.

Everything here is recomputed from the raw results on every run (cached or fresh), so a
metric can change without re-running retrieval, answers or the judge.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from rag_papers.evaluation import metrics

if TYPE_CHECKING:
    from rag_papers.evaluation.config import Question
    from rag_papers.evaluation.judge import Judge
    from rag_papers.evaluation.runner import Run

SCHEMA_VERSION = 1
NOT_JUDGED = "not measured: no judge LLM configured"


def score_answer(
    q: Question,
    gold: Sequence[str],
    raw: dict[str, Any],
    facts: dict[str, Any] | None,
    judged: dict[str, Any] | None,
    price: tuple[float, float] | None,
) -> dict[str, Any]:
    """Per-question answer metrics (the row metrics.summarize_answers aggregates)."""
    from rag_papers.qa.citations import cited_numbers

    cited_papers = [c["paper_id"] for c in raw["citations"]]
    answered_gold = q.answerable and bool(gold) and not raw["abstained"]
    coverage = None
    if q.answerable and q.answer_facts:
        matches = [metrics.FactMatch(**m) for m in (facts or {}).get("matches", [])]
        coverage = 0.0 if raw["abstained"] else metrics.fact_coverage(matches)
    is_llm = raw["mode"] != "extractive"
    cost = (
        metrics.cost_usd(raw["tokens"]["prompt"], raw["tokens"]["completion"], price)
        if is_llm
        else 0.0
    )
    return {
        "type": q.type,
        "answerable": q.answerable,
        "has_gold": bool(gold),
        "abstained": raw["abstained"],
        "error": None,
        "citation_validity": None
        if raw["abstained"]
        else metrics.citation_validity(cited_numbers(raw["draft"]), len(raw["contexts"])),
        "citation_precision": metrics.citation_precision(cited_papers, gold)
        if answered_gold
        else None,
        "citation_recall": metrics.citation_recall(cited_papers, gold) if answered_gold else None,
        "fact_coverage": coverage,
        "latency_s": raw["latency_s"],
        "ttft_s": raw.get("ttft_s"),
        "tokens_prompt": raw["tokens"]["prompt"],
        "tokens_completion": raw["tokens"]["completion"],
        "cost_usd": cost,
        "faithfulness": (judged or {}).get("faithfulness"),
        "citation_support": (judged or {}).get("citation_support"),
    }


def assemble(
    run: Run, answer_modes: Sequence[str], judge: Judge | None, mode: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per-question records and the report's "configs" section, scored from the raw results."""
    cfgs, questions = run.cfgs, run.questions
    retrieved, answers, facts, judged, errors = (
        run.retrieved,
        run.answers,
        run.fact_matches,
        run.judged,
        run.errors,
    )
    per_question: list[dict[str, Any]] = []
    ret_rows: dict[str, list[dict[str, Any]]] = {c.name: [] for c in cfgs}
    ans_rows: dict[tuple[str, str], list[dict[str, Any]]] = {
        (c.name, m): [] for c in cfgs for m in answer_modes
    }
    for cfg in cfgs:
        for q in questions:
            gold = run.gold(q, cfg)
            rec: dict[str, Any] = {
                "id": q.id,
                "config": cfg.name,
                "question": q.question,
                "type": q.type,
                "answerable": q.answerable,
                "gold": [
                    {"title": t, "paper_id": g} for t, g in zip(q.gold_titles, gold, strict=False)
                ],
                "retrieval": None,
                "answers": {},
            }
            raw = retrieved.get((q.id, cfg.name))
            if raw is not None:
                ids = [p["paper_id"] for p in raw["ranked"]]
                order = metrics.break_ties(ids, [p["score"] for p in raw["ranked"]], gold)
                m = metrics.retrieval_metrics(order, gold) if (q.answerable and gold) else None
                rec["retrieval"] = {
                    **raw,
                    "gold_ranks": metrics.gold_ranks(order, gold),
                    "metrics": m,
                }
                ret_rows[cfg.name].append(
                    {"type": q.type, "metrics": m, "latency_s": raw["latency_s"]}
                )
            for amode in answer_modes:
                key = (q.id, cfg.name, amode)
                if key in errors:
                    rec["answers"][amode] = {"error": errors[key]}
                    ans_rows[(cfg.name, amode)].append(
                        {"type": q.type, "answerable": q.answerable, "error": errors[key]}
                    )
                    continue
                raw_a = answers.get(key)
                if raw_a is None:
                    continue
                price = cfg.settings.prices.get(raw_a["model"])
                row = score_answer(q, gold, raw_a, facts.get(key), judged.get(key), price)
                ans_rows[(cfg.name, amode)].append(row)
                rec["answers"][amode] = {
                    **{k: v for k, v in raw_a.items() if k != "contexts"},
                    "contexts": [
                        {"paper_id": c["paper_id"], "title": c["title"]} for c in raw_a["contexts"]
                    ],
                    "facts": (facts.get(key) or {}).get("matches", []),
                    "judge": judged.get(key),
                    "metrics": {
                        k: v for k, v in row.items() if k not in ("type", "answerable", "error")
                    },
                }
            per_question.append(rec)

    not_judged = None if judge is not None else NOT_JUDGED
    configs: dict[str, Any] = {}
    for cfg in cfgs:
        entry: dict[str, Any] = {
            "method": cfg.method,
            "baseline": cfg.baseline,
            "overrides": cfg.overrides,
            "settings_hash": cfg.settings.settings_hash(),
            "config_hash": cfg.config_hash,
            "retrieval": None,
            "answers": None,
        }
        if mode in ("retrieval", "both"):
            rows = ret_rows[cfg.name]
            entry["retrieval"] = {
                "overall": metrics.summarize_retrieval(rows),
                "by_type": {
                    t: metrics.summarize_retrieval([r for r in rows if r["type"] == t])
                    for t in _types(rows)
                    if any(r["type"] == t and r["metrics"] for r in rows)
                },
            }
        if answer_modes:
            entry["answers"] = {}
            for amode in answer_modes:
                rows = ans_rows[(cfg.name, amode)]
                entry["answers"][amode] = {
                    "overall": metrics.summarize_answers(rows, not_judged=not_judged),
                    "by_type": {
                        t: metrics.summarize_answers(
                            [r for r in rows if r["type"] == t], not_judged=not_judged
                        )
                        for t in _types(rows)
                    },
                }
        configs[cfg.name] = entry
    baselines = [c.name for c in cfgs if c.baseline]
    for cfg in cfgs:
        if cfg.baseline:
            continue
        entry = configs[cfg.name]
        if entry["retrieval"]:
            entry["retrieval"]["vs_best_baseline"] = metrics.compare_to_baselines(
                entry["retrieval"]["overall"],
                {b: configs[b]["retrieval"]["overall"] for b in baselines},
            )
        for amode in answer_modes:
            entry["answers"][amode]["vs_best_baseline"] = metrics.compare_to_baselines(
                entry["answers"][amode]["overall"],
                {b: configs[b]["answers"][amode]["overall"] for b in baselines},
            )
    report = {
        "schema_version": SCHEMA_VERSION,
        "run": {},
        "baselines": baselines,
        "configs": configs,
        "metric_definitions": "eval/README.md",
    }
    return per_question, report


def _types(rows: Iterable[dict[str, Any]]) -> list[str]:
    return sorted({r["type"] for r in rows})


__all__ = ["NOT_JUDGED", "SCHEMA_VERSION", "score_answer"]
