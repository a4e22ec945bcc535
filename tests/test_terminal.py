"""The command line as a terminal shows it: fast help, rendering, one copy of the answer in a
real pseudo-terminal (tmux at 80 and 120 columns), the conversation, quiet logs, progress."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tmux_screen import Screen, cli

from rag_papers.app import console
from rag_papers.app.cli import build_parser, main
from rag_papers.app.terminal import Draft, Style, clean, display_width, render_answer, rows_used
from rag_papers.qa.pipeline import CANNOT_ANSWER, Pipeline
from rag_papers.types import Answer, Citation, RetrievedPaper

HEAVY = ("gradio", "chromadb", "llama_index.core", "torch", "sentence_transformers")
# every subcommand the parser has (argparse has no public API for them)
COMMANDS = sorted(build_parser()._subparsers._group_actions[0].choices)  # noqa: SLF001
MRL_QUESTION = "How does Matryoshka Representation Learning adapt one embedding to many budgets?"

IMPORTS_AFTER_HELP = """
import sys
from rag_papers.app.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
heavy = [m for m in {heavy!r} if m in sys.modules]
print("HEAVY:" + ",".join(heavy), file=sys.stderr)
"""


# -- help -----------------------------------------------------------------------------------
@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_imports_no_heavy_library(command: str | None) -> None:
    argv = [command, "--help"] if command else ["--help"]
    proc = subprocess.run(
        [sys.executable, "-c", IMPORTS_AFTER_HELP.format(argv=argv, heavy=HEAVY)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "usage: rag-papers" in proc.stdout
    assert "HEAVY:\n" in proc.stderr, proc.stderr  # none of gradio, chromadb, llama-index, torch


def test_every_option_has_help() -> None:
    parser = build_parser()
    ask = parser._subparsers._group_actions[0].choices["ask"]  # noqa: SLF001 (argparse has no API)
    text = ask.format_help()
    assert "the question, quoted" in text
    assert "extractive quotes the abstracts" in text and "--retriever" in text
    assert "--include-undated" in text
    for name, sub in parser._subparsers._group_actions[0].choices.items():  # noqa: SLF001
        for action in sub._actions:  # noqa: SLF001
            assert action.help, f"{name} {action.option_strings or action.dest} has no help text"


def test_options_after_the_subcommand(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    empty = tmp_path / "empty-home"
    assert main(["ask", "What is RAG?", "--home", str(empty)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no papers indexed") and str(empty) in err
    assert main(["stats", "--home", str(empty), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["papers"] == 0


def test_retriever_option_on_ask_chooses_the_search(
    capsys: pytest.CaptureFixture[str], small_index: Path, small_pipeline: Pipeline
) -> None:
    question = "Which papers distill knowledge into smaller models?"
    searched = {}
    for method in ("bm25", "dense"):
        argv = ["ask", question, "--retriever", method, "--json", "--home", str(small_index)]
        assert main(argv) == 0
        searched[method] = [c["paper_id"] for c in json.loads(capsys.readouterr().out)["contexts"]]
        found = small_pipeline.retriever.retrieve(question, k=5, method=method)
        assert searched[method] == [p.paper_id for p in found]
    assert searched["bm25"] != searched["dense"]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--year", "2025-2023"], "is reversed: 2025 comes after 2023 — did you mean 2023-2025?"),
        (["--since", "2024-05-01", "--until", "2024-01-01"], "--since 2024-05-01 is after"),
    ],
)
def test_reversed_ranges_are_errors(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str], small_index: Path
) -> None:
    assert main(["ask", "distillation", *argv, "--home", str(small_index)]) == 2
    assert says in capsys.readouterr().err


# -- rendering --------------------------------------------------------------------------------
def paper(n: int, **meta: object) -> RetrievedPaper:
    return RetrievedPaper(
        paper_id=f"p{n}",
        title=f"Paper number {n} about a rather long subject that needs wrapping at eighty columns",
        abstract="An abstract.",
        score=1.0 / n,
        metadata={"published": f"2023-0{n}-01", "arxiv_id": f"2301.0000{n}", **meta},
    )


def an_answer(**changes: object) -> Answer:
    contexts = [paper(1, authors="Ada Lovelace; Alan Turing"), paper(2), paper(3)]
    fields: dict[str, object] = {
        "question": "q",
        "text": "The first claim is supported by the first paper, a sentence long enough to wrap "
        "at eighty columns on any terminal [1].",
        "citations": [
            Citation(1, "p1", contexts[0].title, None, "2023-01-01", "The quoted sentence.", 1.0)
        ],
        "abstained": False,
        "contexts": contexts,
        "mode": "extractive",
        "model": "extractive",
        "timings": {"total": 0.5},
        "also_retrieved": contexts[1:],  # what the pipeline sets: the papers not cited
    }
    fields.update(changes)
    return Answer(**fields)  # type: ignore[arg-type]


def test_rendering_fits_80_columns_with_references_and_uncited_papers() -> None:
    text = render_answer(an_answer(), Style(color=True, width=79))
    plain = clean(text)
    assert all(display_width(line) <= 80 for line in plain.splitlines()), plain
    assert "References" in plain and "Also retrieved, not cited" in plain
    assert "Ada Lovelace, Alan Turing · 2023-01-01" in plain
    assert "https://arxiv.org/abs/2301.00001" in plain
    refs = plain.split("Also retrieved")[0]
    assert "Paper number 2" not in refs and "Paper number 2" in plain
    # uncited papers are bulleted: a number there would read as a citation of the answer
    others = plain.split("Also retrieved, not cited")[1]
    assert "- Paper number 2" in others and "[2]" not in others
    assert "mode: extractive (extractive)" not in plain
    assert "extractive (sentences quoted from the abstracts, no LLM)" in plain


def test_references_show_the_cited_papers_details_not_those_at_its_number() -> None:
    """Citations are numbered by first appearance: [1] here is retrieval rank 3. Its authors
    and link are rank 3's (they were rank 1's: Jamba was shown with Graph Mamba's authors)."""
    contexts = [paper(1, authors="Ada Lovelace"), paper(2), paper(3, authors="Grace Hopper")]
    cite = Citation(1, "p3", contexts[2].title, None, "2023-03-01", "A quote.", 1.0, rank=3)
    plain = clean(
        render_answer(an_answer(text="A claim [1].", citations=[cite], contexts=contexts))
    )
    refs = plain.split("Also retrieved")[0]
    assert "Grace Hopper" in refs and "https://arxiv.org/abs/2301.00003" in refs
    assert "Ada Lovelace" not in refs and "2301.00001" not in refs


