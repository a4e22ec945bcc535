"""The evaluation harness: run a question set through several configurations, score, report.

    rag-papers eval --questions eval/dev_questions.jsonl --mode both --out runs/dev
    from rag_papers.evaluate import evaluate
    report = evaluate("eval/dev_questions.jsonl", mode="both", out_dir="runs/dev")

Built-in configurations run side by side on the same questions: `hybrid` (ours) and the
baselines `bm25` and `dense` (plain top-k vector retrieval, what a LlamaIndex
VectorStoreIndex does with its default query settings). Answers are produced in extractive
mode always and by the LLM too when one is configured. Every raw result (ranking, answer,
judge verdicts) is appended to a JSONL cache in the output folder as soon as it exists, so
an interrupted run resumes; metrics are recomputed from the raw results on every run.
Metric definitions: eval/README.md. Report files: rag_papers/report.py.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import logging
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rag_papers import (
    _offline,  # noqa: F401
    metrics,
)
from rag_papers.errors import ConfigError, IndexNotFoundError, InputError, RagPapersError
from rag_papers.settings import Settings
from rag_papers.types import normalize_title

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
MODES = ("retrieval", "answer", "both")
BASELINES = ("bm25", "dense")
GATE_CONFIG = "hybrid"
# Settings a Retriever reads; configurations that agree on these share one.
RETRIEVER_FIELDS = ("home", "collection", "chroma_host", "chroma_port", "embed_backend", "embed_model",
                    "embed_device", "light_query_encoder", "candidates", "rrf_k")
DEFAULT_QUESTIONS = Path(__file__).resolve().parents[1] / "eval" / "dev_questions.jsonl"
CACHE_FILE = "cache.jsonl"
NOT_JUDGED = "not measured: no judge LLM configured"
# Bump when what a cached record means changes; fact matches also key on the matcher's thresholds.
CACHE_VERSION = "1"
FACTS_VERSION = f"{metrics.FACT_TERM_MATCH}/{metrics.FACT_TERM_FLOOR}/{metrics.FACT_COSINE_MATCH}"

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


# -- inputs -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Question:
    """One line of a question file (the format of eval/dev_questions.jsonl)."""

    id: str
    question: str
    type: str
    gold_titles: tuple[str, ...]
    answer_facts: tuple[str, ...]
    answerable: bool

    def digest(self) -> str:
        data = [self.id, self.question, self.type, self.gold_titles, self.answer_facts, self.answerable]
        return _sha(json.dumps(data))


def load_questions(path: str | Path) -> list[Question]:
    """Read and check a question file; errors name the line and what to fix."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"question file {path} not found — pass --questions FILE.jsonl")
    out: list[Question] = []
    seen: set[str] = set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: not JSON ({exc.msg}) — one JSON object per line") from None
        if not isinstance(rec, dict) or not isinstance(rec.get("question"), str) or "id" not in rec:
            raise InputError(f"{where}: each line needs at least \"id\" and \"question\" (text)")
        qid = str(rec["id"])
        if qid in seen:
            raise InputError(f"{where}: question id {qid!r} is used twice — ids must be unique")
        seen.add(qid)
        gold, facts = rec.get("gold_titles", []), rec.get("answer_facts", [])
        for name, value in (("gold_titles", gold), ("answer_facts", facts)):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InputError(f"{where}: {name} must be a list of strings")
        answerable = rec.get("answerable", bool(gold))
        if not isinstance(answerable, bool):
            raise InputError(f"{where}: answerable must be true or false")
        if not answerable and gold:
            raise InputError(f"{where}: question {qid} is unanswerable but lists gold_titles — drop one")
        out.append(Question(qid, rec["question"], str(rec.get("type", "unknown")), tuple(gold), tuple(facts),
                            answerable))
    if not out:
        raise InputError(f"question file {path} holds no questions")
    return out


@dataclass(frozen=True)
class EvalConfig:
    """A named configuration: Settings overrides on top of the base settings."""

    name: str
    settings: Settings
    overrides: dict[str, Any] = field(default_factory=dict)
    baseline: bool = False

    @property
    def method(self) -> str:
        return self.settings.retriever

    @property
    def config_hash(self) -> str:
        data = {"name": self.name, "overrides": self.overrides, "settings": self.settings.settings_hash()}
        return _sha(json.dumps(data, sort_keys=True, default=str))[:12]


