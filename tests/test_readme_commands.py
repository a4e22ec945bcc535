"""Every command block of the README is run as written by something: .ci/readme_terminal.py
(reading README.md itself), tests/test_readme_library.py, or .ci/run's own lines. A new
block nobody runs fails here, and so does a reason kept for a block that is gone."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CI_RUN = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
BLOCK = re.compile(r"(?:<!-- ([\w-]+) -->\n)?```(bash|python|sh|console)\n(.*?)```", re.S)
# Marker -> who runs that block as written.
RUNNERS = {
    "install-command": ".ci/readme_terminal.py",
    "use-commands": ".ci/readme_terminal.py",
    "terminal-commands": ".ci/readme_terminal.py",
    "python-example": ".ci/readme_terminal.py",
    "library-commands": "tests/test_readme_library.py",
}
# Blocks that cannot run as written in CI, by their first line, and why.
NOT_RUN = {
    "export OPENAI_BASE_URL=http://127.0.0.1:11434/v1 RAG_PAPERS_LLM_MODEL=llama3.1:8b": (
        "needs an Ollama server with llama3.1:8b; the same OpenAI-compatible path runs "
        "against llama.cpp's server in `python -m pytest -m llm`"
    ),
}


def readme_terminal() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "readme_terminal", ROOT / ".ci/readme_terminal.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_readme_command_block_is_run_as_written() -> None:
    unrun = []
    reasons_used = set()
    for marker, _lang, body in BLOCK.findall(README):
        lines = [line for line in body.splitlines() if line.strip()]
        if marker in RUNNERS:
            continue
        if all(line in CI_RUN.splitlines() for line in lines):  # .ci/run runs it verbatim
            continue
        if lines and lines[0] in NOT_RUN:
            reasons_used.add(lines[0])
            continue
        unrun.append(body)
    assert unrun == [], "mark these blocks for a runner, run them in .ci/run, or say why not"
    assert reasons_used == set(NOT_RUN), "NOT_RUN names blocks the README no longer has"
    assert "python .ci/readme_terminal.py" in CI_RUN.splitlines()
    assert 'pip install -e ".[test]" && python -m pytest' in CI_RUN.splitlines()


def test_the_ci_script_reads_the_commands_from_the_readme_itself() -> None:
    module = readme_terminal()
    assert module.README == ROOT / "README.md"
    marked = {m for m, _lang, _body in BLOCK.findall(README) if m}
    assert {*module.SHELL_BLOCKS, module.PYTHON_BLOCK} <= marked
    commands = module.commands()
    use = re.search(r"<!-- use-commands -->\n```bash\n(.*?)```", README, re.S)
    assert use is not None
    for line in use.group(1).splitlines():  # each Use line, without its comment
        assert line.split("  #", 1)[0].strip() in commands
    assert 'printf "What is Matryoshka Representation Learning?' in "\n".join(commands)
    assert set(module.NOT_RUN) <= set(commands), "NOT_RUN names a command the README dropped"
    assert "rag-papers chat" in commands and "rag-papers repl" in commands
