"""The LLM judge of the evaluation harness: faithfulness and citation support, and token counts.

Kept apart from the run so the prompts (documented in eval/README.md) live next to the code
that parses the replies. Token counting sits here too: the judge's bill and the answer
pipeline's bill (rag_papers.evaluation.run.run_answer) are counted the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rag_papers import _offline  # noqa: F401
from rag_papers.providers.tokens import chat_tokens, count_tokens

if TYPE_CHECKING:
    from rag_papers.providers.llm import ChatLLM

# Judge prompts. Short on purpose; they ask for JSON (statements) or yes/no (citations).
JUDGE_STATEMENTS = """Break the answer into short, self-contained factual statements (resolve pronouns; \
drop citation markers like [1]). Reply with JSON only: {{"statements": ["...", "..."]}}

Question: {question}
Answer: {answer}"""
JUDGE_VERDICTS = """Context:
{context}

For each numbered statement, decide whether it can be inferred from the context above alone.
Reply with JSON only: {{"verdicts": [{{"statement": 1, "supported": true}}, ...]}}

Statements:
{statements}"""
JUDGE_CITATION = """Sources:
{sources}

Claim: {claim}

Is the claim fully supported by the sources above? Reply with one word: yes or no."""


class Judge:
    """Faithfulness (as RAGAS defines it) and citation support (as ALCE does), asked of an LLM."""

    def __init__(self, llm: ChatLLM) -> None:
        self.llm = llm
        self.model = str(getattr(llm, "model", "judge"))
        self.prompt_tokens = self.completion_tokens = 0

    def _ask(self, prompt: str) -> str:
        messages = [{"role": "user", "content": prompt}]
        reply = self.llm.complete(messages)
        self.prompt_tokens += chat_tokens(messages, self.model)
        self.completion_tokens += count_tokens(reply.text, self.model)
        return reply.text

    def faithfulness(self, question: str, answer: str, contexts: Sequence[str]) -> dict[str, Any]:
        """Supported statements / statements, each statement checked against the contexts."""
        from rag_papers.qa.citations import strip_markers

        text = re.sub(r"\s+([.,;:])", r"\1", strip_markers(answer))
        raw = _json_object(self._ask(JUDGE_STATEMENTS.format(question=question, answer=text)))
        statements = [
            s for s in (raw or {}).get("statements", []) if isinstance(s, str) and s.strip()
        ]
        if not statements:
            return {"faithfulness": None, "statements": [], "note": "judge gave no statements"}
        numbered = "\n".join(f"{i}. {s}" for i, s in enumerate(statements, start=1))
        context = "\n\n".join(contexts)
        raw = _json_object(self._ask(JUDGE_VERDICTS.format(context=context, statements=numbered)))
        verdicts: dict[int, bool] = {}
        for v in (raw or {}).get("verdicts", []):
            if isinstance(v, dict) and isinstance(v.get("supported"), bool):
                try:
                    verdicts[int(v.get("statement", ""))] = v["supported"]
                except (TypeError, ValueError):
                    continue
        rows: list[dict[str, Any]] = [
            {"statement": s, "supported": verdicts.get(i)}
            for i, s in enumerate(statements, start=1)
        ]
        judged = [r["supported"] for r in rows if r["supported"] is not None]
        score = sum(judged) / len(judged) if judged else None
        return {
            "faithfulness": score,
            "statements": rows,
            "note": None if judged else "judge gave no verdicts",
        }

    def citation_support(self, answer: str, contexts: Sequence[str]) -> dict[str, Any]:
        """Share of cited sentences that their cited sources, together, support."""
        from rag_papers.qa.citations import cited_numbers, strip_markers
        from rag_papers.qa.evidence import split_sentences

        rows: list[dict[str, Any]] = []
        for sentence in split_sentences(answer):
            nums = [n for n in dict.fromkeys(cited_numbers(sentence)) if 1 <= n <= len(contexts)]
            if not nums:
                continue
            claim = re.sub(r"\s+([.,;:])", r"\1", strip_markers(sentence)).strip()
            sources = "\n\n".join(f"[{n}] {contexts[n - 1]}" for n in nums)
            word = self._ask(JUDGE_CITATION.format(sources=sources, claim=claim)).strip().lower()
            verdict = True if word.startswith("yes") else False if word.startswith("no") else None
            rows.append({"sentence": claim, "sources": nums, "supported": verdict})
        judged = [r["supported"] for r in rows if r["supported"] is not None]
        return {
            "citation_support": sum(judged) / len(judged) if judged else None,
            "cited_sentences": rows,
        }


def _json_object(text: str) -> dict[str, Any] | None:
    m = re.search(r"\{.*\}", text, re.DOTALL)
    if not m:
        return None
    try:
        value = json.loads(m.group(0))
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


__all__ = [
    "JUDGE_CITATION",
    "JUDGE_STATEMENTS",
    "JUDGE_VERDICTS",
    "Judge",
]
