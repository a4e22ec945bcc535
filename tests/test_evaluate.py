"""The evaluation harness end to end on the small real index: reports, cache, gate, CLI, judge."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from fakes import ScriptedLLM

from rag_papers.app.cli import main
from rag_papers.errors import ConfigError, InputError
from rag_papers.evaluation.metrics import RETRIEVAL_KEYS, match_fact
from rag_papers.evaluation.run import NOT_JUDGED, Judge, check_floors, evaluate, parse_floor
from rag_papers.providers.llm import LLMReply
from rag_papers.qa.retrieve import Retriever
from rag_papers.settings import Settings

QUESTIONS = [
    {
        "id": "q1",
        "type": "lookup",
        "answerable": True,
        "question": "How can one embedding adapt to the computational constraints of different downstream tasks "
        "with coarse-to-fine representations?",
        "gold_titles": ["Matryoshka Representation Learning"],
        "answer_facts": [
            "a single embedding adapts to the computational constraints of downstream tasks",
            "up to 14x smaller embedding size for ImageNet-1K classification",
        ],
    },
    {
        "id": "q2",
        "type": "numeric",
        "answerable": True,
        "question": "By how much does replacing a leaked item's representation reduce semantic leakage in "
        "text-to-image models?",
        "gold_titles": [
            "Follow the Flow: On Information Flow Across Textual Tokens in Text-to-Image Models"
        ],
        "answer_facts": ["reduces semantic leakage by 85%"],
    },
    {
        "id": "q3",
        "type": "multi",
        "answerable": True,
        "question": "Which papers study how language model pre-training should change: re-warming the learning "
        "rate for continual pre-training, and prepending metadata to pre-training data?",
        "gold_titles": [
            "Continual Pre-Training of Large Language Models: How to (re)warm your model?",
            (
                "When Does Metadata Conditioning (NOT) Work for Language Model Pre-Training? "
                "A Study with Context-Free Grammars"
            ),
        ],
        "answer_facts": [],
    },
    {
        "id": "q4",
        "type": "unanswerable",
        "answerable": False,
        "question": "What is the boiling point of liquid nitrogen at sea level?",
        "gold_titles": [],
        "answer_facts": [],
    },
]


class CountingRetriever(Retriever):
    """The real Retriever, counting how often it is asked (to prove the cache answers instead)."""

    calls = 0

    def retrieve(self, question: str, **kwargs: Any) -> Any:
        type(self).calls += 1
        return super().retrieve(question, **kwargs)


def _settings(home: Path) -> Settings:
    return Settings(home=home, k=2, mode="extractive")


def _write_questions(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def first_run(
    small_index: Path, small_pipeline: Any, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """One real run (retrieval and extractive answers, 3 configs) shared by the tests below."""
    folder = tmp_path_factory.mktemp("eval")
    with pytest.MonkeyPatch.context() as mp:  # module scope: clear the environment ourselves
        for name in list(os.environ):
            if name.startswith(("OPENAI_", "RAG_PAPERS_")):
                mp.delenv(name)
        mp.chdir(folder)
        questions = _write_questions(folder / "questions.jsonl", QUESTIONS)
        settings = _settings(small_index)
        inner = small_pipeline.retriever
        retriever = CountingRetriever(settings, store=inner.store, embed_model=inner.embed_model)
        CountingRetriever.calls = 0
        report = evaluate(
            questions,
            mode="both",
            out_dir=folder / "out",
            settings=settings,
            retriever=retriever,
            progress=False,
        )
        return {
            "report": report,
            "questions": questions,
            "out": folder / "out",
            "settings": settings,
            "retriever": retriever,
            "calls": CountingRetriever.calls,
        }


def _copy_out(first_run: dict[str, Any], tmp_path: Path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(first_run["out"], out)
    return out


def test_report_files_follow_the_documented_schema(first_run: dict[str, Any]) -> None:
    out, report = first_run["out"], first_run["report"]
    for name in ("report.json", "report.md", "per_question.jsonl", "cache.jsonl"):
        assert (out / name).is_file(), name
    assert report["files"]["plots"] == ["recall_at_k.png", "by_type.png", "latency.png"]
    for plot in report["files"]["plots"]:
        assert (out / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk == json.loads(json.dumps(report, default=str))
    assert on_disk["schema_version"] == 1
    assert set(on_disk["configs"]) == {"hybrid", "bm25", "dense"}
    assert on_disk["baselines"] == ["bm25", "dense"]

    run = on_disk["run"]
    assert run["settings_hash"] == first_run["settings"].settings_hash()
    assert (
        run["questions_sha256"] == hashlib.sha256(first_run["questions"].read_bytes()).hexdigest()
    )
    assert set(run["git"]) == {"revision", "dirty"}
    assert run["answer_modes"] == ["extractive"] and run["judge"] is None

    hybrid = on_disk["configs"]["hybrid"]
    overall = hybrid["retrieval"]["overall"]
    assert overall["n"] == 3  # the unanswerable question has no gold papers
    assert set(RETRIEVAL_KEYS) <= set(overall)
    assert all(0.0 <= overall[k] <= 1.0 for k in RETRIEVAL_KEYS)
    assert set(hybrid["retrieval"]["by_type"]) == {"lookup", "numeric", "multi"}
    assert "recall@5" in hybrid["retrieval"]["vs_best_baseline"]
    assert "vs_best_baseline" not in on_disk["configs"]["bm25"]["retrieval"]

    answers = hybrid["answers"]["extractive"]["overall"]
    assert answers["n"] == 4 and answers["n_unanswerable"] == 1
    for key in (
        "answer_rate",
        "abstention_precision",
        "abstention_recall",
        "abstention_f1",
        "citation_validity",
        "citation_precision",
        "citation_recall",
        "fact_coverage",
        "latency_p50_s",
        "latency_p95_s",
        "tokens_prompt",
        "cost_usd",
    ):
        assert key in answers
    assert answers["faithfulness"] is None and answers["citation_support"] is None
    assert (
        answers["not_measured"]["faithfulness"]
        == NOT_JUDGED
        == "not measured: no judge LLM configured"
    )
    assert answers["tokens_prompt"] == 0 and answers["cost_usd"] == 0.0  # extractive: no LLM call

    md = (out / "report.md").read_text()
    assert "| recall@5 |" in md and "hybrid − best baseline" in md and "![recall_at_k.png]" in md


def test_per_question_records_hold_rankings_answers_and_metrics(first_run: dict[str, Any]) -> None:
    rows = [
        json.loads(line)
        for line in (first_run["out"] / "per_question.jsonl").read_text().splitlines()
    ]
    assert len(rows) == len(QUESTIONS) * 3
    q1 = next(r for r in rows if r["id"] == "q1" and r["config"] == "hybrid")
    gold_id = q1["gold"][0]["paper_id"]
    assert q1["retrieval"]["gold_ranks"] == {gold_id: 1}  # the question paraphrases its abstract
    assert q1["retrieval"]["metrics"]["mrr"] == 1.0
    assert len(q1["retrieval"]["ranked"]) == 10
    answer = q1["answers"]["extractive"]
    assert not answer["abstained"] and answer["citations"]
    assert answer["metrics"]["citation_recall"] == 1.0
    assert [f["fact"] for f in answer["facts"]] == QUESTIONS[0]["answer_facts"]
    q4 = next(r for r in rows if r["id"] == "q4" and r["config"] == "hybrid")
    assert q4["retrieval"]["metrics"] is None and q4["gold"] == []


def test_a_second_run_is_answered_from_the_cache(first_run: dict[str, Any], tmp_path: Path) -> None:
    assert first_run["calls"] > 0
    out = _copy_out(first_run, tmp_path)
    CountingRetriever.calls = 0
    again = evaluate(
        first_run["questions"],
        mode="both",
        out_dir=out,
        settings=first_run["settings"],
        retriever=first_run["retriever"],
        progress=False,
    )
    assert CountingRetriever.calls == 0
    assert again["run"]["cache"]["misses"] == 0 and again["run"]["cache"]["hits"] > 0
    for name, entry in again["configs"].items():
        assert (
            entry["retrieval"]["overall"]
            == first_run["report"]["configs"][name]["retrieval"]["overall"]
        )


def test_a_gold_title_missing_from_the_index_is_named(small_index: Path, tmp_path: Path) -> None:
    rows = [
        dict(QUESTIONS[0], gold_titles=["Matryoshka Representation Learnin"]),
        dict(QUESTIONS[1], id="q9", gold_titles=["A Paper Nobody Wrote About Anything"]),
    ]
    questions = _write_questions(tmp_path / "q.jsonl", rows)
    with pytest.raises(InputError) as err:
        evaluate(
            questions,
            mode="retrieval",
            out_dir=tmp_path / "out",
            settings=_settings(small_index),
            progress=False,
        )
    text = str(err.value)
    assert "2 gold title(s)" in text
    assert (
        "q1: 'Matryoshka Representation Learnin' (closest indexed title: 'matryoshka representation learning')"
        in text
    )
    assert "q9: 'A Paper Nobody Wrote About Anything'" in text
    assert "rag-papers ingest" in text


def test_bad_question_files_and_configs_are_refused(small_index: Path, tmp_path: Path) -> None:
    settings = _settings(small_index)
    dupes = _write_questions(tmp_path / "d.jsonl", [QUESTIONS[0], QUESTIONS[0]])
    with pytest.raises(InputError, match="'q1' is used twice"):
        evaluate(dupes, out_dir=tmp_path / "o", settings=settings, progress=False)
    good = _write_questions(tmp_path / "q.jsonl", QUESTIONS[:1])
    with pytest.raises(ConfigError, match="unknown setting.*top_k"):
        evaluate(
            good,
            configs=[{"name": "x", "settings": {"top_k": 3}}],
            out_dir=tmp_path / "o",
            settings=settings,
        )
    with pytest.raises(ConfigError, match="bm25 used twice"):
        evaluate(
            good,
            configs=[{"name": "bm25", "settings": {}}],
            out_dir=tmp_path / "o",
            settings=settings,
        )


def test_gate_names_the_metric_its_value_and_the_floor(first_run: dict[str, Any]) -> None:
    report = first_run["report"]
    value = report["configs"]["hybrid"]["retrieval"]["overall"]["recall@10"]
    assert check_floors(report, [parse_floor("recall@10=0.0")]) == []
    assert check_floors(report, [parse_floor("recall@10=1.01")]) == [
        f"hybrid recall@10 = {value:.4f} is below the floor 1.01"
    ]
    with pytest.raises(ConfigError, match="METRIC=VALUE"):
        parse_floor("precision=0.5")


def test_cli_eval_exits_non_zero_below_a_floor(
    first_run: dict[str, Any],
    small_index: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = _copy_out(
        first_run, tmp_path
    )  # same settings through the environment: served from the cache
    monkeypatch.setenv("RAG_PAPERS_K", "2")
    monkeypatch.setenv("RAG_PAPERS_MODE", "extractive")
    args = [
        "--home",
        str(small_index),
        "eval",
        "--questions",
        str(first_run["questions"]),
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main([*args, "--fail-under", "recall@10=0.1", "--fail-under", "mrr=0.1"]) == 0
    printed = capsys.readouterr()
    assert "hybrid" in printed.out and "recall@5" in printed.out
    assert main([*args, "--fail-under", "mrr=0.1", "--fail-under", "recall@10=1.01"]) == 1
    err = capsys.readouterr().err
    assert "FAIL: hybrid recall@10 = " in err and "below the floor 1.01" in err and "mrr" not in err
    assert json.loads((out / "report.json").read_text())["run"]["cache"]["misses"] == 0
    assert main([*args, "--fail-under", "bogus=1"]) == 2
    assert "--fail-under 'bogus=1'" in capsys.readouterr().err


def test_extra_configuration_runs_beside_the_built_in_ones(
    first_run: dict[str, Any], tmp_path: Path
) -> None:
    out = _copy_out(first_run, tmp_path)
    config = tmp_path / "strict.json"
    config.write_text(json.dumps({"name": "strict", "settings": {"abstain_threshold": 0.99}}))
    report = evaluate(
        first_run["questions"],
        mode="answer",
        configs=[config],
        out_dir=out,
        settings=first_run["settings"],
        retriever=first_run["retriever"],
        progress=False,
    )
    strict = report["configs"]["strict"]
    assert strict["overrides"] == {"abstain_threshold": 0.99} and not strict["baseline"]
    assert strict["retrieval"] is None
    ours = strict["answers"]["extractive"]["overall"]
    hybrid = report["configs"]["hybrid"]["answers"]["extractive"]["overall"]
    assert ours["answer_rate"] == 0.0 < hybrid["answer_rate"]  # nothing clears a 0.99 support bar
    assert ours["abstention_recall"] == 1.0
    assert "answer_rate" in strict["answers"]["extractive"]["vs_best_baseline"]


class RuleJudge:
    """A judge that answers by the kind of prompt: two statements, one supported; citations hold."""

    model = "rule-judge"

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def complete(self, messages: list[dict[str, str]]) -> LLMReply:
        prompt = messages[-1]["content"]
        self.prompts.append(prompt)
        if prompt.startswith("Break the answer"):
            return LLMReply('{"statements": ["first claim", "second claim"]}')
        if "For each numbered statement" in prompt:
            return LLMReply(
                'Here: {"verdicts": [{"statement": 1, "supported": true}, '
                '{"statement": 2, "supported": false}]}'
            )
        return LLMReply("Yes.")


def test_a_judge_measures_faithfulness_and_citation_support(
    first_run: dict[str, Any], tmp_path: Path
) -> None:
    out = _copy_out(first_run, tmp_path)
    judge = RuleJudge()
    report = evaluate(
        first_run["questions"],
        mode="answer",
        out_dir=out,
        settings=first_run["settings"],
        retriever=first_run["retriever"],
        judge=judge,
        progress=False,
    )
    overall = report["configs"]["hybrid"]["answers"]["extractive"]["overall"]
    assert overall["faithfulness"] == 0.5
    assert overall["citation_support"] == 1.0
    assert "faithfulness" not in overall["not_measured"]
    assert (
        report["run"]["judge"]["model"] == "rule-judge"
        and report["run"]["judge"]["prompt_tokens"] > 0
    )
    # The judge saw the abstracts the answer was given, and the answer without [n] markers.
    assert any("Matryoshka" in p for p in judge.prompts if "For each numbered statement" in p)
    assert not any(
        "[1]" in p.split("Answer:")[-1] for p in judge.prompts if p.startswith("Break the answer")
    )


def test_judge_replies_it_cannot_read_are_not_scored() -> None:
    judge = Judge(ScriptedLLM(["no json here"]))
    assert judge.faithfulness("q?", "An answer [1].", ["context"]) == {
        "faithfulness": None,
        "statements": [],
        "note": "judge gave no statements",
    }
    verdicts = (
        '{"verdicts": [{"statement": 1, "supported": true}, '
        '{"statement": 3, "supported": false}, {"statement": "x"}]}'
    )
    judge = Judge(ScriptedLLM(['{"statements": ["a", "b", "c"]}', verdicts]))
    out = judge.faithfulness("q?", "A. B. C.", ["context"])
    assert out["faithfulness"] == 0.5  # statement 2 got no verdict: left out, not counted as either
    judge = Judge(ScriptedLLM(["yes", "Perhaps."]))
    out = judge.citation_support(
        "Claim one [1]. Claim two [2]. No citation here. Bad [9].", ["s1", "s2"]
    )
    assert [r["supported"] for r in out["cited_sentences"]] == [True, None]
    assert out["citation_support"] == 1.0


def test_the_judge_checks_a_citation_against_the_paper_it_names() -> None:
    """[1] is the paper retrieved third: the judge must see that paper's abstract for it."""
    from rag_papers.evaluation.config import Question
    from rag_papers.evaluation.runner import judge_answer

    llm = ScriptedLLM(['{"statements": ["a"]}', '{"verdicts": []}', "yes"])
    contexts = [
        {"paper_id": f"p{n}", "title": f"T{n}", "abstract": f"Abstract {n}."} for n in (1, 2, 3)
    ]
    raw = {
        "text": "A claim [1].",
        "citations": [{"number": 1, "paper_id": "p3"}],
        "contexts": contexts,
    }
    q = Question(
        id="x", question="q?", type="lookup", gold_titles=(), answer_facts=(), answerable=True
    )
    out = judge_answer(Judge(llm), q, raw)
    prompt = llm.history[-1][-1]["content"]
    assert "Abstract 3." in prompt and "Abstract 1." not in prompt
    assert out["citation_support"] == 1.0


def test_fact_matcher_with_the_real_embedding_model(small_pipeline: Any) -> None:
    model = small_pipeline.retriever.embed_model

    def embed(texts: list[str]) -> list[list[float]]:
        return model.get_text_embedding_batch(texts)

    answer = (
        "To address these issues, we propose SAILER, a new Structure-Aware pre-traIned language model "
        "for LEgal case Retrieval [1]."
    )
    near = match_fact(
        "SAILER: structure-aware pre-trained model for legal case retrieval with an asymmetric "
        "encoder-decoder, attending to key legal elements",
        answer,
        embed=embed,
    )
    assert (
        near.matched and near.cosine is not None and near.term_overlap < 0.7
    )  # matched by the embedding
    far = match_fact(
        "pre-trained vision language models provide a reward classifier for legal retrieval",
        answer,
        embed=embed,
    )
    assert not far.matched and far.cosine is not None  # shares terms, but says something else
