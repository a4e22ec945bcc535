"""A conversation in the terminal, the way `llm chat` works: load once, then ask and follow up.

    rag-papers repl            # or: rag-papers ask -i
    > What is Matryoshka Representation Learning?
    > what speed-ups does it report?
    > exit                     # or Ctrl-D; "new" starts a fresh conversation

The models and indexes load once at start-up; each answer is printed the way `ask` prints
it. History stays in the session's Assistant, so follow-ups are made standalone.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
from typing import TextIO

from rag_papers.app.handlers import store_retriever
from rag_papers.app.options import filters_from, mode_from, settings_from
from rag_papers.app.terminal import clean, show_answer, style_for
from rag_papers.errors import RagPapersError

EXIT = {"exit", "quit", "/exit", "/quit", ":q"}
NEW = {"new", "/new", "/reset"}
PROMPT = "> "


def _read(prompt: str, stdin: TextIO, stdout: TextIO) -> str:
    """One line of input; raises EOFError at the end (Ctrl-D).

    Piped input gets no prompt; the question is echoed instead, so the output reads as a
    transcript (question, answer, question, ...)."""
    if stdin.isatty() and stdin is sys.stdin and stdout is sys.stdout:
        return input(prompt)  # line editing and history when readline is loaded
    line = stdin.readline()
    if not line:
        raise EOFError
    question = line.rstrip("\n")
    if question.strip():
        stdout.write(f"{prompt}{clean(question)}\n\n")
    return question


def run_repl(
    args: argparse.Namespace,
    first: str | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Answer questions until exit or Ctrl-D; returns the exit code."""
    from rag_papers.qa.chat import Assistant

    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    if stdin.isatty():
        with contextlib.suppress(ImportError):  # not on every platform
            import readline  # noqa: F401  (arrow keys and history for input())
    settings = settings_from(args)
    filters = filters_from(args)
    options = {"filters": filters, "k": args.k, "mode": mode_from(args)}
    assistant = Assistant(settings)
    pipeline = assistant.pipeline
    stdout.write("loading the index and the models …\n")
    stdout.flush()
    retriever = store_retriever(pipeline)
    retriever.ensure_index()
    _ = retriever.embed_model  # load now, not on the first question
    retriever.bm25()
    papers = retriever.store.count_papers()
    how = (
        f"answers written by {settings.llm_model}"
        if pipeline.resolve_mode(options["mode"]) == "llm"
        else "extractive answers (quoted from the abstracts)"
    )
    style = style_for(stdout, shutil.get_terminal_size().columns)  # wrapped at words on a tty
    for line in (
        f"{papers} papers · {how}. Ask a question; follow-ups keep the conversation.",
        '"new" starts over, "exit" or Ctrl-D leaves.',
    ):
        stdout.write(style.wrap(line) + "\n")
    pending = [first] if first else []
    while True:
        try:
            if pending:
                question = pending.pop()
                stdout.write(f"{PROMPT}{clean(question)}\n")
            else:
                question = _read(PROMPT, stdin, stdout)
        except EOFError:
            stdout.write("\n")
            return 0
        except KeyboardInterrupt:
            stdout.write("\n(Ctrl-D or exit to leave)\n")
            continue
        text = question.strip()
        if not text:
            continue
        if text.lower() in EXIT:
            return 0
        if text.lower() in NEW:
            assistant.reset()
            stdout.write("(a new conversation)\n")
            continue
        try:
            show_answer(assistant.stream(text, **options), stdout)
        except RagPapersError as exc:
            stdout.write(f"error: {exc}\n")
        except KeyboardInterrupt:
            stdout.write("\n(interrupted)\n")
        stdout.write("\n")
        stdout.flush()
