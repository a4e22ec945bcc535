"""One evaluation run: its inputs, cache and raw results, filled phase by phase."""

from __future__ import annotations

import difflib
import logging
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rag_papers import _offline  # noqa: F401
from rag_papers.errors import IndexNotFoundError, InputError, RagPapersError
from rag_papers.evaluation import metrics
from rag_papers.evaluation.cache import FACTS_VERSION, ResultCache
from rag_papers.evaluation.config import EvalConfig, Question
from rag_papers.evaluation.judge import Judge
from rag_papers.evaluation.models import LazyEmbed, Runtime
from rag_papers.index.store import PaperStore
from rag_papers.providers.tokens import chat_tokens, count_tokens
from rag_papers.settings import Settings
from rag_papers.types import ProgressCallback, normalize_title

if TYPE_CHECKING:
    from rag_papers.qa.pipeline import Pipeline
    from rag_papers.qa.retrieve import Retriever

log = logging.getLogger(__name__)


def title_index(store: PaperStore) -> dict[str, str]:
    """normalised title -> paper id, for every paper in the store."""
    index: dict[str, str] = {}
    for _ids, _docs, metas in store.iter_chunks(include_documents=False):
        for meta in metas:
            if int(meta.get("chunk_index", 0)) == 0:
                index[normalize_title(str(meta.get("title", "")))] = str(meta["paper_id"])
    return index


def resolve_gold(
    questions: Sequence[Question], index: dict[str, str], where: str
) -> dict[str, list[str]]:
    """question id -> gold paper ids; every gold title missing from the index is named."""
    gold: dict[str, list[str]] = {}
    missing: list[str] = []
    for q in questions:
        ids = []
        for title in q.gold_titles:
            pid = index.get(normalize_title(title))
            if pid is None:
                near = difflib.get_close_matches(
                    normalize_title(title), list(index), n=1, cutoff=0.8
                )
                hint = f" (closest indexed title: {near[0]!r})" if near else ""
                missing.append(f"{q.id}: {title!r}{hint}")
            else:
                ids.append(pid)
        gold[q.id] = ids
    if missing:
        raise InputError(
            f"{len(missing)} gold title(s) are not in the index at {where}:\n  "
            + "\n  ".join(missing)
            + "\nfix the title in the question file, or ingest the paper (rag-papers ingest PATH)"
        )
    return gold


