"""Question -> retrieved abstracts -> answer with verified citations -> Answer.

Two modes share everything but generation:
- extractive: no LLM; the answer is the abstract sentences that best support the question,
  each followed by its citation. Deterministic and offline. Abstains when no sentence
  supports the question's key content well enough.
- openai: an OpenAI-compatible chat model writes the answer from numbered sources; the code
  then checks every [n] (unknown numbers are dropped and counted), cites uncited sentences
  that one source clearly supports (post-hoc attribution, flagged), and attaches to each
  citation the abstract sentence that best supports it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from rag_papers import _offline  # noqa: F401
from rag_papers.errors import QuestionError
from rag_papers.qa import templates
from rag_papers.qa.evidence import (
    Support,
    content_terms,
    named_terms,
    quantity_terms,
    rank_support,
    specific_terms,
    split_sentences,
    states_number,
)
from rag_papers.qa.retrieve import Filters, Retriever
from rag_papers.settings import Settings, normalize_mode
from rag_papers.types import Answer, Citation, RetrievedPaper

log = logging.getLogger(__name__)

CANNOT_ANSWER = "The indexed papers do not answer this question."
MODES = ("auto", "llm", "extractive")  # "openai" is accepted as the old name of "llm"
_MARKER = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")

# Extractive composition: how many papers and sentences an answer may quote.
MAX_PAPERS = 3
MAX_SENTENCES = 5
# Post-hoc attribution: an uncited sentence gets a citation when one source supports it this
# well, and clearly better than the next source.
ATTRIBUTE_MIN = 0.5
ATTRIBUTE_MARGIN = 0.05


# -- validation -------------------------------------------------------------------------
def validate_question(question: Any, settings: Settings) -> str:
    if not isinstance(question, str):
        raise QuestionError(f"the question must be text, not {type(question).__name__}")
    bad = sorted({ch for ch in question if unicodedata.category(ch) == "Cc" and ch not in "\n\r\t"})
    if bad:
        codes = ", ".join(f"U+{ord(ch):04X}" for ch in bad[:5])
        raise QuestionError(
            f"the question contains control characters ({codes}) — remove them and ask again"
        )
    question = " ".join(question.split())
    if not question:
        raise QuestionError("the question is empty — type a question about the indexed papers")
    if len(question) > settings.max_question_chars:
        raise QuestionError(
            f"the question has {len(question):,} characters; the limit is {settings.max_question_chars:,} "
            "(RAG_PAPERS_MAX_QUESTION_CHARS) — shorten it to the question itself"
        )
    return question


def validate_k(k: Any) -> int:
    limit = Settings.model_fields["k"].metadata[-1].le  # the same bound as RAG_PAPERS_K
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= limit:
        raise QuestionError(
            f"k (papers to retrieve) must be a whole number from 1 to {limit} — got {k!r}"
        )
    return k


def validate_mode(mode: Any) -> str:
    mode = normalize_mode(mode) if isinstance(mode, str) else mode
    if mode not in MODES:
        raise QuestionError(f"unknown answer mode {mode!r} — use one of: {', '.join(MODES)}")
    return mode


# -- the pipeline ------------------------------------------------------------------------
@dataclass
class _Draft:
    """What generation produced before citations are checked."""

    text: str
    model: str
    usage: dict[str, int]


class Pipeline:
    """Retriever + optional LLM + evidence scoring. Build once, answer many questions."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        retriever: Retriever | None = None,
        llm: Any = None,
    ):
        self.settings = settings or Settings()
        self.retriever = retriever or Retriever(self.settings)
        self._llm = llm
        self._sentence_cache: dict[str, list[float]] = {}

    # -- parts --------------------------------------------------------------------------
    def llm(self) -> Any:
        if self._llm is None:
            from rag_papers.providers.llm import make_llm

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

    def _embed_sentences(self, sentences: list[str]) -> list[list[float]]:
        """Sentence embeddings, cached across questions (abstract sentences recur)."""
        missing = [t for t in dict.fromkeys(sentences) if t not in self._sentence_cache]
        if missing:
            if len(self._sentence_cache) > 20000:
                self._sentence_cache.clear()
            vecs = self.retriever.embed_model.get_text_embedding_batch(missing)
            self._sentence_cache.update(zip(missing, vecs, strict=False))
        return [self._sentence_cache[t] for t in sentences]

    def _support(
        self, claim: str, paper: RetrievedPaper, claim_vec: Sequence[float] | None = None
    ) -> list[Support]:
        sents = split_sentences(paper.abstract) or [paper.title]
        vec = (
            claim_vec
            if claim_vec is not None
            else self.retriever.embed_model.get_text_embedding(claim)
        )
        return rank_support(
            content_terms(claim), vec, sents, self._embed_sentences, self.retriever.idf
        )

    # -- entry points -------------------------------------------------------------------
    def prepare(
        self, question: str, *, filters: Filters | None, k: int | None, mode: str | None
    ) -> tuple[str, str, list[RetrievedPaper], float]:
        question = validate_question(question, self.settings)
        k = validate_k(self.settings.k if k is None else k)
        mode = self.resolve_mode(mode)
        t0 = time.perf_counter()
        contexts = self.retriever.retrieve(question, k=k, filters=filters)
        return question, mode, contexts, time.perf_counter() - t0

    def run(
        self,
        question: str,
        *,
        filters: Filters | None = None,
        k: int | None = None,
        mode: str | None = None,
        history: str = "",
    ) -> Answer:
        question, mode, contexts, t_retr = self.prepare(question, filters=filters, k=k, mode=mode)
        t0 = time.perf_counter()
        if mode == "extractive":
            draft = self.extract(question, contexts)
        else:
            reply = self.llm().complete(self.messages(question, contexts, history))
            draft = _Draft(reply.text, reply.model, dict(reply.usage))
        result = self.finish(question, mode, contexts, draft, t_retr, time.perf_counter() - t0)
        return self.note_filters(result, filters)

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
        question, mode, contexts, t_retr = self.prepare(question, filters=filters, k=k, mode=mode)
        t0 = time.perf_counter()
        if mode == "extractive":
            draft = self.extract(question, contexts)
            yield from re.findall(r"\S+\s*", draft.text)
        else:
            messages = self.messages(question, contexts, history)
            llm = self.llm()
            parts: list[str] = []
            reply = None
            for item in llm.stream(messages):  # text deltas, then the reply with its usage
                if isinstance(item, str):
                    parts.append(item)
                    yield item
                else:
                    reply = item
            text = "".join(parts)
            usage = dict(reply.usage) if reply is not None else {}
            if not usage.get("total_tokens"):  # many local servers send no usage when streaming
                usage = estimate_usage(messages, text, self.settings.llm_model)
            draft = _Draft(text, getattr(llm, "model", self.settings.llm_model), usage)
        result = self.finish(question, mode, contexts, draft, t_retr, time.perf_counter() - t0)
        yield self.note_filters(result, filters)

    async def arun(
        self,
        question: str,
        *,
        filters: Filters | None = None,
        k: int | None = None,
        mode: str | None = None,
        history: str = "",
    ) -> Answer:
        question, mode, contexts, t_retr = await asyncio.to_thread(
            self.prepare, question, filters=filters, k=k, mode=mode
        )
        t0 = time.perf_counter()
        if mode == "extractive":
            draft = await asyncio.to_thread(self.extract, question, contexts)
        else:
            reply = await self.llm().acomplete(self.messages(question, contexts, history))
            draft = _Draft(reply.text, reply.model, dict(reply.usage))
        gen = time.perf_counter() - t0
        result = await asyncio.to_thread(self.finish, question, mode, contexts, draft, t_retr, gen)
        return self.note_filters(result, filters)

    def note_filters(self, answer: Answer, filters: Filters | None) -> Answer:
        """Record on the answer how many undated papers the date filter left out."""
        count = getattr(self.retriever, "undated_excluded", None)
        answer.undated_excluded = count(filters) if callable(count) and filters else 0
        return answer

    # -- generation ---------------------------------------------------------------------
    def extract(self, question: str, contexts: list[RetrievedPaper]) -> _Draft:
        """Compose an answer from the abstract sentences that best support the question."""
        model = "extractive"
        if not contexts:
            return _Draft(CANNOT_ANSWER, model, {})
        q_vec = self.retriever.embed_model.get_query_embedding(question)
        ranked = [(n, self._support(question, p, q_vec)) for n, p in enumerate(contexts, start=1)]
        reason = self.abstain_reason(question, contexts, [sups for _, sups in ranked])
        if reason:
            log.info("extractive: abstaining: %s", reason)
            return _Draft(CANNOT_ANSWER, model, {})
        best = max(sups[0].score for _, sups in ranked)
        floor = max(self.settings.abstain_threshold, 0.8 * best)
        chosen = [(n, sups) for n, sups in ranked if sups[0].score >= floor][:MAX_PAPERS]
        picks: list[tuple[int, Support]] = [(n, sups[0]) for n, sups in chosen]
        for n, sups in chosen:  # a second sentence where it is nearly as good
            if (
                len(picks) < MAX_SENTENCES
                and len(sups) > 1
                and sups[1].score >= max(floor, 0.9 * sups[0].score)
            ):
                picks.append((n, sups[1]))
        lines = []
        for n, _ in chosen:
            sents = sorted((s for m, s in picks if m == n), key=lambda s: s.index)
            lines.append(" ".join(f"{_strip_end(s.sentence)} [{n}]." for s in sents))
        return _Draft("\n\n".join(lines), model, {})

    def _gives_number(
        self, question: str, head: str, paper: RetrievedPaper, sups: list[Support]
    ) -> bool:
        """A sentence of this paper states a number for the quantity, and the paper is about
        the thing the question names (if it names one)."""
        names = named_terms(strip_context(question))
        if names and not set(names) & set(content_terms(f"{paper.title} {paper.abstract}")):
            return False
        return any(
            head in content_terms(s.sentence) and states_number(s.sentence, question) for s in sups
        )

    def abstain_reason(
        self, question: str, contexts: list[RetrievedPaper], supports: list[list[Support]]
    ) -> str | None:
        """Why the retrieved sentences do not answer the question, or None when they may.

        Three tests, cheapest first: a specific name in the question (RWKV, SWE-bench) that
        the collection never mentions; a question asking for a number that no retrieved
        sentence gives next to the quantity asked about; and weak support overall.
        """
        missing = [word for word, term in specific_terms(question) if self.retriever.df(term) == 0]
        if missing:
            return f"the collection never mentions {', '.join(missing)}"
        for head in quantity_terms(question):
            if not any(
                self._gives_number(question, head, paper, sups)
                for paper, sups in zip(contexts, supports, strict=False)
            ):
                return f"no retrieved sentence gives a number for '{head}'"
        best = max((sups[0].score for sups in supports if sups), default=0.0)
        if best < self.settings.abstain_threshold:
            return (
                f"best support {best:.3f} is under the threshold {self.settings.abstain_threshold}"
            )
        return None

    def messages(
        self, question: str, contexts: list[RetrievedPaper], history: str = ""
    ) -> list[dict[str, str]]:
        system = templates.render("answer_system", cannot_answer=CANNOT_ANSWER)
        user = templates.render(
            "answer_user",
            history=f"Conversation so far:\n{history}\n\n" if history else "",
            sources=pack_sources(contexts, self.settings.context_tokens, self.settings.llm_model),
            question=question,
            cannot_answer=CANNOT_ANSWER,
        )
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    # -- checking -----------------------------------------------------------------------
    def finish(
        self,
        question: str,
        mode: str,
        contexts: list[RetrievedPaper],
        draft: _Draft,
        t_retr: float,
        t_gen: float,
    ) -> Answer:
        t0 = time.perf_counter()
        text = draft.text.strip()
        abstained = is_abstention(text) or not contexts
        citations: list[Citation] = []
        dropped: list[int] = []
        if abstained:
            text = CANNOT_ANSWER
        else:
            text, dropped = drop_unknown_citations(text, len(contexts))
            if mode != "extractive":
                text = self.attribute(text, contexts)
            citations = self.cite(text, contexts)
            if mode != "extractive":
                added = attributed_numbers(draft.text, text)
                for c in citations:
                    c.added_by_code = c.number in added
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
        )

    def attribute(self, text: str, contexts: list[RetrievedPaper]) -> str:
        """Append [n] to uncited sentences that exactly one source clearly supports."""
        out = []
        for sent in split_sentences_keep_layout(text):
            body = sent.strip()
            if not body or _MARKER.search(body) or len(content_terms(body)) < 3:
                out.append(sent)
                continue
            vec = self.retriever.embed_model.get_text_embedding(body)
            scored = sorted(
                (
                    (self._support(body, p, vec)[0].score, n)
                    for n, p in enumerate(contexts, start=1)
                ),
                reverse=True,
            )
            top, n = scored[0]
            second = scored[1][0] if len(scored) > 1 else 0.0
            if top >= ATTRIBUTE_MIN and top - second >= ATTRIBUTE_MARGIN:
                trail = sent[len(sent.rstrip()) :]
                sent = f"{_strip_end(sent.rstrip())} [{n}]{_end_punct(sent.rstrip())}{trail}"
            out.append(sent)
        return "".join(out)

    def cite(self, text: str, contexts: list[RetrievedPaper]) -> list[Citation]:
        """One Citation per source number used, with its best-supporting abstract sentence."""
        claims: dict[int, list[str]] = {}
        for sent in split_sentences(text):
            for n in cited_numbers(sent):
                claims.setdefault(n, []).append(_MARKER.sub("", sent).strip())
        citations = []
        for n in sorted(claims, key=lambda m: text.find(f"[{m}")):
            paper = contexts[n - 1]
            claim = " ".join(claims[n])
            best = self._support(claim, paper)[0]
            citations.append(
                Citation(
                    number=n,
                    paper_id=paper.paper_id,
                    title=paper.title,
                    url=paper.url,
                    published=paper.published,
                    date_text=paper.date_text,
                    quote=best.sentence,
                    score=round(paper.score, 6),
                )
            )
        return citations


