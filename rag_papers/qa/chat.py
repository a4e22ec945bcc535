"""A conversation: follow-up questions are made standalone before retrieval.

With an LLM the rewrite is the model's (prompts/condense.md). Offline, a rule does it: a
follow-up that leans on the last turn (a pronoun such as "its", a "what about ...", or a
very short question) gets the entity the conversation is about appended (the names in the
previous question, or the paper its answer cited first), which steers both BM25 and dense
retrieval back to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag_papers.qa import templates
from rag_papers.qa.pipeline import Pipeline
from rag_papers.qa.ports import PaperRetriever
from rag_papers.qa.retrieve import Filters
from rag_papers.qa.shape import ABOUT
from rag_papers.qa.validate import validate_question
from rag_papers.settings import Settings
from rag_papers.types import Answer

if TYPE_CHECKING:
    from rag_papers.providers.llm import ChatLLM

_FOLLOW_UP = re.compile(
    r"^(and|also|what about|how about|and what|why|so|then)\b|"
    r"\b(it|its|it's|they|them|their|this|that|these|those|the paper|the model|the method|same)\b",
    re.IGNORECASE,
)
HISTORY_TURNS = 3


@dataclass
class Turn:
    question: str
    standalone: str
    answer: Answer


class Assistant:
    """Keeps one conversation. Not shared between users: the UI makes one per session."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        llm: ChatLLM | None = None,
        retriever: PaperRetriever | None = None,
        pipeline: Pipeline | None = None,
    ) -> None:
        self.pipeline = pipeline or Pipeline(settings, retriever=retriever, llm=llm)
        self.turns: list[Turn] = []

    @property
    def settings(self) -> Settings:
        return self.pipeline.settings

    def reset(self) -> None:
        self.turns.clear()

    def history_text(self) -> str:
        lines = []
        for turn in self.turns[-HISTORY_TURNS:]:
            lines.append(f"User: {turn.question}")
            lines.append(f"Assistant: {turn.answer.text}")
        return "\n".join(lines)

    def standalone(self, question: str, mode: str | None = None) -> str:
        """The follow-up rewritten so it can be understood (and retrieved) on its own."""
        question = validate_question(question, self.settings)
        if not self.turns:
            return question
        if self.pipeline.resolve_mode(mode) == "llm":
            reply = self.pipeline.llm().complete(
                [
                    {
                        "role": "user",
                        "content": templates.render(
                            "condense", history=self.history_text(), question=question
                        ),
                    }
                ]
            )
            rewritten = " ".join(reply.text.split())
            return rewritten or question
        return rule_rewrite(question, self.turns[-1])

    def stream(
        self,
        question: str,
        *,
        filters: Filters | None = None,
        k: int | None = None,
        mode: str | None = None,
    ) -> Iterator[str | Answer]:
        standalone = self.standalone(question, mode)
        history = self.history_text()
        for item in self.pipeline.stream(
            standalone, filters=filters, k=k, mode=mode, history=history
        ):
            yield self._record(question, standalone, item) if isinstance(item, Answer) else item

    def ask(
        self,
        question: str,
        *,
        filters: Filters | None = None,
        k: int | None = None,
        mode: str | None = None,
    ) -> Answer:
        standalone = self.standalone(question, mode)
        result = self.pipeline.run(
            standalone, filters=filters, k=k, mode=mode, history=self.history_text()
        )
        return self._record(question, standalone, result)

    def _record(self, question: str, standalone: str, result: Answer) -> Answer:
        result.question = question
        result.standalone_question = standalone
        self.turns.append(Turn(question, standalone, result))
        return result


def rule_rewrite(question: str, last: Turn) -> str:
    """Offline rewrite: attach what the conversation is about when the question leans on it.

    What it is about is the entity of the previous question: the names the user wrote there
    (UL2, Mixture-of-Denoisers), else what that question was itself about (a chain of
    follow-ups keeps its subject), else the title of the paper the last answer cited first.
    Not every title of the last answer: a paper quoted in passing would steer retrieval away.
    """
    if not (_FOLLOW_UP.search(question) or len(question.split()) <= 4):
        return question
    about = conversation_entity(last)
    return f"{question} {ABOUT}{about})" if about else question


def conversation_entity(last: Turn) -> str:
    i = last.standalone.rfind(ABOUT)
    if i >= 0 and not entity_names(last.question):  # a chain of follow-ups keeps its subject
        return last.standalone[i + len(ABOUT) :].rstrip(")").strip()
    parts = entity_names(last.question)
    if last.answer.citations:  # the paper the last answer is about (its first citation)
        parts.append(last.answer.citations[0].title)
    return "; ".join(parts)


_NAME = re.compile(r"[A-Za-z0-9][\w.]*(?:-[\w.]+)*")


def entity_names(text: str) -> list[str]:
    """Names in a question: words with two capitals or a capital and a digit (UL2, GPT-3,
    Mixture-of-Denoisers, LXMERT), possessives dropped."""
    out: list[str] = []
    for word in _NAME.findall(text):
        word = re.sub(r"'s$", "", word).rstrip(".")
        caps = sum(ch.isupper() for ch in word)
        if caps >= 2 or (caps >= 1 and any(ch.isdigit() for ch in word)):
            out.append(word)
    return list(dict.fromkeys(out))
