"""Fit the extractive answerer's abstention model (rag_papers/qa/abstain.py) on question sets.

    python eval/fit_abstention.py --set /tmp/sample=eval/dev_questions.jsonl \\
        --set /tmp/both=eval/dev_questions_2024.jsonl [--set HOME=FILE ...] [--features out.jsonl]

Each --set pairs an index home with a question file it can answer. Every question that reaches
the weighing step (no hard reason to abstain: a name the collection never uses, no number for
the quantity asked, support under `abstain_threshold`) gives one row: the model's signals and
the label unanswerable = 1. The script fits an L2-regularised logistic regression on
standardised features, prints the weights in the features' own units (what abstain.py holds),
and checks them by leaving one question file out at a time: how many unanswerable questions
are abstained on and how many answerable ones are refused, against the model in abstain.py.
Never pass an unspent held-out file: numbers fitted on a set do not count on it.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path

import numpy as np

from rag_papers.qa.abstain import ABSTAIN_PROBABILITY, Signals, unanswered_probability


def collect(home: str, path: str) -> list[dict[str, object]]:
    """The signals of every question of the file that reaches the weighing step."""
    from rag_papers import Settings
    from rag_papers.evaluation.config import load_questions
    from rag_papers.qa.pipeline import Pipeline

    pipeline = Pipeline(Settings(home=home, mode="extractive"))
    composer = pipeline.composer
    rows = []
    for q in load_questions(path):
        contexts = pipeline.retriever.retrieve(q.question, k=pipeline.settings.k)
        papers = composer.analyse(q.question, contexts) if contexts else []
        if not papers or composer.answerability.hard_reason(q.question, papers):
            continue
        if composer.answerability.names_its_paper(q.question, papers):
            continue
        if composer.answerability.floor_reason(q.question, papers):
            continue
        signals = composer.answerability.signals(q.question, papers)
        rows.append(
            {
                "file": Path(path).name,
                "id": q.id,
                "unanswerable": int(not q.answerable),
                "signals": signals.__dict__,
                "features": signals.features(),
            }
        )
    return rows


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 4000) -> np.ndarray:
    """Logistic regression by gradient descent; the last weight is the bias."""
    xb = np.c_[x, np.ones(len(x))]
    w = np.zeros(xb.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(xb @ w)))
        grad = xb.T @ (p - y) / len(y) + l2 * np.r_[w[:-1], 0.0] / len(y)
        w -= 0.5 * grad
    return w


def in_own_units(w: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> tuple[np.ndarray, float]:
    """Weights for standardised features -> weights and bias for the raw features."""
    raw = w[:-1] / sd
    return raw, float(w[-1] - (raw * mean).sum())


def counts(prob: np.ndarray, y: np.ndarray, cut: float) -> str:
    abstain = prob >= cut
    right = int((abstain & (y == 1)).sum())
    wrong = int((abstain & (y == 0)).sum())
    return f"abstains on {right}/{int(y.sum())} unanswerable, refuses {wrong}/{int((y == 0).sum())} answerable"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", required=True, metavar="HOME=FILE")
    parser.add_argument("--features", type=Path, help="also write the rows here (JSON lines)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    rows = []
    for spec in args.set:
        home, _, path = spec.partition("=")
        rows += collect(home, path)
    if args.features:
        args.features.write_text("".join(json.dumps(r) + "\n" for r in rows))
    names = list(rows[0]["features"])  # type: ignore[call-overload]
    x = np.array([[r["features"][n] for n in names] for r in rows])  # type: ignore[index]
    y = np.array([r["unanswerable"] for r in rows], dtype=float)
    files = [r["file"] for r in rows]
    mean, sd = x.mean(0), x.std(0) + 1e-9
    z = (x - mean) / sd
    held = np.zeros(len(y))
    for name in sorted(set(files)):
        out = np.array([f == name for f in files])
        w = fit(z[~out], y[~out])
        held[out] = 1.0 / (1.0 + np.exp(-(np.c_[z[out], np.ones(out.sum())] @ w)))
    raw, bias = in_own_units(fit(z, y), mean, sd)
    current = np.array(
        [unanswered_probability(Signals(**r["signals"])) for r in rows]  # type: ignore[arg-type]
    )
    print(f"{len(rows)} questions reach the weighing step ({int(y.sum())} unanswerable)")
    print(
        "fitted:",
        {n: round(float(v), 2) for n, v in zip(names, raw, strict=True)},
        "bias",
        round(bias, 2),
    )
    print(f"abstain.py's model at {ABSTAIN_PROBABILITY}: {counts(current, y, ABSTAIN_PROBABILITY)}")
    for cut in (0.45, 0.5, 0.55, 0.6):
        print(f"leave one file out, cut {cut}: {counts(held, y, cut)}")
    if not math.isfinite(bias):
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