# -- text helpers -----------------------------------------------------------------------
# A follow-up rewritten offline carries what it refers to as "(about: titles)"; the names in
# those titles say what the conversation is about, not what the user asked for.
ABOUT = "(about: "


def strip_context(question: str) -> str:
    i = question.rfind(ABOUT)
    return question[:i].rstrip() if i >= 0 else question


def _strip_end(sentence: str) -> str:
    return sentence.rstrip().rstrip(".!?;:").rstrip()


def _end_punct(sentence: str) -> str:
    m = re.search(r"[.!?]+$", sentence)
    return m.group(0) if m else "."


def split_sentences_keep_layout(text: str) -> list[str]:
    """Sentences with their trailing white space, so joining them gives the text back."""
    return [s for s in re.split(r"(?<=[.!?])(?=\s)|(?<=\n)", text) if s]


def cited_numbers(text: str) -> list[int]:
    nums: list[int] = []
    for m in _MARKER.finditer(text):
        nums.extend(int(x) for x in re.split(r"\s*[,;]\s*", m.group(1)))
    return nums


def attributed_numbers(before: str, after: str) -> set[int]:
    """Numbers cited more often after attribution than the model cited them."""
    b, a = cited_numbers(before), cited_numbers(after)
    return {n for n in set(a) if a.count(n) > b.count(n)}


