"""Question -> retrieved abstracts -> answer with verified citations -> Answer.

Two modes share everything but generation:
- extractive: no LLM; the answer is the abstract sentences that best support the question,
  each followed by its citation (qa/compose.py). Deterministic and offline.
- llm: an OpenAI-compatible chat model writes the answer from numbered sources
  (qa/prompting.py); the code then checks every [n], attributes uncited sentences that one
  source clearly supports, and quotes each cited paper's best sentence (qa/citations.py).

`run`, `stream` and `arun` drive one step generator (`Pipeline.steps`): it yields text to
show and requests for the LLM, and returns the Answer; each driver only decides how the LLM
is called (whole, streamed or awaited).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rag_papers import _offline  # noqa: F401
from rag_papers.qa import citations as cites
from rag_papers.qa.citations import CANNOT_ANSWER
from rag_papers.qa.compose import Composer
from rag_papers.qa.expand import add_named_papers
from rag_papers.qa.ports import PaperRetriever
from rag_papers.qa.prompting import build_messages, estimate_usage
from rag_papers.qa.replies import (
    ReasoningFilter,
    normalize_citations,
    opens_in_prompt,
    strip_reasoning,
)
from rag_papers.qa.retrieve import Filters, Retriever
from rag_papers.qa.shape import ABOUT, question_shape, strip_context
from rag_papers.qa.support import Evidence
from rag_papers.qa.validate import MODES, validate_k, validate_mode, validate_question
from rag_papers.settings import Settings
from rag_papers.types import Answer, RetrievedPaper

if TYPE_CHECKING:
    from rag_papers.providers.llm import ChatLLM  # imports openai: only when an LLM is used


@dataclass
class Draft:
    """What generation produced before citations are checked."""

    text: str
    model: str
    usage: dict[str, int] = field(default_factory=dict)


@dataclass
class LLMCall:
    """A step's request to the driver: answer these messages and send back a Draft."""

    messages: list[dict[str, str]]
    n_sources: int = 0  # the numbered sources in the messages: [1]..[n_sources]


Step = Generator["str | LLMCall", "Draft | None", Answer]


def default_evidence(settings: Settings, retriever: PaperRetriever | None) -> Evidence:
    """Evidence built from the settings' store; the hybrid retriever's model and BM25 index are
    shared with it when that is the retriever in use, so nothing loads twice."""
    hybrid = retriever if isinstance(retriever, Retriever) else Retriever(settings)
    return Evidence(lambda: hybrid.embed_model, hybrid.term_stats())