def test_piped_output_has_no_escape_codes_or_wrapping() -> None:
    text = render_answer(an_answer(), Style())
    assert "\x1b" not in text
    assert "wrap at eighty columns on any terminal [1]." in text  # one line, as written


def test_control_sequences_from_papers_are_not_printed() -> None:
    evil = "Title \x1b]0;owned\x07with \x1b[2Jescapes\x1b[31m and \x07bells\x9b"
    answer = an_answer(
        contexts=[paper(1, authors="A \x1b[8mhidden"), paper(2)],
        citations=[Citation(1, "p1", evil, None, None, "quote \x1b[1A", 1.0)],
    )
    for style in (Style(), Style(color=True, width=79)):
        shown = render_answer(answer, style)
        without_our_colours = shown.replace("\x1b[0m", "").replace("\x1b[1m", "")
        without_our_colours = without_our_colours.replace("\x1b[2m", "").replace("\x1b[36m", "")
        assert "\x1b" not in without_our_colours and "\x07" not in shown
        assert "Title with escapes and bells" in clean(shown)


def test_an_abstention_is_said_once() -> None:
    text = render_answer(an_answer(text=CANNOT_ANSWER, citations=[], abstained=True))
    assert text.count(CANNOT_ANSWER) == 1 and "(abstained" not in text


def test_the_filter_note_counts_undated_papers() -> None:
    text = render_answer(an_answer(undated_excluded=378))
    assert "378 papers without a publication date were left out" in text
    assert "--include-undated" in text


def test_draft_is_erased_over_every_row_it_wrapped_onto() -> None:
    out = io.StringIO()
    draft = Draft(out, columns=10, lines=24)
    draft.add("x" * 25)
    draft.add("\nnext")
    assert rows_used(draft.shown, 10) == 4
    out.seek(0)
    out.truncate()
    draft.clear()
    assert out.getvalue() == "\r\x1b[3A\x1b[J"