def drop_unknown_citations(text: str, n_sources: int) -> tuple[str, list[int]]:
    """Remove [n] markers for numbers that were never given as sources; return them too."""
    dropped: list[int] = []

    def fix(m: re.Match[str]) -> str:
        nums = [int(x) for x in re.split(r"\s*[,;]\s*", m.group(1))]
        keep = [n for n in nums if 1 <= n <= n_sources]
        dropped.extend(n for n in nums if not 1 <= n <= n_sources)
        return "".join(f"[{n}]" for n in keep)

    text = _MARKER.sub(fix, text)
    return re.sub(r"[ \t]+([.,;:])", r"\1", text), dropped


def is_abstention(text: str) -> bool:
    norm = " ".join(text.lower().split())
    return not norm or CANNOT_ANSWER.lower().rstrip(".") in norm


def pack_sources(contexts: list[RetrievedPaper], budget: int, model: str) -> str:
    """Numbered, delimited sources within a token budget; lower-ranked abstracts are cut first."""
    enc = _encoding(model)
    blocks = []
    used = 0
    for n, paper in enumerate(contexts, start=1):
        date = paper.published or paper.date_text or "date unknown"
        head = f'<source id="{n}">\n[{n}] {paper.title} ({date})\n'
        body = paper.abstract.replace("</source>", "&lt;/source&gt;")
        tail = "\n</source>"
        cost = len(enc.encode(head + tail))
        room = budget - used - cost
        if room <= 20:
            break
        tokens = enc.encode(body)
        if len(tokens) > room:
            body = enc.decode(tokens[:room]) + " …"
        blocks.append(head + body + tail)
        used += cost + min(len(tokens), room)
    return "\n\n".join(blocks)