def derive_settings(base: Settings, overrides: dict[str, Any], *, origin: str = "config") -> Settings:
    """Base settings with overrides applied and validated (unknown fields are errors)."""
    unknown = sorted(set(overrides) - set(Settings.model_fields))
    if unknown:
        raise ConfigError(f"{origin}: unknown setting(s) {', '.join(unknown)} — see .env.example for the names")
    try:
        return Settings(**{**base.model_dump(), **overrides})
    except ValidationError as exc:
        raise ConfigError(f"{origin}: invalid settings: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from None


def default_configs(base: Settings) -> list[EvalConfig]:
    """hybrid (ours) next to the bm25-only and dense-only baselines."""
    return [
        EvalConfig(name, derive_settings(base, {"retriever": name}), {"retriever": name}, name in BASELINES)
        for name in ("hybrid", "bm25", "dense")
    ]


def load_config(source: str | Path | dict[str, Any], base: Settings) -> EvalConfig:
    """A config from a JSON file or dict: {"name": ..., "settings": {Settings overrides}}."""
    origin = str(source) if not isinstance(source, dict) else "config"
    if isinstance(source, dict):
        data = source
    else:
        try:
            data = json.loads(Path(source).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {source} not found") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"config file {source} is not JSON ({exc.msg})") from None
    name = data.get("name") if isinstance(data, dict) else None
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ConfigError(f'{origin}: needs "name" (letters, digits, _ . -) and "settings" (an object)')
    overrides = data.get("settings", {})
    if not isinstance(overrides, dict):
        raise ConfigError(f'{origin}: "settings" must be an object of Settings overrides')
    return EvalConfig(name, derive_settings(base, overrides, origin=origin), dict(overrides))


# -- the cache --------------------------------------------------------------------------
class ResultCache:
    """Append-only JSONL of raw results keyed by a hash; an interrupted run resumes from it."""

    def __init__(self, path: Path, *, enabled: bool = True) -> None:
        self.path = path
        self.enabled = enabled
        self.records: dict[str, dict[str, Any]] = {}
        self.hits = self.misses = 0
        if enabled and path.is_file():
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                try:
                    rec = json.loads(line)
                    self.records[rec["key"]] = rec["result"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    log.warning("%s:%d: unreadable cache line ignored (an interrupted write?)", path, n)

    @staticmethod
    def key(*parts: Any) -> str:
        return _sha(json.dumps([CACHE_VERSION, *parts], sort_keys=True, default=str))

    def get(self, key: str) -> dict[str, Any] | None:
        found = self.records.get(key) if self.enabled else None
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def put(self, key: str, result: dict[str, Any], **label: Any) -> None:
        self.records[key] = result
        if self.enabled:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps({"key": key, **label, "result": result}, default=str) + "\n")


# -- shared models ----------------------------------------------------------------------
class MemoEmbed:
    """An embedding model that remembers every vector, so configurations share the work.

    Questions and abstract sentences are embedded up front in large batches (40 queries in
    one batch take about the time of three single calls on a CPU); anything else (claims
    embedded while citing) is remembered once computed. Answer latencies are therefore
    warm-cache latencies; see eval/README.md.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self._text: dict[str, list[float]] = {}
        self._query: dict[str, list[float]] = {}
        self._query_is_text: bool | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def get_text_embedding(self, text: str) -> list[float]:
        return self.get_text_embedding_batch([text])[0]

    def get_text_embedding_batch(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        missing = list(dict.fromkeys(t for t in texts if t not in self._text))
        if missing:
            self._text.update(zip(missing, self.inner.get_text_embedding_batch(missing, **kwargs)))
        return [self._text[t] for t in texts]

    def get_query_embedding(self, query: str) -> list[float]:
        if query not in self._query:
            self._query[query] = self.inner.get_query_embedding(query)
        return self._query[query]

    def prefetch_queries(self, queries: Sequence[str]) -> None:
        """Embed queries in one batch when the model embeds queries and texts alike."""
        todo = [q for q in dict.fromkeys(queries) if q not in self._query]
        if not todo:
            return
        if self._query_is_text is None:
            single = self.inner.get_query_embedding(todo[0])
            batch = self.inner.get_text_embedding_batch([todo[0]])[0]
            self._query_is_text = max(abs(a - b) for a, b in zip(single, batch)) < 1e-4
        if self._query_is_text:
            self._query.update(zip(todo, self.inner.get_text_embedding_batch(todo)))
        else:
            self._query.update((q, self.inner.get_query_embedding(q)) for q in todo)

    def prefetch_texts(self, texts: Sequence[str]) -> None:
        self.get_text_embedding_batch(list(dict.fromkeys(texts)))


class _MethodRetriever:
    """A shared Retriever seen through one retrieval method, for a Pipeline that cannot pass one."""

    def __init__(self, inner: Any, method: str, embed: MemoEmbed) -> None:
        self.inner, self.method, self.embed_model = inner, method, embed

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def retrieve(self, question: str, *, k: int | None = None, filters: Any = None, method: str | None = None) -> Any:
        return self.inner.retrieve(question, k=k, filters=filters, method=method or self.method)


class _Runtime:
    """Stores, retrievers, pipelines and LLMs, built lazily and shared across configurations."""

    def __init__(self, base: Settings, *, retriever: Any = None, llm: Any = None) -> None:
        self.base = base
        self.given_retriever = retriever
        self.llm = llm
        self._stores: dict[str, Any] = {}
        self._embeds: dict[str, MemoEmbed] = {}
        self._retrievers: dict[str, Any] = {}
        self._owned: dict[str, MemoEmbed] = {}
        self._pipelines: dict[tuple[str, str], Any] = {}

    @staticmethod
    def store_key(s: Settings) -> str:
        return f"{Path(s.home).expanduser()}|{s.collection}|{s.chroma_host}|{s.chroma_port}"

    @staticmethod
    def retriever_key(s: Settings) -> str:
        """What a Retriever's results depend on (the method and k are passed per call)."""
        return "|".join(str(getattr(s, f, None)) for f in RETRIEVER_FIELDS)

    def store(self, s: Settings) -> Any:
        key = self.store_key(s)
        if key not in self._stores:
            if self.given_retriever is not None and key == self.store_key(self.base):
                self._stores[key] = self.given_retriever.store
            else:
                from rag_papers.store import PaperStore

                self._stores[key] = PaperStore(s)
        return self._stores[key]

    def retriever(self, s: Settings) -> Any:
        key = self.retriever_key(s)
        if key not in self._retrievers:
            if self.given_retriever is not None and key == self.retriever_key(self.base):
                self._retrievers[key] = self.given_retriever
            else:
                from rag_papers.retrieve import Retriever

                store = self.store(s)
                ekey = "|".join(str(getattr(s, f, None)) for f in RETRIEVER_FIELDS if f not in ("candidates", "rrf_k"))
                if ekey not in self._embeds:
                    # The retriever's own factory and model check; we only wrap the result.
                    self._embeds[ekey] = MemoEmbed(Retriever(s, store=store).embed_model)
                self._retrievers[key] = Retriever(s, store=store, embed_model=self._embeds[ekey])
                self._owned[key] = self._embeds[ekey]
        return self._retrievers[key]

    def own_memo(self, s: Settings) -> MemoEmbed | None:
        """The memoising model inside our own retriever (None for a retriever passed in)."""
        self.retriever(s)
        return self._owned.get(self.retriever_key(s))

    def embed(self, s: Settings) -> MemoEmbed:
        """A memoising view of the embedding model the settings' retriever uses."""
        memo = self.own_memo(s)
        if memo is None:
            model = self.retriever(s).embed_model
            memo = self._embeds.setdefault(f"given|{id(model)}", MemoEmbed(model))
        return memo

    def pipeline(self, cfg: EvalConfig, mode: str) -> Any:
        if (cfg.name, mode) not in self._pipelines:
            from rag_papers.answer import Pipeline

            view = _MethodRetriever(self.retriever(cfg.settings), cfg.method, self.embed(cfg.settings))
            self._pipelines[(cfg.name, mode)] = Pipeline(cfg.settings, retriever=view, llm=self.llm)
        return self._pipelines[(cfg.name, mode)]


def title_index(store: Any) -> dict[str, str]:
    """normalised title -> paper id, for every paper in the store."""
    index: dict[str, str] = {}
    for _ids, _docs, metas in store.iter_chunks(include_documents=False):
        for meta in metas:
            if int(meta.get("chunk_index", 0)) == 0:
                index[normalize_title(str(meta.get("title", "")))] = str(meta["paper_id"])
    return index


def resolve_gold(questions: Sequence[Question], index: dict[str, str], where: str) -> dict[str, list[str]]:
    """question id -> gold paper ids; every gold title missing from the index is named."""
    gold: dict[str, list[str]] = {}
    missing: list[str] = []
    for q in questions:
        ids = []
        for title in q.gold_titles:
            pid = index.get(normalize_title(title))
            if pid is None:
                near = difflib.get_close_matches(normalize_title(title), list(index), n=1, cutoff=0.8)
                hint = f" (closest indexed title: {near[0]!r})" if near else ""
                missing.append(f"{q.id}: {title!r}{hint}")
            else:
                ids.append(pid)
        gold[q.id] = ids
    if missing:
        raise InputError(
            f"{len(missing)} gold title(s) are not in the index at {where}:\n  " + "\n  ".join(missing)
            + "\nfix the title in the question file, or ingest the paper (rag-papers ingest PATH)"
        )
    return gold


# -- the judge --------------------------------------------------------------------------
class Judge:
    """Faithfulness (as RAGAS defines it) and citation support (as ALCE does), asked of an LLM."""

    def __init__(self, llm: Any) -> None:
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
        text = re.sub(r"\s*\[\d+(?:\s*[,;]\s*\d+)*\]", "", answer)
        raw = _json_object(self._ask(JUDGE_STATEMENTS.format(question=question, answer=text)))
        statements = [s for s in (raw or {}).get("statements", []) if isinstance(s, str) and s.strip()]
        if not statements:
            return {"faithfulness": None, "statements": [], "note": "judge gave no statements"}
        numbered = "\n".join(f"{i}. {s}" for i, s in enumerate(statements, start=1))
        context = "\n\n".join(contexts)
        raw = _json_object(self._ask(JUDGE_VERDICTS.format(context=context, statements=numbered)))
        verdicts: dict[int, bool] = {}
        for v in (raw or {}).get("verdicts", []):
            if isinstance(v, dict) and isinstance(v.get("supported"), bool):
                try:
                    verdicts[int(v.get("statement"))] = v["supported"]
                except (TypeError, ValueError):
                    continue
        rows = [{"statement": s, "supported": verdicts.get(i)} for i, s in enumerate(statements, start=1)]
        judged = [r["supported"] for r in rows if r["supported"] is not None]
        score = sum(judged) / len(judged) if judged else None
        return {"faithfulness": score, "statements": rows, "note": None if judged else "judge gave no verdicts"}

    def citation_support(self, answer: str, contexts: Sequence[str]) -> dict[str, Any]:
        """Share of cited sentences that their cited sources, together, support."""
        from rag_papers.answer import cited_numbers
        from rag_papers.evidence import split_sentences

        rows = []
        for sentence in split_sentences(answer):
            nums = [n for n in dict.fromkeys(cited_numbers(sentence)) if 1 <= n <= len(contexts)]
            if not nums:
                continue
            claim = re.sub(r"\s*\[\d+(?:\s*[,;]\s*\d+)*\]", "", sentence).strip()
            sources = "\n\n".join(f"[{n}] {contexts[n - 1]}" for n in nums)
            word = self._ask(JUDGE_CITATION.format(sources=sources, claim=claim)).strip().lower()
            verdict = True if word.startswith("yes") else False if word.startswith("no") else None
            rows.append({"sentence": claim, "sources": nums, "supported": verdict})
        judged = [r["supported"] for r in rows if r["supported"] is not None]
        return {"citation_support": sum(judged) / len(judged) if judged else None, "cited_sentences": rows}


def _json_object(text: str) -> dict[str, Any] | None:
    m = re.search(r"\{.*\}", text, re.DOTALL)
    if not m:
        return None
    try:
        value = json.loads(m.group(0))
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


# -- small helpers ----------------------------------------------------------------------
def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@lru_cache(maxsize=8)
def _encoding(model: str) -> Any:
    import tiktoken

    try:
        return tiktoken.encoding_for_model(model)
    except KeyError:  # local servers' model names: count as OpenAI's current models do
        return tiktoken.get_encoding("cl100k_base")


def count_tokens(text: str, model: str) -> int:
    return len(_encoding(model).encode(text))


def chat_tokens(messages: Sequence[dict[str, str]], model: str) -> int:
    """Prompt tokens of a chat request: content plus OpenAI's per-message framing (3 + 3)."""
    return sum(count_tokens(m.get("content", ""), model) + 3 for m in messages) + 3


def git_info() -> dict[str, Any]:
    """The code's git revision and whether the tree had uncommitted changes (None outside git)."""
    here = Path(__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", "-C", str(here), *args], capture_output=True, text=True, timeout=10,
                                 check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    rev = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"revision": rev, "dirty": bool(status) if status is not None else None}


def index_info(store: Any) -> dict[str, Any]:
    """Chunks and the store's change stamp: a re-ingest invalidates cached results."""
    chunks = store.count_chunks()
    if not chunks:
        raise IndexNotFoundError(
            f'no papers indexed in {store.location} — run "rag-papers ingest --sample" or "rag-papers ingest PATH" first'
        )
    meta = store.collection.metadata or {}
    return {"location": store.location, "chunks": chunks, "version": meta.get("bm25_version"),
            "embed_model": meta.get("embed_model")}


@contextmanager
def _timed(what: str) -> Iterator[None]:
    t0 = time.perf_counter()
    yield
    log.info("eval: %s took %.1f s", what, time.perf_counter() - t0)


def _progress(iterable: Iterable[Any], *, desc: str, total: int, enabled: bool) -> Iterable[Any]:
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, total=total, file=sys.stderr, disable=not enabled, unit="q", leave=False)


# -- running one question ---------------------------------------------------------------
def run_retrieval(retriever: Any, question: str, method: str) -> dict[str, Any]:
    """The top max(KS) papers for one question, with scores and timing."""
    t0 = time.perf_counter()
    papers = retriever.retrieve(question, k=max(metrics.KS), method=method)
    latency = time.perf_counter() - t0
    ranked = [
        {"paper_id": p.paper_id, "title": p.title, "score": p.score, "dense_rank": p.dense_rank,
         "bm25_rank": p.bm25_rank}
        for p in papers
    ]
    return {"ranked": ranked, "latency_s": round(latency, 6)}


def run_answer(pipeline: Any, question: str, mode: str) -> dict[str, Any]:
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
        tokens = {"prompt": chat_tokens(messages, answer.model), "completion": count_tokens(draft, answer.model)}
    return {
        "mode": answer.mode,
        "model": answer.model,
        "text": answer.text,
        "draft": draft,
        "abstained": answer.abstained,
        "citations": [
            {"number": c.number, "paper_id": c.paper_id, "title": c.title, "quote": c.quote,
             "added_by_code": c.added_by_code}
            for c in answer.citations
        ],
        "contexts": [{"paper_id": p.paper_id, "title": p.title, "abstract": p.abstract} for p in answer.contexts],
        "dropped_citations": list(answer.dropped_citations),
        "usage_reported": dict(answer.usage),
        "timings": dict(answer.timings),
        "latency_s": round(latency, 6),
        "ttft_s": None if ttft is None else round(ttft, 6),
        "tokens": tokens,
    }


def score_answer(q: Question, gold: Sequence[str], raw: dict[str, Any], facts: dict[str, Any] | None,
                 judged: dict[str, Any] | None, price: tuple[float, float] | None) -> dict[str, Any]:
    """Per-question answer metrics (the row metrics.summarize_answers aggregates)."""
    from rag_papers.answer import cited_numbers

    cited_papers = [c["paper_id"] for c in raw["citations"]]
    answered_gold = q.answerable and bool(gold) and not raw["abstained"]
    coverage = None
    if q.answerable and q.answer_facts:
        matches = [metrics.FactMatch(**m) for m in (facts or {}).get("matches", [])]
        coverage = 0.0 if raw["abstained"] else metrics.fact_coverage(matches)
    is_llm = raw["mode"] != "extractive"
    cost = metrics.cost_usd(raw["tokens"]["prompt"], raw["tokens"]["completion"], price) if is_llm else 0.0
    return {
        "type": q.type,
        "answerable": q.answerable,
        "has_gold": bool(gold),
        "abstained": raw["abstained"],
        "error": None,
        "citation_validity": None if raw["abstained"] else metrics.citation_validity(
            cited_numbers(raw["draft"]), len(raw["contexts"])),
        "citation_precision": metrics.citation_precision(cited_papers, gold) if answered_gold else None,
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


# -- the run ----------------------------------------------------------------------------
def evaluate(
    questions_path: str | Path | None = None,
    *,
    mode: str = "both",
    configs: Sequence[EvalConfig | dict[str, Any] | str | Path] = (),
    out_dir: str | Path,
    settings: Settings | None = None,
    retriever: Any = None,
    llm: Any = None,
    judge: Any = None,
    use_judge: bool = True,
    use_cache: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate retrieval and/or answers of the built-in and extra configurations; write reports.

    `configs` adds configurations to hybrid/bm25/dense ({"name", "settings"} dicts or JSON
    files). `retriever` and `llm` replace the ones the settings would build (for the default
    configurations); `judge` is the LLM that grades faithfulness and citation support
    (default: the configured LLM when settings resolve to openai; none otherwise).
    Returns the report (the content of report.json).
    """
    started = time.time()
    settings = settings or Settings()
    if mode not in MODES:
        raise ConfigError(f"unknown eval mode {mode!r} — use one of: {', '.join(MODES)}")
    qpath = Path(questions_path) if questions_path else DEFAULT_QUESTIONS
    questions = load_questions(qpath)
    cfgs = default_configs(settings) + [c if isinstance(c, EvalConfig) else load_config(c, settings) for c in configs]
    names = [c.name for c in cfgs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"configuration name(s) {', '.join(dupes)} used twice (hybrid, bm25 and dense are built in)"
                          " — give each --config a name of its own")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run = _Run(questions, cfgs, settings, ResultCache(out / CACHE_FILE, enabled=use_cache),
               _Runtime(settings, retriever=retriever, llm=llm), progress)

    llm_configured = llm is not None or settings.resolved_mode() == "openai"
    answer_modes = (["extractive"] + (["openai"] if llm_configured else [])) if mode != "retrieval" else []
    judge_obj = None
    if use_judge and mode != "retrieval":
        if judge is not None:
            judge_obj = Judge(judge)
        elif settings.resolved_mode() == "openai":
            from rag_papers.llm import make_llm

            judge_obj = Judge(llm if llm is not None else make_llm(settings))

    if mode in ("retrieval", "both"):
        with _timed("retrieval"):
            run.retrieve_all()
    for amode in answer_modes:
        with _timed(f"answers ({amode})"):
            run.answer_all(amode)
        with _timed(f"fact matching ({amode})"):
            run.match_facts(amode)
        if judge_obj is not None:
            with _timed(f"judge ({amode})"):
                run.judge_all(amode, judge_obj)

    from rag_papers import report as report_mod

    per_question, report = _assemble(run, answer_modes, judge_obj, mode)
    judge_info = None
    if judge_obj is not None:
        p_tok = sum(r.get("tokens", {}).get("prompt", 0) for r in run.judged.values())
        c_tok = sum(r.get("tokens", {}).get("completion", 0) for r in run.judged.values())
        judge_info = {"model": judge_obj.model, "prompt_tokens": p_tok, "completion_tokens": c_tok,
                      "cost_usd": metrics.cost_usd(p_tok, c_tok, settings.prices.get(judge_obj.model))}
    report["run"] = {
        "git": git_info(),
        "settings_hash": settings.settings_hash(),
        "questions_path": str(qpath),
        "questions_sha256": file_sha256(qpath),
        "n_questions": len(questions),
        "mode": mode,
        "answer_modes": answer_modes,
        "judge": judge_info,
        "index": next(iter(run.indexes.values())) if len(run.indexes) == 1 else run.indexes,
        "cache": {"file": CACHE_FILE, "enabled": use_cache, "hits": run.cache.hits, "misses": run.cache.misses},
        "started_at": datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds"),
        "duration_s": round(time.time() - started, 3),
        "python": sys.version.split()[0],
    }
    report["files"] = report_mod.write_all(report, per_question, out)
    return report


Key3 = tuple[str, str, str]  # question id, config name, answer mode


class _Run:
    """One evaluation run: its inputs, cache and raw results, filled phase by phase."""

    def __init__(self, questions: Sequence[Question], cfgs: Sequence[EvalConfig], settings: Settings,
                 cache: ResultCache, rt: _Runtime, progress: bool) -> None:
        self.questions, self.cfgs, self.settings = list(questions), list(cfgs), settings
        self.cache, self.rt, self.progress = cache, rt, progress
        self.texts = _question_texts(questions, settings)
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
        self._fact_embed = _LazyEmbed(lambda: rt.embed(settings))

    def key(self, kind: str, q: Question, cfg: EvalConfig, *extra: Any) -> str:
        """Question id and content + config hash + settings hash + index version (+ mode, text, ...)."""
        version = self.indexes[self.rt.store_key(cfg.settings)]["version"]
        return self.cache.key(kind, q.id, q.digest(), cfg.config_hash, self.settings.settings_hash(), version, *extra)

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
                memo.prefetch_queries([self.texts[q.id] for q in todo])
            for q in _progress(todo, desc=f"retrieval {cfg.name}", total=len(todo), enabled=self.progress):
                raw = run_retrieval(ret, self.texts[q.id], cfg.method)
                self.cache.put(self.key("retrieval", q, cfg), raw, kind="retrieval", question=q.id, config=cfg.name)
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
        for q, cfg in _progress(pending, desc=f"answers ({amode})", total=len(pending), enabled=self.progress):
            try:
                raw = run_answer(self.rt.pipeline(cfg, amode), self.texts[q.id], amode)
            except RagPapersError as exc:  # one failed answer must not lose the others; not cached
                log.warning("question %s (%s, %s) failed: %s", q.id, cfg.name, amode, exc)
                self.errors[(q.id, cfg.name, amode)] = str(exc)
                continue
            self.cache.put(self.key("answer", q, cfg, amode), raw, kind="answer", question=q.id, config=cfg.name,
                           mode=amode)
            self.answers[(q.id, cfg.name, amode)] = raw

    def _prefetch(self, pending: Sequence[tuple[Question, EvalConfig]]) -> None:
        """Embed the questions and the abstract sentences extractive answers will score, in big batches."""
        from rag_papers.evidence import split_sentences

        by_store: dict[str, tuple[EvalConfig, set[str], set[str]]] = {}
        for q, cfg in pending:
            _, ids, texts = by_store.setdefault(self.rt.retriever_key(cfg.settings), (cfg, set(), set()))
            texts.add(self.texts[q.id])
            ids.update(p["paper_id"] for p in self.retrieved.get((q.id, cfg.name), {}).get("ranked", [])[: cfg.settings.k])
        for cfg, ids, texts in by_store.values():
            memo = self.rt.embed(cfg.settings)
            memo.prefetch_queries(sorted(texts))
            if ids:
                sentences = []
                for meta in self.rt.store(cfg.settings).get_papers(sorted(ids)).values():
                    sentences.extend(split_sentences(str(meta.get("abstract", ""))) or [str(meta.get("title", ""))])
                memo.prefetch_texts(sentences)

    def match_facts(self, amode: str) -> None:
        for cfg in self.cfgs:
            for q in self.questions:
                raw = self.answers.get((q.id, cfg.name, amode))
                if raw is None or not q.answer_facts or not q.answerable:
                    continue
                fkey = self.key("facts", q, cfg, amode, raw["text"], FACTS_VERSION)
                rec = self.cache.get(fkey)
                if rec is None:
                    rec = {"matches": [metrics.match_fact(f, raw["text"], embed=self._fact_embed).to_dict()
                                       for f in q.answer_facts]}
                    self.cache.put(fkey, rec, kind="facts", question=q.id, config=cfg.name, mode=amode)
                self.fact_matches[(q.id, cfg.name, amode)] = rec

    def judge_all(self, amode: str, judge: Judge) -> None:
        todo = [(q, cfg) for cfg in self.cfgs for q in self.questions
                if (q.id, cfg.name, amode) in self.answers and not self.answers[(q.id, cfg.name, amode)]["abstained"]]
        for q, cfg in _progress(todo, desc=f"judge ({amode})", total=len(todo), enabled=self.progress):
            raw = self.answers[(q.id, cfg.name, amode)]
            jkey = self.key("judge", q, cfg, amode, raw["text"], judge.model)
            rec = self.cache.get(jkey)
            if rec is None:
                try:
                    rec = _judge_answer(judge, q, raw)
                except RagPapersError as exc:
                    log.warning("judging %s (%s, %s) failed: %s", q.id, cfg.name, amode, exc)
                    continue
                self.cache.put(jkey, rec, kind="judge", question=q.id, config=cfg.name, mode=amode)
            self.judged[(q.id, cfg.name, amode)] = rec


def _question_texts(questions: Sequence[Question], settings: Settings) -> dict[str, str]:
    """Questions as the pipeline sees them (validated, white space folded)."""
    from rag_papers.answer import validate_question
    from rag_papers.errors import QuestionError

    out = {}
    for q in questions:
        try:
            out[q.id] = validate_question(q.question, settings)
        except QuestionError as exc:
            raise InputError(f"question {q.id}: {exc}") from None
    return out


class _LazyEmbed:
    """The fact matcher's embedding function; the model loads only if a fact needs it."""

    def __init__(self, factory: Callable[[], MemoEmbed]) -> None:
        self.factory = factory
        self.model: MemoEmbed | None = None

    def __call__(self, texts: list[str]) -> list[list[float]]:
        if self.model is None:
            self.model = self.factory()
        return self.model.get_text_embedding_batch(texts)


def _judge_answer(judge: Judge, q: Question, raw: dict[str, Any]) -> dict[str, Any]:
    before = (judge.prompt_tokens, judge.completion_tokens)
    abstracts = [f"{c['title']}. {c['abstract']}" for c in raw["contexts"]]
    rec = judge.faithfulness(q.question, raw["text"], abstracts)
    rec.update(judge.citation_support(raw["text"], abstracts))
    rec["tokens"] = {"prompt": judge.prompt_tokens - before[0], "completion": judge.completion_tokens - before[1]}
    return rec


def _assemble(run: _Run, answer_modes: Sequence[str], judge: Judge | None,
              mode: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per-question records and the report's "configs" section, scored from the raw results."""
    cfgs, questions = run.cfgs, run.questions
    retrieved, answers, facts, judged, errors = run.retrieved, run.answers, run.fact_matches, run.judged, run.errors
    per_question: list[dict[str, Any]] = []
    ret_rows: dict[str, list[dict[str, Any]]] = {c.name: [] for c in cfgs}
    ans_rows: dict[tuple[str, str], list[dict[str, Any]]] = {(c.name, m): [] for c in cfgs for m in answer_modes}
    for cfg in cfgs:
        for q in questions:
            gold = run.gold(q, cfg)
            rec: dict[str, Any] = {
                "id": q.id, "config": cfg.name, "question": q.question, "type": q.type, "answerable": q.answerable,
                "gold": [{"title": t, "paper_id": g} for t, g in zip(q.gold_titles, gold)],
                "retrieval": None, "answers": {},
            }
            raw = retrieved.get((q.id, cfg.name))
            if raw is not None:
                ids = [p["paper_id"] for p in raw["ranked"]]
                order = metrics.break_ties(ids, [p["score"] for p in raw["ranked"]], gold)
                m = metrics.retrieval_metrics(order, gold) if (q.answerable and gold) else None
                rec["retrieval"] = {**raw, "gold_ranks": metrics.gold_ranks(order, gold), "metrics": m}
                ret_rows[cfg.name].append({"type": q.type, "metrics": m, "latency_s": raw["latency_s"]})
            for amode in answer_modes:
                key = (q.id, cfg.name, amode)
                if key in errors:
                    rec["answers"][amode] = {"error": errors[key]}
                    ans_rows[(cfg.name, amode)].append({"type": q.type, "answerable": q.answerable, "error": errors[key]})
                    continue
                raw_a = answers.get(key)
                if raw_a is None:
                    continue
                price = cfg.settings.prices.get(raw_a["model"])
                row = score_answer(q, gold, raw_a, facts.get(key), judged.get(key), price)
                ans_rows[(cfg.name, amode)].append(row)
                rec["answers"][amode] = {
                    **{k: v for k, v in raw_a.items() if k != "contexts"},
                    "contexts": [{"paper_id": c["paper_id"], "title": c["title"]} for c in raw_a["contexts"]],
                    "facts": (facts.get(key) or {}).get("matches", []),
                    "judge": judged.get(key),
                    "metrics": {k: v for k, v in row.items() if k not in ("type", "answerable", "error")},
                }
            per_question.append(rec)

    not_judged = None if judge is not None else NOT_JUDGED
    configs: dict[str, Any] = {}
    for cfg in cfgs:
        entry: dict[str, Any] = {
            "method": cfg.method, "baseline": cfg.baseline, "overrides": cfg.overrides,
            "settings_hash": cfg.settings.settings_hash(), "config_hash": cfg.config_hash,
            "retrieval": None, "answers": None,
        }
        if mode in ("retrieval", "both"):
            rows = ret_rows[cfg.name]
            entry["retrieval"] = {
                "overall": metrics.summarize_retrieval(rows),
                "by_type": {t: metrics.summarize_retrieval([r for r in rows if r["type"] == t])
                            for t in _types(rows) if any(r["type"] == t and r["metrics"] for r in rows)},
            }
        if answer_modes:
            entry["answers"] = {}
            for amode in answer_modes:
                rows = ans_rows[(cfg.name, amode)]
                entry["answers"][amode] = {
                    "overall": metrics.summarize_answers(rows, not_judged=not_judged),
                    "by_type": {t: metrics.summarize_answers([r for r in rows if r["type"] == t], not_judged=not_judged)
                                for t in _types(rows)},
                }
        configs[cfg.name] = entry
    baselines = [c.name for c in cfgs if c.baseline]
    for cfg in cfgs:
        if cfg.baseline:
            continue
        entry = configs[cfg.name]
        if entry["retrieval"]:
            entry["retrieval"]["vs_best_baseline"] = metrics.compare_to_baselines(
                entry["retrieval"]["overall"], {b: configs[b]["retrieval"]["overall"] for b in baselines})
        for amode in answer_modes:
            entry["answers"][amode]["vs_best_baseline"] = metrics.compare_to_baselines(
                entry["answers"][amode]["overall"], {b: configs[b]["answers"][amode]["overall"] for b in baselines})
    report = {"schema_version": SCHEMA_VERSION, "run": {}, "baselines": baselines, "configs": configs,
              "metric_definitions": "eval/README.md"}
    return per_question, report


def _types(rows: Iterable[dict[str, Any]]) -> list[str]:
    return sorted({r["type"] for r in rows})


# -- the CI gate ------------------------------------------------------------------------
def parse_floor(text: str) -> tuple[str, float]:
    """'recall@5=0.95' -> ('recall@5', 0.95), checked against the retrieval metric names."""
    name, sep, value = text.partition("=")
    name = name.strip().lower()
    known = (*metrics.RETRIEVAL_KEYS, "latency_p50_s", "latency_p95_s")
    if not sep or name not in known:
        raise ConfigError(f"--fail-under {text!r}: use METRIC=VALUE with METRIC one of {', '.join(known)}")
    try:
        return name, float(value)
    except ValueError:
        raise ConfigError(f"--fail-under {text!r}: {value!r} is not a number") from None


def check_floors(report: dict[str, Any], floors: Sequence[tuple[str, float]], config: str = GATE_CONFIG) -> list[str]:
    """Failures of the gate: the named config's overall retrieval metrics below their floors."""
    entry = report["configs"].get(config) or {}
    overall = (entry.get("retrieval") or {}).get("overall")
    if overall is None:
        return [f"{config}: no retrieval metrics to check (run with --mode retrieval or both)"]
    failures = []
    for name, floor in floors:
        value = overall.get(name)
        if value is None:
            failures.append(f"{config} {name} was not measured (floor {floor})")
        elif value < floor:
            failures.append(f"{config} {name} = {value:.4f} is below the floor {floor}")
    return failures


# -- command line -----------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--questions", type=Path, default=None,
                        help="question file (.jsonl, the format of eval/dev_questions.jsonl; that file by default)")
    parser.add_argument("--mode", choices=MODES, default="both", help="what to evaluate (default: both)")
    parser.add_argument("--config", action="append", default=[], type=Path, metavar="FILE.json",
                        help='extra configuration {"name": ..., "settings": {...}}; repeat for more')
    parser.add_argument("--out", type=Path, required=True, help="output folder (reports, plots, cache)")
    parser.add_argument("--fail-under", action="append", default=[], metavar="METRIC=VALUE",
                        help="exit 1 when hybrid's overall retrieval METRIC is below VALUE, e.g. recall@5=0.95")
    parser.add_argument("--no-judge", action="store_true", help="skip the LLM judge even when an LLM is configured")
    parser.add_argument("--no-cache", action="store_true", help="ignore and do not write the result cache")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run_cli(args: argparse.Namespace) -> int:
    floors = [parse_floor(f) for f in args.fail_under]  # checked before the run, not after it
    if floors and args.mode == "answer":
        raise ConfigError("--fail-under checks retrieval metrics — use --mode retrieval or both")
    settings = Settings(home=Path(args.home)) if getattr(args, "home", None) else Settings()
    report = evaluate(
        args.questions, mode=args.mode, configs=args.config, out_dir=args.out, settings=settings,
        use_judge=not args.no_judge, use_cache=not args.no_cache, progress=not args.no_progress,
    )
    from rag_papers.report import summary_lines

    print("\n".join(summary_lines(report)))
    print(f"\nreport: {Path(args.out) / report['files']['report_md']}")
    failures = check_floors(report, floors)
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


__all__ = [
    "EvalConfig",
    "Judge",
    "Question",
    "check_floors",
    "default_configs",
    "evaluate",
    "load_config",
    "load_questions",
    "parse_floor",
]