def test_draft_that_would_scroll_off_screen_stops_growing() -> None:
    out = io.StringIO()
    draft = Draft(out, columns=10, lines=5)
    for _ in range(20):
        draft.add("word word ")
    assert rows_used(draft.shown, 10) <= 3


# -- a real terminal ---------------------------------------------------------------------------
@pytest.mark.parametrize("columns", [80, 120])
def test_the_answer_appears_once_in_a_real_terminal(
    columns: int, small_index: Path, small_pipeline: Pipeline
) -> None:
    expected = small_pipeline.run(MRL_QUESTION, mode="extractive")
    assert not expected.abstained and len(expected.text) > columns  # the draft wraps
    paragraphs = [p.strip() for p in expected.text.split("\n") if p.strip()]
    screen = Screen(columns)
    try:
        screen.command(cli("ask", MRL_QUESTION, "--home", str(small_index), "--mode", "extractive"))
        screen.type("echo ASK-ENDED")
        text = screen.wait_for("\nASK-ENDED")
    finally:
        screen.close()
    lines = text.splitlines()
    for para in paragraphs:
        start = para[: min(30, columns - 1)]
        assert sum(line.startswith(start) for line in lines) == 1, text
    assert text.count("References") == 1 and "papers searched" in text
    assert all(display_width(line) <= columns for line in lines)


def test_terminal_conversation_follow_up_and_exit(small_index: Path) -> None:
    screen = Screen(80)
    try:
        screen.command(cli("repl", "--home", str(small_index), "--mode", "extractive"))
        banner = screen.wait_for('"exit" or Ctrl-D leaves.')
        # the start-up lines wrap at words at 80 columns ("fol" / "low-ups" was cut mid-word)
        lines = banner.splitlines()
        for word in ("question;", "follow-ups", "keep", "conversation."):
            assert any(word in line for line in lines), banner
        screen.type("What is Matryoshka Representation Learning?")
        screen.wait_for("papers searched", count=1)
        screen.type("what speed-ups does it report?")
        text = screen.wait_for("papers searched", count=2)
        # the follow-up's "it" is the paper of the first answer: the session keeps the history
        assert text.count("[1] Matryoshka Representation Learning") == 2, text
        # and the line editor keeps the questions: Up brings back the last one
        screen.key("Up")
        screen.wait_for("> what speed-ups does it report?", count=2)
        screen.key("C-u")
        screen.type("new")
        screen.wait_for("(a new conversation)")
        screen.type("exit")
        screen.type("echo REPL-ENDED-$?")
        screen.wait_for("REPL-ENDED-0")
        screen.command(cli("ask", "-i", "--home", str(small_index)))
        screen.wait_for('"exit" or Ctrl-D leaves.', count=2)
        screen.key("C-d")
        screen.type("echo CTRL-D-ENDED-$?")
        screen.wait_for("CTRL-D-ENDED-0")
    finally:
        screen.close()


def test_ingest_on_a_narrow_terminal_wraps_at_words(tmp_path: Path) -> None:
    """At 60 columns nothing ingest prints is wrapped by the terminal itself (a row filled to
    the last column: the summary was cut mid-word, 'embedded i' / 'n 45.3 s')."""
    src = tmp_path / "papers.jsonl"
    rows = [{"title": f"Widget study {i}", "abstract": f"Widgets {i} fold."} for i in range(12)]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    screen = Screen(60)
    try:
        screen.command(cli("ingest", str(src), "--home", str(tmp_path / "home")))
        screen.type("echo INGEST-ENDED")
        text = screen.wait_for("\nINGEST-ENDED")
    finally:
        screen.close()
    lines = text.splitlines()  # from the first progress line to the next prompt
    start = next(i for i, line in enumerate(lines) if line.startswith("[0:"))
    end = next(i for i, line in enumerate(lines) if line.startswith("$ echo INGEST-ENDED"))
    shown = lines[start:end]
    assert any("read 12 papers: 12 new" in line for line in shown), text
    assert any("embedding chunks: 12/12" in line for line in shown), text
    assert all(display_width(line) < 60 for line in shown), text


