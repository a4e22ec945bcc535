"""Records Python's JSON parser or the Paper model cannot take are warnings, not aborts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag_papers.errors import InputError
from rag_papers.readers import read_paths

GOOD = {"title": "A fine paper", "abstract": "A fine abstract about widgets."}


def test_a_jsonl_line_with_a_5000_digit_number_is_skipped_not_the_whole_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "papers.jsonl"
    huge = '{"title": "Huge", "abstract": "x", "n_authors": ' + "9" * 5000 + "}"
    path.write_text("\n".join([json.dumps(GOOD), huge, json.dumps(GOOD | {"title": "Two"})]))
    result = read_paths([path])
    assert [p.title for p in result.papers] == ["A fine paper", "Two"]
    assert result.skipped == 1 and "papers.jsonl:2: unreadable JSON" in result.warnings[0]


def test_a_jsonl_line_nested_200000_deep_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "papers.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + "[" * 200_000 + "]" * 200_000 + "\n")
    result = read_paths([path])
    assert len(result.papers) == 1 and result.skipped == 1
    assert "nested too deeply" in result.warnings[0]


def test_a_json_file_nested_200000_deep_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(InputError, match="deep.json: unreadable JSON \\(nested too deeply\\)"):
        read_paths([path])


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"title": ["a", "list", "title"], "abstract": "x y"}, "the title is a list"),
        ({"title": "T", "abstract": {"an": "object"}}, "the abstract is an object"),
        ({"title": 42, "abstract": "x y"}, "the title is not text"),
    ],
)
def test_a_title_or_abstract_that_is_not_text_is_skipped_with_a_warning(
    tmp_path: Path, record: dict[str, object], reason: str
) -> None:
    path = tmp_path / "papers.jsonl"
    path.write_text(json.dumps(record) + "\n" + json.dumps(GOOD) + "\n")
    result = read_paths([path])
    assert [p.title for p in result.papers] == ["A fine paper"]
    assert result.skipped == 1 and reason in result.warnings[0]
    assert "['a', 'list'" not in " ".join(p.title for p in result.papers)
