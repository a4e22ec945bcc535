"""Evaluation inputs: question files and named configurations (Settings overrides)."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rag_papers import _offline  # noqa: F401
from rag_papers.errors import ConfigError, InputError
from rag_papers.evaluation.cache import sha
from rag_papers.settings import Settings

log = logging.getLogger(__name__)

MODES = ("retrieval", "answer", "both")
BASELINES = ("bm25", "dense")
GATE_CONFIG = "hybrid"
DEFAULT_QUESTIONS = Path(__file__).resolve().parents[2] / "eval" / "dev_questions.jsonl"


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
        data = [
            self.id,
            self.question,
            self.type,
            self.gold_titles,
            self.answer_facts,
            self.answerable,
        ]
        return sha(json.dumps(data))


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
            raise InputError(f'{where}: each line needs at least "id" and "question" (text)')
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
            raise InputError(
                f"{where}: question {qid} is unanswerable but lists gold_titles — drop one"
            )
        out.append(
            Question(
                qid,
                rec["question"],
                str(rec.get("type", "unknown")),
                tuple(gold),
                tuple(facts),
                answerable,
            )
        )
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
        data = {
            "name": self.name,
            "overrides": self.overrides,
            "settings": self.settings.settings_hash(),
        }
        return sha(json.dumps(data, sort_keys=True, default=str))[:12]


def derive_settings(
    base: Settings, overrides: dict[str, Any], *, origin: str = "config"
) -> Settings:
    """Base settings with overrides applied and validated (unknown fields are errors)."""
    unknown = sorted(set(overrides) - set(Settings.model_fields))
    if unknown:
        raise ConfigError(
            f"{origin}: unknown setting(s) {', '.join(unknown)} — see .env.example for the names"
        )
    try:
        return Settings(**{**base.model_dump(), **overrides})
    except ValidationError as exc:
        raise ConfigError(
            f"{origin}: invalid settings: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}"
        ) from None


def default_configs(base: Settings) -> list[EvalConfig]:
    """hybrid (ours) next to the bm25-only and dense-only baselines."""
    return [
        EvalConfig(
            name, derive_settings(base, {"retriever": name}), {"retriever": name}, name in BASELINES
        )
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
        raise ConfigError(
            f'{origin}: needs "name" (letters, digits, _ . -) and "settings" (an object)'
        )
    overrides = data.get("settings", {})
    if not isinstance(overrides, dict):
        raise ConfigError(f'{origin}: "settings" must be an object of Settings overrides')
    return EvalConfig(name, derive_settings(base, overrides, origin=origin), dict(overrides))
