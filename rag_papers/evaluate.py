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
import json
import logging
import re
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rag_papers import (
    _offline,  # noqa: F401
    metrics,
)
from rag_papers.errors import ConfigError, IndexNotFoundError, InputError, RagPapersError
from rag_papers.eval_cache import CACHE_FILE, FACTS_VERSION, ResultCache, _sha, file_sha256
from rag_papers.eval_judge import Judge, chat_tokens, count_tokens
from rag_papers.eval_models import _LazyEmbed, _Runtime
from rag_papers.eval_score import NOT_JUDGED, _assemble
from rag_papers.settings import Settings
from rag_papers.types import normalize_title

log = logging.getLogger(__name__)

MODES = ("retrieval", "answer", "both")
BASELINES = ("bm25", "dense")
GATE_CONFIG = "hybrid"
DEFAULT_QUESTIONS = Path(__file__).resolve().parents[1] / "eval" / "dev_questions.jsonl"


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


# -- small helpers ----------------------------------------------------------------------
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


def _judge_answer(judge: Judge, q: Question, raw: dict[str, Any]) -> dict[str, Any]:
    before = (judge.prompt_tokens, judge.completion_tokens)
    abstracts = [f"{c['title']}. {c['abstract']}" for c in raw["contexts"]]
    rec = judge.faithfulness(q.question, raw["text"], abstracts)
    rec.update(judge.citation_support(raw["text"], abstracts))
    rec["tokens"] = {"prompt": judge.prompt_tokens - before[0], "completion": judge.completion_tokens - before[1]}
    return rec


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
    "NOT_JUDGED",
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