# -- small helpers ----------------------------------------------------------------------
def git_info() -> dict[str, Any]:
    """The code's git revision and whether the tree had uncommitted changes (None outside git)."""
    here = Path(__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", "-C", str(here), *args],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    rev = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"revision": rev, "dirty": bool(status) if status is not None else None}


def index_info(store: PaperStore) -> dict[str, Any]:
    """Chunks and the store's change stamp: a re-ingest invalidates cached results."""
    chunks = store.count_chunks()
    if not chunks:
        raise IndexNotFoundError(
            f'no papers indexed in {store.location} — run "rag-papers ingest --sample" or "rag-papers ingest PATH" first'
        )
    meta = store.metadata()
    return {
        "location": store.location,
        "chunks": chunks,
        "version": meta.get("bm25_version"),
        "embed_model": meta.get("embed_model"),
    }


@contextmanager
def timed(what: str) -> Iterator[None]:
    t0 = time.perf_counter()
    yield
    log.info("eval: %s took %.1f s", what, time.perf_counter() - t0)


T = TypeVar("T")


def progress_bar(
    iterable: Iterable[T], *, desc: str, total: int, enabled: bool | ProgressCallback
) -> Iterable[T]:
    """tqdm's bar when enabled is True; with a ProgressCallback (the CLI's console.Progress,
    which also speaks while a step is slow and prints lines when piped), each step is told."""
    if callable(enabled):
        return reported(iterable, desc, total, enabled)
    from tqdm import tqdm

    return tqdm(
        iterable,
        desc=desc,
        total=total,
        file=sys.stderr,
        disable=not enabled,
        unit="q",
        leave=False,
    )


def reported(iterable: Iterable[T], desc: str, total: int, report: ProgressCallback) -> Iterator[T]:
    shown = total if total > 1 else None  # a single step is a named phase, not "0/1"
    report(desc, 0, shown)
    for done, item in enumerate(iterable, 1):
        yield item
        if shown:
            report(desc, done, shown)


# -- running one question ---------------------------------------------------------------
def run_retrieval(retriever: Retriever, question: str, method: str) -> dict[str, Any]:
    """The top max(KS) papers for one question, with scores and timing."""
    t0 = time.perf_counter()
    papers = retriever.retrieve(question, k=max(metrics.KS), method=method)
    latency = time.perf_counter() - t0
    ranked = [
        {
            "paper_id": p.paper_id,
            "title": p.title,
            "score": p.score,
            "dense_rank": p.dense_rank,
            "bm25_rank": p.bm25_rank,
        }
        for p in papers
    ]
    return {"ranked": ranked, "latency_s": round(latency, 6)}


def run_answer(pipeline: Pipeline, question: str, mode: str) -> dict[str, Any]:
    """One answer through the real pipeline (streamed, so the model's raw text is kept too)."""
    from rag_papers.types import Answer

    t0 = time.perf_counter()
    ttft = None
    parts: list[str] = []
    answer = None
    for item in pipeline.stream(question, mode=mode):
        if isinstance(item, Answer):
            answer = item
        else:
            ttft = ttft if ttft is not None else time.perf_counter() - t0
            parts.append(item)
    latency = time.perf_counter() - t0
    assert answer is not None
    draft = "".join(parts)
    tokens = {"prompt": 0, "completion": 0}
    if mode != "extractive":
        messages = pipeline.messages(answer.question, answer.contexts)
        tokens = {
            "prompt": chat_tokens(messages, answer.model),
            "completion": count_tokens(draft, answer.model),
        }
    return {
        "mode": answer.mode,
        "model": answer.model,
        "text": answer.text,
        "draft": draft,
        "abstained": answer.abstained,
        "citations": [
            {
                "number": c.number,
                "paper_id": c.paper_id,
                "title": c.title,
                "quote": c.quote,
                "added_by_code": c.added_by_code,
            }
            for c in answer.citations
        ],
        "contexts": [
            {"paper_id": p.paper_id, "title": p.title, "abstract": p.abstract}
            for p in answer.contexts
        ],
        "dropped_citations": list(answer.dropped_citations),
        "usage_reported": dict(answer.usage),
        "timings": dict(answer.timings),
        "latency_s": round(latency, 6),
        "ttft_s": None if ttft is None else round(ttft, 6),
        "tokens": tokens,
    }


Key3 = tuple[str, str, str]  # question id, config name, answer mode


class Run:
    """One evaluation run: its inputs, cache and raw results, filled phase by phase."""

    def __init__(
        self,
        questions: Sequence[Question],
        cfgs: Sequence[EvalConfig],
        settings: Settings,
        cache: ResultCache,
        rt: Runtime,
        progress: bool | ProgressCallback,
    ) -> None:
        self.questions, self.cfgs, self.settings = list(questions), list(cfgs), settings
        self.cache, self.rt, self.progress = cache, rt, progress
        self.texts = question_texts(questions, settings)
        self.indexes: dict[str, dict[str, Any]] = {}
        self.golds: dict[str, dict[str, list[str]]] = {}
        for cfg in cfgs:
            skey = rt.store_key(cfg.settings)
            if skey not in self.indexes:
                store = rt.store(cfg.settings)
                self.indexes[skey] = index_info(store)
                self.golds[skey] = resolve_gold(questions, title_index(store), store.location)
        self.retrieved: dict[tuple[str, str], dict[str, Any]] = {}
        self.answers: dict[Key3, dict[str, Any]] = {}
        self.fact_matches: dict[Key3, dict[str, Any]] = {}
        self.judged: dict[Key3, dict[str, Any]] = {}
        self.errors: dict[Key3, str] = {}
        self._fact_embed = LazyEmbed(lambda: rt.embed(settings))

    def key(self, kind: str, q: Question, cfg: EvalConfig, *extra: object) -> str:
        """Question id and content + config hash + settings hash + index version (+ mode, text, ...)."""
        version = self.indexes[self.rt.store_key(cfg.settings)]["version"]
        return self.cache.key(
            kind, q.id, q.digest(), cfg.config_hash, self.settings.settings_hash(), version, *extra
        )

    def gold(self, q: Question, cfg: EvalConfig) -> list[str]:
        return self.golds[self.rt.store_key(cfg.settings)][q.id]

    def retrieve_all(self) -> None:
        for cfg in self.cfgs:
            todo = []
            for q in self.questions:
                found = self.cache.get(self.key("retrieval", q, cfg))
                if found is None:
                    todo.append(q)
                else:
                    self.retrieved[(q.id, cfg.name)] = found
            if not todo:
                continue
            ret = self.rt.retriever(cfg.settings)
            memo = self.rt.own_memo(cfg.settings)
            if memo is not None:
                if callable(self.progress):  # loads the model the first time: minutes when busy
                    self.progress(f"retrieval {cfg.name}: embedding the questions")
                memo.prefetch_queries([self.texts[q.id] for q in todo])
            for q in progress_bar(
                todo, desc=f"retrieval {cfg.name}", total=len(todo), enabled=self.progress
            ):
                raw = run_retrieval(ret, self.texts[q.id], cfg.method)
                self.cache.put(
                    self.key("retrieval", q, cfg),
                    raw,
                    kind="retrieval",
                    question=q.id,
                    config=cfg.name,
                )
                self.retrieved[(q.id, cfg.name)] = raw

    def answers_pending(self, amode: str) -> list[tuple[Question, EvalConfig]]:
        """Fill cached answers; return the rest, configurations rotating per question so that
        no configuration is always first to meet (and pay for embedding) a shared text."""
        pending = []
        for i, q in enumerate(self.questions):
            shift = i % len(self.cfgs)
            for cfg in self.cfgs[shift:] + self.cfgs[:shift]:
                found = self.cache.get(self.key("answer", q, cfg, amode))
                if found is None:
                    pending.append((q, cfg))
                else:
                    self.answers[(q.id, cfg.name, amode)] = found
        return pending

    def answer_all(self, amode: str) -> None:
        pending = self.answers_pending(amode)
        if not pending:
            return
        if amode == "extractive":
            self._prefetch(pending)
        for q, cfg in progress_bar(
            pending, desc=f"answers ({amode})", total=len(pending), enabled=self.progress
        ):
            try:
                raw = run_answer(self.rt.pipeline(cfg, amode), self.texts[q.id], amode)
            except RagPapersError as exc:  # one failed answer must not lose the others; not cached
                log.warning("question %s (%s, %s) failed: %s", q.id, cfg.name, amode, exc)
                self.errors[(q.id, cfg.name, amode)] = str(exc)
                continue
            self.cache.put(
                self.key("answer", q, cfg, amode),
                raw,
                kind="answer",
                question=q.id,
                config=cfg.name,
                mode=amode,
            )
            self.answers[(q.id, cfg.name, amode)] = raw

    def _prefetch(self, pending: Sequence[tuple[Question, EvalConfig]]) -> None:
        """Embed the questions and the abstract sentences extractive answers will score, in big batches."""
        from rag_papers.qa.evidence import split_sentences

        by_store: dict[str, tuple[EvalConfig, set[str], set[str]]] = {}
        for q, cfg in pending:
            _, ids, texts = by_store.setdefault(
                self.rt.retriever_key(cfg.settings), (cfg, set(), set())
            )
            texts.add(self.texts[q.id])
            ids.update(
                p["paper_id"]
                for p in self.retrieved.get((q.id, cfg.name), {}).get("ranked", [])[
                    : cfg.settings.k
                ]
            )
        stores = progress_bar(  # a named phase, so the minutes of embedding are not silent
            list(by_store.values()),
            desc="embedding questions and abstract sentences",
            total=len(by_store),
            enabled=self.progress,
        )
        for cfg, ids, texts in stores:
            memo = self.rt.embed(cfg.settings)
            memo.prefetch_queries(sorted(texts))
            if ids:
                sentences = []
                for meta in self.rt.store(cfg.settings).get_papers(sorted(ids)).values():
                    sentences.extend(
                        split_sentences(str(meta.get("abstract", "")))
                        or [str(meta.get("title", ""))]
                    )
                memo.prefetch_texts(sentences)

    def match_facts(self, amode: str) -> None:
        pairs = [(cfg, q) for cfg in self.cfgs for q in self.questions]
        for cfg, q in progress_bar(
            pairs, desc=f"matching answer facts ({amode})", total=len(pairs), enabled=self.progress
        ):
            raw = self.answers.get((q.id, cfg.name, amode))
            if raw is None or not q.answer_facts or not q.answerable:
                continue
            fkey = self.key("facts", q, cfg, amode, raw["text"], FACTS_VERSION)
            rec = self.cache.get(fkey)
            if rec is None:
                rec = {
                    "matches": [
                        metrics.match_fact(f, raw["text"], embed=self._fact_embed).to_dict()
                        for f in q.answer_facts
                    ]
                }
                self.cache.put(fkey, rec, kind="facts", question=q.id, config=cfg.name, mode=amode)
            self.fact_matches[(q.id, cfg.name, amode)] = rec

    def judge_all(self, amode: str, judge: Judge) -> None:
        todo = [
            (q, cfg)
            for cfg in self.cfgs
            for q in self.questions
            if (q.id, cfg.name, amode) in self.answers
            and not self.answers[(q.id, cfg.name, amode)]["abstained"]
        ]
        for q, cfg in progress_bar(
            todo, desc=f"judge ({amode})", total=len(todo), enabled=self.progress
        ):
            raw = self.answers[(q.id, cfg.name, amode)]
            jkey = self.key("judge", q, cfg, amode, raw["text"], judge.model)
            rec = self.cache.get(jkey)
            if rec is None:
                try:
                    rec = judge_answer(judge, q, raw)
                except RagPapersError as exc:
                    log.warning("judging %s (%s, %s) failed: %s", q.id, cfg.name, amode, exc)
                    continue
                self.cache.put(jkey, rec, kind="judge", question=q.id, config=cfg.name, mode=amode)
            self.judged[(q.id, cfg.name, amode)] = rec


def question_texts(questions: Sequence[Question], settings: Settings) -> dict[str, str]:
    """Questions as the pipeline sees them (validated, white space folded)."""
    from rag_papers.errors import QuestionError
    from rag_papers.qa.pipeline import validate_question

    out = {}
    for q in questions:
        try:
            out[q.id] = validate_question(q.question, settings)
        except QuestionError as exc:
            raise InputError(f"question {q.id}: {exc}") from None
    return out


def judge_answer(judge: Judge, q: Question, raw: dict[str, Any]) -> dict[str, Any]:
    before = (judge.prompt_tokens, judge.completion_tokens)
    by_id = {c["paper_id"]: f"{c['title']}. {c['abstract']}" for c in raw["contexts"]}
    rec = judge.faithfulness(q.question, raw["text"], list(by_id.values()))
    # The text's [n] follow first appearance, not retrieval rank: source n is citation n's paper.
    cited = {c["number"]: by_id.get(c["paper_id"], "") for c in raw["citations"]}
    sources = [cited.get(n, "") for n in range(1, max(cited, default=0) + 1)]
    rec.update(judge.citation_support(raw["text"], sources))
    rec["tokens"] = {
        "prompt": judge.prompt_tokens - before[0],
        "completion": judge.completion_tokens - before[1],
    }
    return rec