def estimate_usage(messages: list[dict[str, str]], text: str, model: str) -> dict[str, int]:
    """Token counts with tiktoken, for servers that report none."""
    enc = _encoding(model)
    prompt = sum(len(enc.encode(m["content"])) + 4 for m in messages)
    completion = len(enc.encode(text))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _encoding(model: str) -> Any:
    import tiktoken

    try:
        return tiktoken.encoding_for_model(model)
    except KeyError:
        return tiktoken.get_encoding("cl100k_base")


# -- public functions -------------------------------------------------------------------
_PIPELINES: dict[str, Pipeline] = {}


def _pipeline(settings: Settings | None, llm: Any, retriever: Retriever | None) -> Pipeline:
    settings = settings or (retriever.settings if retriever else Settings())
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
    llm: Any = None,
    retriever: Retriever | None = None,
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
    llm: Any = None,
    retriever: Retriever | None = None,
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
    llm: Any = None,
    retriever: Retriever | None = None,
) -> Iterator[str | Answer]:
    """Yield the answer's text as it is generated; the last item is the complete Answer."""
    yield from _pipeline(settings, llm, retriever).stream(question, filters=filters, k=k, mode=mode)


__all__ = ["CANNOT_ANSWER", "Pipeline", "aanswer", "answer", "stream_answer"]
