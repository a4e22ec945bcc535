"""Pure metric functions for the evaluation harness: no I/O, no models, no global state.

Every definition here is written out in eval/README.md; a change here is a change there.
Rankings are lists of paper ids, best first. A metric that is undefined for its input
(no gold papers, nothing cited, no abstentions) returns None, never 0 or 1, so averages
skip it instead of being pulled towards either end.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from rag_papers.evaluation.facts import (  # re-exported: metrics is the harness's one entry
    FactMatch,
    fact_coverage,
    match_fact,
)

KS = (1, 3, 5, 10)
NDCG_K = 10


# -- ranking ----------------------------------------------------------------------------
def break_ties(
    ranked: Sequence[str], scores: Sequence[float] | None, gold: Iterable[str]
) -> list[str]:
    """Reorder papers with equal scores so gold papers come last in their tie group.

    Why: fused rankings tie often (a paper ranked 3rd by BM25 only and one ranked 3rd by
    the dense retriever only get the same RRF score), and the retriever's order inside a
    tie is arbitrary. Placing gold last (pessimistic) means no metric rewards luck.
    Duplicate ids keep their first position.
    """
    ranked = list(dict.fromkeys(ranked))
    if scores is None:
        return ranked
    if len(scores) < len(ranked):
        raise ValueError(f"{len(ranked)} ranked ids but only {len(scores)} scores")
    gold = set(gold)
    out: list[str] = []
    i = 0
    while i < len(ranked):
        j = i
        key = round(float(scores[i]), 12)
        while j + 1 < len(ranked) and round(float(scores[j + 1]), 12) == key:
            j += 1
        group = ranked[i : j + 1]
        out.extend([p for p in group if p not in gold] + [p for p in group if p in gold])
        i = j + 1
    return out


def _gold_set(gold: Iterable[str]) -> set[str]:
    return {g for g in gold if g}


def hit_at_k(ranked: Sequence[str], gold: Iterable[str], k: int) -> float | None:
    """1.0 when any gold paper is in the top k, else 0.0; None without gold papers."""
    g = _gold_set(gold)
    if not g:
        return None
    return 1.0 if g & set(list(dict.fromkeys(ranked))[:k]) else 0.0


def recall_at_k(ranked: Sequence[str], gold: Iterable[str], k: int) -> float | None:
    """Share of the gold papers found in the top k; None without gold papers."""
    g = _gold_set(gold)
    if not g:
        return None
    return len(g & set(list(dict.fromkeys(ranked))[:k])) / len(g)


def reciprocal_rank(ranked: Sequence[str], gold: Iterable[str]) -> float | None:
    """1 / rank of the first gold paper (0.0 when none is retrieved); None without gold."""
    g = _gold_set(gold)
    if not g:
        return None
    for rank, pid in enumerate(dict.fromkeys(ranked), start=1):
        if pid in g:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[str], gold: Iterable[str], k: int = NDCG_K) -> float | None:
    """Binary-relevance nDCG@k: DCG = sum over gold papers at rank r <= k of 1/log2(r+1),
    divided by the DCG of an ideal ranking with min(|gold|, k) gold papers on top."""
    g = _gold_set(gold)
    if not g:
        return None
    dcg = sum(
        1.0 / math.log2(r + 1)
        for r, pid in enumerate(list(dict.fromkeys(ranked))[:k], 1)
        if pid in g
    )
    ideal = sum(1.0 / math.log2(r + 1) for r in range(1, min(len(g), k) + 1))
    return dcg / ideal


def retrieval_metrics(
    ranked: Sequence[str], gold: Iterable[str], ks: Sequence[int] = KS
) -> dict[str, float | None]:
    """hit@k and recall@k for each k, MRR and nDCG@10 of one question."""
    gold = list(gold)
    out: dict[str, float | None] = {}
    for k in ks:
        out[f"hit@{k}"] = hit_at_k(ranked, gold, k)
    for k in ks:
        out[f"recall@{k}"] = recall_at_k(ranked, gold, k)
    out["mrr"] = reciprocal_rank(ranked, gold)
    out[f"ndcg@{NDCG_K}"] = ndcg_at_k(ranked, gold, NDCG_K)
    return out


def gold_ranks(ranked: Sequence[str], gold: Iterable[str]) -> dict[str, int | None]:
    """Each gold paper's 1-based rank in the list, None when it was not retrieved."""
    pos = {pid: r for r, pid in enumerate(dict.fromkeys(ranked), start=1)}
    return {g: pos.get(g) for g in gold}


