"""Whether the retrieved papers answer a question: a small logistic model over five signals
computed offline from the question, the retrieval and the paper the answer would cite.

- coverage: the IDF-weighted share of the question's terms in that paper's title and abstract;
- dense: the best dense similarity of any retrieved paper to the question as a whole;
- the paper's rank in the dense list and in the BM25 list (log; a paper one list missed counts
  as rank MISSING_RANK). A paper found by its words alone, far down the dense list, matched a
  passing mention ("electricity" in a list of forecasting data sets), not the topic;
- whether the question asks for a list ("which papers ..."): the top paper of a list is one of
  several, so it covers less of the question even when the collection answers it.

The weights were fitted by `eval/fit_abstention.py` on the dev and spent held-out question sets
(unanswerable = 1), L2-regularised, and checked by leaving one question file out at a time. On
the twelve files of the dev sets and held-out v1 and v3-v6, 370 questions reach this step (43
unanswerable); left out, the model abstains on 29 of the 43 and refuses 6 of the 327 answerable
ones at the cut 0.5. The four signals without the list one: 24 and 5 at their best cut (0.55).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MISSING_RANK = 11  # a paper one retriever did not return ranks just below its top 10

# Fitted by eval/fit_abstention.py (features in their own units, not standardised).
WEIGHTS = {
    "coverage": -5.69,
    "dense": -9.37,
    "log_dense_rank": 1.53,
    "log_bm25_rank": 0.46,
    "is_list": -1.2,
}
BIAS = 4.91
# Abstain when the model's probability that the papers do not answer is at least this.
ABSTAIN_PROBABILITY = 0.5


@dataclass(frozen=True)
class Signals:
    """The evidence the abstention model reads, for one question."""

    coverage: float
    dense: float
    dense_rank: int | None
    bm25_rank: int | None
    is_list: bool = False

    def features(self) -> dict[str, float]:
        return {
            "coverage": self.coverage,
            "dense": self.dense,
            "log_dense_rank": math.log(self.dense_rank or MISSING_RANK),
            "log_bm25_rank": math.log(self.bm25_rank or MISSING_RANK),
            "is_list": float(self.is_list),
        }


def unanswered_probability(
    signals: Signals, weights: dict[str, float] = WEIGHTS, bias: float = BIAS
) -> float:
    """The model's probability that the retrieved papers do not answer the question."""
    z = bias + sum(weights[name] * value for name, value in signals.features().items())
    return 1.0 / (1.0 + math.exp(-z))


def ranks_with_fallback(
    dense_rank: int | None, bm25_rank: int | None, has_dense: bool, has_bm25: bool
) -> tuple[int | None, int | None]:
    """With one retriever only (the bm25 or dense baseline), its rank stands in for the other's:
    agreement cannot be judged, so it neither helps nor hurts."""
    if not has_dense:
        dense_rank = bm25_rank
    if not has_bm25:
        bm25_rank = dense_rank
    return dense_rank, bm25_rank


__all__ = [
    "ABSTAIN_PROBABILITY",
    "MISSING_RANK",
    "Signals",
    "ranks_with_fallback",
    "unanswered_probability",
]
