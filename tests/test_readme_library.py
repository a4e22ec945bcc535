"""The README's library commands (import, collections, export) run as written."""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import pytest

from rag_papers.app.cli import main

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- library-commands -->\n```bash\n(.*?)```", text, re.S)
    assert block, "README lost its library-commands block"
    return [line for line in block.group(1).splitlines() if line.startswith("rag-papers ")]


def test_readme_library_commands_run_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import bibtexparser

    monkeypatch.chdir(tmp_path)
    os.symlink(ROOT / "tests", tmp_path / "tests")  # the commands use paths from a checkout
    monkeypatch.setenv("RAG_PAPERS_HOME", str(tmp_path / "home"))
    outputs: list[str] = []
    commands = readme_commands()
    assert len(commands) >= 8
    for command in commands:
        argv = shlex.split(command.split("  #", 1)[0], comments=False)[1:]
        target = None
        if ">" in argv:
            target = argv[argv.index(">") + 1]
            argv = argv[: argv.index(">")]
        assert main(argv) == 0, command
        out = capsys.readouterr().out
        if target:
            (tmp_path / target).write_text(out, encoding="utf-8")
        outputs.append(out)

    bib, zotero, ris_csl, collections, search, markdown, _, _, removed, back = outputs
    assert bib.startswith("read 8 papers: 8 new") and "MM1" in bib
    assert "read 7 papers: 2 new" in zotero
    summary = json.loads(ris_csl)
    assert summary["new"] == 0 and summary["no_abstract"] == []  # every paper already there
    assert re.search(r"refs\s+10\s", collections)
    assert "arxiv:2401.04081" in search and "MoE-Mamba" in search
    assert "MoE-Mamba" in markdown and "](https://arxiv.org/abs/2401.04081)" in markdown
    cited = bibtexparser.parse_file(str(tmp_path / "cited.bib"))
    assert "MoE-Mamba" in cited.entries[0]["title"]
    exported = bibtexparser.parse_file(str(tmp_path / "refs-export.bib"))
    assert len(exported.entries) == 10
    assert removed.startswith("removed 1 paper")
    assert back.startswith("read 8 papers: 1 new, 0 updated, 7 unchanged")
