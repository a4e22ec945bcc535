"""The quote shown for a citation: the sentence that best supports a sentence citing it; on a
tie (an extractive answer's quoted sentences each support themselves fully), the one supporting
the first sentence that cites the paper."""

from __future__ import annotations

import re

from rag_papers.qa.citations import best_quote
from rag_papers.qa.evidence import Support, split_sentences
from rag_papers.types import RetrievedPaper

ABSTRACT = (
    "We present TinyLlama, a 1.1B model pretrained on 1 trillion tokens. "
    "Building on Llama 2, TinyLlama uses FlashAttention. "
    "TinyLlama beats Pythia-1.4B."
)


class SelfSupport:
    """Each sentence supports a claim by how many of the claim's words it shares, so a quoted
    claim is fully supported by itself, as in an extractive answer; `bonus` raises one claim."""

    def __init__(self, bonus: dict[str, float] | None = None) -> None:
        self.bonus = bonus or {}

    def support(self, claim: str, paper: RetrievedPaper) -> list[Support]:
        words = set(re.findall(r"\w+", claim.lower()))
        out = []
        for i, s in enumerate(split_sentences(paper.abstract)):
            shared = len(words & set(re.findall(r"\w+", s.lower()))) / len(words)
            extra = self.bonus.get(s, 0.0) if shared == 1.0 else 0.0
            out.append(Support(s, i, shared + extra, shared + extra))
        return sorted(out, key=lambda x: -x.score)


PAPER = RetrievedPaper("p1", "TinyLlama", ABSTRACT, 1.0)
FIRST, SECOND, _ = split_sentences(ABSTRACT)


def test_on_a_tie_the_quote_supports_the_first_sentence_citing_the_paper() -> None:
    claims = [FIRST.rstrip("."), SECOND.rstrip(".")]
    assert best_quote(claims, PAPER, SelfSupport()) == FIRST  # type: ignore[arg-type]
    tiny_edge = SelfSupport({SECOND: 0.01})  # float noise must not move the quote
    assert best_quote(claims, PAPER, tiny_edge) == FIRST  # type: ignore[arg-type]


def test_a_later_claim_clearly_better_supported_gives_the_quote() -> None:
    claims = ["TinyLlama something else entirely", SECOND.rstrip(".")]
    assert best_quote(claims, PAPER, SelfSupport()) == SECOND  # type: ignore[arg-type]