# -- aggregation ------------------------------------------------------------------------
def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the defined values; None when there are none."""
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation between ranks (numpy's default)."""
    vals = sorted(values)
    if not vals:
        return None
    pos = (len(vals) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return vals[lo] + (vals[hi] - vals[lo]) * (pos - lo)


# -- abstention -------------------------------------------------------------------------
def abstention_prf(
    abstained: Sequence[bool], answerable: Sequence[bool]
) -> dict[str, float | None]:
    """Precision, recall and F1 of abstaining, with "should abstain" (unanswerable) as positive.

    precision = abstentions on unanswerable questions / all abstentions (None if none);
    recall = abstentions on unanswerable questions / unanswerable questions (None if none);
    F1 = harmonic mean (None when either is None; 0.0 when both are 0).
    """
    if len(abstained) != len(answerable):
        raise ValueError("abstained and answerable must have the same length")
    tp = sum(1 for a, ok in zip(abstained, answerable, strict=False) if a and not ok)
    predicted = sum(1 for a in abstained if a)
    positives = sum(1 for ok in answerable if not ok)
    precision = tp / predicted if predicted else None
    recall = tp / positives if positives else None
    if precision is None or recall is None:
        f1 = None
    elif precision + recall == 0:
        f1 = 0.0
    else:
        f1 = 2 * precision * recall / (precision + recall)
    return {"abstention_precision": precision, "abstention_recall": recall, "abstention_f1": f1}


def answer_rate(abstained: Sequence[bool], answerable: Sequence[bool]) -> float | None:
    """Share of answerable questions that got an answer rather than an abstention."""
    answered = [not a for a, ok in zip(abstained, answerable, strict=False) if ok]
    return sum(answered) / len(answered) if answered else None


# -- citations --------------------------------------------------------------------------
def citation_validity(cited: Sequence[int], n_sources: int) -> float | None:
    """Share of the [n] markers an answer wrote that name a source it was given (1..n_sources).

    Pass every marker the model wrote, including ones the pipeline later dropped.
    None when the answer cites nothing.
    """
    if not cited:
        return None
    return sum(1 for n in cited if 1 <= n <= n_sources) / len(cited)


def citation_precision(cited_papers: Iterable[str], gold: Iterable[str]) -> float | None:
    """Share of the distinct papers an answer cites that are gold; None when it cites none."""
    c = set(cited_papers)
    if not c:
        return None
    return len(c & set(gold)) / len(c)


def citation_recall(cited_papers: Iterable[str], gold: Iterable[str]) -> float | None:
    """Share of the gold papers the answer cites; None without gold papers."""
    g = set(gold)
    if not g:
        return None
    return len(g & set(cited_papers)) / len(g)


# -- cost -------------------------------------------------------------------------------
def cost_usd(
    prompt_tokens: int, completion_tokens: int, price: tuple[float, float] | None
) -> float | None:
    """Dollars for one call at (input, output) USD per million tokens; None without a price."""
    if price is None:
        return None
    return prompt_tokens * price[0] / 1e6 + completion_tokens * price[1] / 1e6


# -- summaries --------------------------------------------------------------------------
RETRIEVAL_KEYS = tuple(
    [f"hit@{k}" for k in KS] + [f"recall@{k}" for k in KS] + ["mrr", f"ndcg@{NDCG_K}"]
)
LOWER_IS_BETTER = frozenset(
    {
        "latency_p50_s",
        "latency_p95_s",
        "ttft_p50_s",
        "tokens_prompt",
        "tokens_completion",
        "cost_usd",
    }
)
_UNDEFINED = {
    "answer_rate": "undefined: no answerable question",
    "abstention_precision": "undefined: no answer abstained",
    "abstention_recall": "undefined: no unanswerable question",
    "abstention_f1": "undefined: abstention precision or recall is undefined",
    "citation_validity": "undefined: no answer cited a source",
    "citation_precision": "undefined: no answered question with gold papers cited anything",
    "citation_recall": "undefined: no answered question with gold papers",
    "fact_coverage": "undefined: no answerable question with answer_facts",
    "fact_coverage_answered": "undefined: no answered question with answer_facts",
    "faithfulness": "not measured: no answer to judge",
    "citation_support": "not measured: no cited sentence to judge, or no judge reply could be read",
    "cost_usd": "not measured: no price for the answer model in Settings.prices",
    "latency_p50_s": "undefined: no answers",
    "latency_p95_s": "undefined: no answers",
    "ttft_p50_s": "undefined: no answers",
}


def summarize_retrieval(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Means of per-question retrieval metrics; rows without metrics (no gold) count only for latency.

    Each row: {"metrics": {...} | None, "latency_s": float}.
    """
    scored = [r["metrics"] for r in rows if r.get("metrics") is not None]
    out: dict[str, Any] = {"n": len(scored)}
    for key in RETRIEVAL_KEYS:
        out[key] = mean(m.get(key) for m in scored)
    latencies = [r["latency_s"] for r in rows if r.get("latency_s") is not None]
    out["latency_p50_s"] = percentile(latencies, 50)
    out["latency_p95_s"] = percentile(latencies, 95)
    return out


def summarize_answers(
    rows: Sequence[dict[str, Any]], *, not_judged: str | None = None
) -> dict[str, Any]:
    """Answer metrics over a group of questions; None values come with a reason in "not_measured".

    Each row: type, answerable, has_gold, abstained, error, citation_validity, citation_precision,
    citation_recall, fact_coverage, latency_s, ttft_s, tokens_prompt, tokens_completion, cost_usd,
    faithfulness, citation_support. Rows with an error count only in n_errors.
    """
    ok = [r for r in rows if not r.get("error")]
    answered = [r for r in ok if not r["abstained"]]
    with_gold = [r for r in answered if r["answerable"] and r["has_gold"]]
    with_facts = [r for r in ok if r["answerable"] and r.get("fact_coverage") is not None]
    out: dict[str, Any] = {
        "n": len(ok),
        "n_answerable": sum(1 for r in ok if r["answerable"]),
        "n_unanswerable": sum(1 for r in ok if not r["answerable"]),
        "n_errors": len(rows) - len(ok),
        "answer_rate": answer_rate([r["abstained"] for r in ok], [r["answerable"] for r in ok]),
    }
    out.update(abstention_prf([r["abstained"] for r in ok], [r["answerable"] for r in ok]))
    out["citation_validity"] = mean(r.get("citation_validity") for r in answered)
    out["citation_precision"] = mean(r.get("citation_precision") for r in with_gold)
    out["citation_recall"] = mean(r.get("citation_recall") for r in with_gold)
    out["fact_coverage"] = mean(r["fact_coverage"] for r in with_facts)
    out["fact_coverage_answered"] = mean(
        r["fact_coverage"] for r in with_facts if not r["abstained"]
    )
    out["faithfulness"] = mean(r.get("faithfulness") for r in answered)
    out["citation_support"] = mean(r.get("citation_support") for r in answered)
    latencies = [r["latency_s"] for r in ok if r.get("latency_s") is not None]
    out["latency_p50_s"] = percentile(latencies, 50)
    out["latency_p95_s"] = percentile(latencies, 95)
    out["ttft_p50_s"] = percentile([r["ttft_s"] for r in ok if r.get("ttft_s") is not None], 50)
    out["tokens_prompt"] = sum(int(r.get("tokens_prompt") or 0) for r in ok)
    out["tokens_completion"] = sum(int(r.get("tokens_completion") or 0) for r in ok)
    costs = [r.get("cost_usd") for r in ok]
    out["cost_usd"] = None if any(c is None for c in costs) else sum(costs)
    reasons = {}
    for key, value in out.items():
        if value is None:
            reasons[key] = _UNDEFINED.get(key, "undefined")
            if key in ("faithfulness", "citation_support"):
                if not_judged:
                    reasons[key] = not_judged
                elif answered and key == "faithfulness":
                    reasons[key] = (
                        "not measured: the judge's replies could not be read (see per_question.jsonl)"
                    )
    out["not_measured"] = reasons
    return out


def compare_to_baselines(
    values: dict[str, Any], baselines: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """For each numeric metric: the best baseline's value and this configuration's difference to it.

    "Best" is the highest value, or the lowest for latency, tokens and cost.
    """
    out: dict[str, Any] = {}
    for key, value in values.items():
        if (
            not isinstance(value, (int, float))
            or isinstance(value, bool)
            or key == "n"
            or key.startswith("n_")
        ):
            continue
        candidates = [
            (name, theirs)
            for name, b in baselines.items()
            if isinstance(theirs := b.get(key), (int, float))
        ]
        if not candidates:
            continue
        pick = min if key in LOWER_IS_BETTER else max
        name, best = pick(candidates, key=lambda c: c[1])
        out[key] = {"baseline": name, "baseline_value": best, "delta": value - best}
    return out


__all__ = [
    "KS",
    "NDCG_K",
    "FactMatch",
    "abstention_prf",
    "answer_rate",
    "break_ties",
    "citation_precision",
    "citation_recall",
    "citation_validity",
    "compare_to_baselines",
    "cost_usd",
    "fact_coverage",
    "gold_ranks",
    "hit_at_k",
    "match_fact",
    "mean",
    "ndcg_at_k",
    "percentile",
    "recall_at_k",
    "reciprocal_rank",
    "retrieval_metrics",
    "summarize_answers",
    "summarize_retrieval",
]