def test_conversation_reads_lines_without_a_terminal(small_index: Path) -> None:
    proc = subprocess.run(
        cli("repl", "--home", str(small_index)),
        input="What is Matryoshka Representation Learning?\nwhat speed-ups does it report?\n",
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert proc.stdout.count("papers searched") == 2
    assert "\x1b" not in proc.stdout


# -- logs and progress -------------------------------------------------------------------------
def test_library_chatter_is_quiet_by_default_and_shown_with_v(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = tmp_path / "papers.jsonl"
    src.write_text(
        json.dumps({"title": "One paper", "abstract": "About distillation of models."}) + "\n"
    )
    assert main(["ingest", str(src), "--home", str(tmp_path / "a")]) == 0
    out, err = capsys.readouterr()
    assert "read 1 paper:" in out
    assert "bm25s" not in err and "DEBUG" not in err and "Overriding" not in err
    for phase in ("reading papers", "loading the embedding model", "embedding chunks: 1/1"):
        assert phase in err
    assert "building the keyword (BM25) index" in err
    assert main(["-v", "ingest", str(src), "--home", str(tmp_path / "b")]) == 0
    assert "Building index from IDs" in capsys.readouterr().err


def test_progress_repeats_itself_when_the_library_is_quiet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(console, "PIPE_EVERY_S", 0.05)
    out = io.StringIO()
    progress = console.Progress(out, tty=False)
    progress("loading the embedding model")
    deadline = time.monotonic() + 30
    while out.getvalue().count("loading the embedding model") < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    progress("embedding chunks", 5, 10)
    progress.close()
    lines = out.getvalue().splitlines()
    assert sum("loading the embedding model" in line for line in lines) >= 3
    assert lines[-1].endswith("embedding chunks: 5/10 (50%)")


def test_eval_names_each_phase_in_lines_when_piped(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    small_index: Path,
    tmp_path: Path,
) -> None:
    """`rag-papers eval 2> log`: every phase is a line as it starts, counts in lines too (tqdm
    wrote carriage returns, and "embedding questions…: 0/1" sat there for minutes)."""
    for name in ("RAG_PAPERS_MODE", "RAG_PAPERS_K", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    questions = tmp_path / "questions.jsonl"
    rows = [
        {"id": "q1", "type": "lookup", "answerable": True, "question": MRL_QUESTION,
         "gold_titles": ["Matryoshka Representation Learning"], "answer_facts": []},
        {"id": "q2", "type": "unanswerable", "answerable": False,
         "question": "What is the boiling point of liquid nitrogen?", "gold_titles": [],
         "answer_facts": []},
    ]  # fmt: skip
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    argv = ["eval", "--questions", str(questions), "--out", str(tmp_path / "out")]
    assert main([*argv, "--home", str(small_index), "--mode", "both"]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and "|" not in err, err  # lines, not a redrawn bar
    lines = err.splitlines()
    for phase in (
        "opening the index …",
        "retrieval hybrid: embedding the questions …",
        "retrieval hybrid: 2/2 (100%)",
        "retrieval dense: 2/2 (100%)",
        "embedding questions and abstract sentences …",
        "answers (extractive): 0/6 (0%)",
        "answers (extractive): 6/6 (100%)",
        "matching answer facts (extractive): 6/6 (100%)",
    ):
        assert any(line.endswith(phase) for line in lines), f"{phase!r} not in:\n{err}"


def test_titles_show_their_latex_rendered_in_references_and_uncited_papers() -> None:
    """ "O$^2$-Recon" and "$\\infty$-former" read as the answer's quotes do: rendered."""
    cited, other = paper(1), paper(2)
    cited.title, other.title = "O$^2$-Recon: Completing 3D Reconstruction", "$\\infty$-former"
    citation = Citation(1, "p1", cited.title, None, None, "The quoted sentence.", 1.0)
    answer = an_answer(citations=[citation], contexts=[cited, other], also_retrieved=[other])
    plain = clean(render_answer(answer, Style(color=False, width=79)))
    assert "O^2-Recon: Completing 3D Reconstruction" in plain and "∞-former" in plain
    assert "$" not in plain