class Pipeline:
    """Retriever + optional LLM + evidence. Build once, answer many questions."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        retriever: PaperRetriever | None = None,
        llm: ChatLLM | None = None,
        evidence: Evidence | None = None,
    ):
        self.settings = settings or Settings()
        self.retriever: PaperRetriever = retriever or Retriever(self.settings)
        self._llm = llm
        self.reasons_unopened = False  # the LLM's replies start with a lone </think> preamble
        self.evidence = evidence or default_evidence(self.settings, self.retriever)
        self.composer = Composer(self.evidence, self.settings.abstain_threshold)

    # -- parts --------------------------------------------------------------------------
    def llm(self) -> ChatLLM:
        if self._llm is None:
            from rag_papers.providers.registry import make_llm

            self._llm = make_llm(self.settings)
        return self._llm

    def resolve_mode(self, mode: str | None) -> str:
        mode = validate_mode(mode or self.settings.mode)
        if mode == "auto":
            return (
                "llm"
                if (self._llm is not None or self.settings.resolved_mode() == "llm")
                else "extractive"
            )
        return mode

    def messages(
        self, question: str, contexts: list[RetrievedPaper], history: str = ""
    ) -> list[dict[str, str]]:
        return build_messages(
            question,
            contexts,
            history=history,
            budget=self.settings.context_tokens,
            model=self.settings.llm_model,
        )

    # -- the one flow -------------------------------------------------------------------
    def steps(
        self,
        question: str,
        *,
        filters: Filters | None,
        k: int | None,
        mode: str | None,
        history: str,
        streaming: bool,
    ) -> Step:
        """Validate, retrieve, generate (yielding text, or an LLMCall for the driver), check."""
        question = validate_question(question, self.settings)
        k = validate_k(self.settings.k if k is None else k)
        mode = self.resolve_mode(mode)
        t0 = time.perf_counter()
        contexts = self.retriever.retrieve(question, k=k, filters=filters)
        if question_shape(question) == "list":  # "Compare how Medusa and EAGLE …": both
            contexts = add_named_papers(
                question,
                contexts,
                self.composer.names.rare_words(strip_context(question)),
                lambda query, n: self.retriever.retrieve(query, k=n, filters=filters),
            )
        t_retr = time.perf_counter() - t0
        t0 = time.perf_counter()
        if mode == "extractive":
            draft = Draft(self.composer.compose(question, contexts), "extractive")
            if streaming:  # the text as finish() will number it: 1..n by first appearance
                yield from re.findall(r"\S+\s*", cites.renumber(draft.text.strip()))
        else:
            reply = yield LLMCall(self.messages(question, contexts, history), len(contexts))
            assert reply is not None, "the driver must send the LLM's reply back"
            draft = reply
        t_gen = time.perf_counter() - t0
        return self.note_filters(
            self.finish(question, mode, contexts, draft, t_retr, t_gen), filters
        )

    def note_filters(self, answer: Answer, filters: Filters | None) -> Answer:
        """Record on the answer how many undated papers the date filter left out."""
        count = getattr(self.retriever, "undated_excluded", None)
        answer.undated_excluded = count(filters) if callable(count) and filters else 0
        return answer

    def run(
        self,
        question: str,
        *,
        filters: Filters | None = None,
        k: int | None = None,
        mode: str | None = None,
        history: str = "",
    ) -> Answer:
        gen = self.steps(
            question, filters=filters, k=k, mode=mode, history=history, streaming=False
        )
        reply: Draft | None = None
        while True:
            done, item = _advance(gen, reply)
            if done:
                assert isinstance(item, Answer)
                return item
            reply = self._complete(item) if isinstance(item, LLMCall) else None

    def stream(
        self,
        question: str,
        *,
        filters: Filters | None = None,
        k: int | None = None,
        mode: str | None = None,
        history: str = "",
    ) -> Iterator[str | Answer]:
        """Yield text as it is produced, then the finished Answer."""
        gen = self.steps(question, filters=filters, k=k, mode=mode, history=history, streaming=True)
        reply: Draft | None = None
        while True:
            done, item = _advance(gen, reply)
            if done:
                assert isinstance(item, Answer)
                yield item
                return
            reply = None
            if isinstance(item, LLMCall):
                reply = yield from self._stream_llm(item)
            else:
                yield item

    async def arun(
        self,
        question: str,
        *,
        filters: Filters | None = None,
        k: int | None = None,
        mode: str | None = None,
        history: str = "",
    ) -> Answer:
        """The async driver: the CPU-bound steps run in a worker thread, the LLM is awaited."""
        gen = self.steps(
            question, filters=filters, k=k, mode=mode, history=history, streaming=False
        )
        reply: Draft | None = None
        while True:
            done, item = await asyncio.to_thread(_advance, gen, reply)
            if done:
                assert isinstance(item, Answer)
                return item
            reply = None
            if isinstance(item, LLMCall):
                got = await self.llm().acomplete(item.messages)
                reply = Draft(got.text, got.model, dict(got.usage))

    # -- LLM calls ----------------------------------------------------------------------
    def _complete(self, call: LLMCall) -> Draft:
        got = self.llm().complete(call.messages)
        return Draft(got.text, got.model, dict(got.usage))

    def _stream_llm(self, call: LLMCall) -> Generator[str, None, Draft]:
        llm = self.llm()
        parts: list[str] = []
        reply = None
        # reasoning models' <think>…</think> never reaches the reader; once the model has
        # been seen to start replies with reasoning the prompt opened, neither does that
        shown = ReasoningFilter(hold_opening=self.reasons_unopened)
        numbers = cites.StreamRenumber(call.n_sources)  # the numbers the answer will show
        for item in llm.stream(call.messages):  # text deltas, then the reply with its usage
            if not isinstance(item, str):
                reply = item
                continue
            parts.append(item)
            visible = numbers.feed(shown.feed(item))
            if visible:
                yield visible
        rest = numbers.feed(shown.flush()) + numbers.flush()
        if rest:
            yield rest
        text = "".join(parts)
        self.reasons_unopened = self.reasons_unopened or opens_in_prompt(text)
        usage = dict(reply.usage) if reply is not None else {}
        if not usage.get("total_tokens"):  # many local servers send no usage when streaming
            usage = estimate_usage(call.messages, text, self.settings.llm_model)
        return Draft(text, getattr(llm, "model", self.settings.llm_model), usage)

    # -- checking -----------------------------------------------------------------------
    def finish(
        self,
        question: str,
        mode: str,
        contexts: list[RetrievedPaper],
        draft: Draft,
        t_retr: float,
        t_gen: float,
    ) -> Answer:
        t0 = time.perf_counter()
        raw = draft.text.strip()
        if mode != "extractive":  # reasoning out, the citation forms models write made [n]
            raw = normalize_citations(strip_reasoning(raw)).strip()
        text = raw
        abstained = cites.is_abstention(text) or not contexts
        citations = []
        dropped: list[int] = []
        if abstained:
            text = CANNOT_ANSWER
        else:
            text, dropped = cites.drop_unknown_citations(text, len(contexts))
            if mode != "extractive":
                text = cites.attribute(text, contexts, self.evidence)
            citations = cites.cite(text, contexts, self.evidence)
            if mode != "extractive":
                added = cites.attributed_numbers(raw, text)
                for c in citations:
                    c.added_by_code = c.number in added
            text = cites.renumber(text, citations)
        cited = {c.rank for c in citations}
        also = [p for n, p in enumerate(contexts, start=1) if n not in cited]
        timings = {
            "retrieval": round(t_retr, 4),
            "generation": round(t_gen, 4),
            "citation": round(time.perf_counter() - t0, 4),
        }
        timings["total"] = round(sum(timings.values()), 4)
        return Answer(
            question=question,
            text=text,
            citations=citations,
            abstained=abstained,
            contexts=contexts,
            mode=mode,
            model=draft.model,
            usage=draft.usage,
            timings=timings,
            settings_hash=self.settings.settings_hash(),
            dropped_citations=dropped,
            also_retrieved=also,
        )


def _advance(gen: Step, value: Draft | None) -> tuple[bool, str | LLMCall | Answer]:
    """One step of the generator; (True, answer) when it finished. StopIteration cannot cross
    asyncio.to_thread, so it is turned into a value here."""
    try:
        return False, gen.send(value)
    except StopIteration as stop:
        return True, stop.value


# -- public functions -------------------------------------------------------------------
_PIPELINES: dict[str, Pipeline] = {}


def _pipeline(
    settings: Settings | None, llm: ChatLLM | None, retriever: PaperRetriever | None
) -> Pipeline:
    settings = settings or getattr(retriever, "settings", None) or Settings()
    if llm is not None or retriever is not None:
        return Pipeline(settings, retriever=retriever, llm=llm)
    key = f"{settings.home}|{settings.chroma_host}|{settings.settings_hash()}"
    if key not in _PIPELINES:
        _PIPELINES[key] = Pipeline(settings)
    return _PIPELINES[key]


def answer(
    question: str,
    *,
    settings: Settings | None = None,
    filters: Filters | None = None,
    k: int | None = None,
    mode: str | None = None,
    llm: ChatLLM | None = None,
    retriever: PaperRetriever | None = None,
) -> Answer:
    """Answer a question from the indexed abstracts, with checked citations."""
    return _pipeline(settings, llm, retriever).run(question, filters=filters, k=k, mode=mode)


async def aanswer(
    question: str,
    *,
    settings: Settings | None = None,
    filters: Filters | None = None,
    k: int | None = None,
    mode: str | None = None,
    llm: ChatLLM | None = None,
    retriever: PaperRetriever | None = None,
) -> Answer:
    """The async twin of answer()."""
    return await _pipeline(settings, llm, retriever).arun(question, filters=filters, k=k, mode=mode)


def stream_answer(
    question: str,
    *,
    settings: Settings | None = None,
    filters: Filters | None = None,
    k: int | None = None,
    mode: str | None = None,
    llm: ChatLLM | None = None,
    retriever: PaperRetriever | None = None,
) -> Iterator[str | Answer]:
    """Yield the answer's text as it is generated; the last item is the complete Answer."""
    yield from _pipeline(settings, llm, retriever).stream(question, filters=filters, k=k, mode=mode)


__all__ = [
    "ABOUT",
    "CANNOT_ANSWER",
    "MODES",
    "Pipeline",
    "aanswer",
    "answer",
    "stream_answer",
    "strip_context",
    "validate_question",
]
