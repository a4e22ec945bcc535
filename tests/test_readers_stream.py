"""A JSON Lines file is read line by line: never held whole, with the same papers, warnings
and errors as reading its whole text gave."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from rag_papers.errors import InputError
from rag_papers.readers import read_jsonl, read_paths
from rag_papers.readers.base import load_text, text_lines
from rag_papers.readers.dedupe import finish
from rag_papers.readers.records import jsonl_entries

RECORDS = [
    {"title": "Widgets Fold", "abstract": "Widgets fold in three ways.", "id": "2401.00001"},
    {"title": "Gadgets Spin", "abstract": "Gadgets spin twice.\u2028Then stop."},  # raw U+2028
    {"title": ["a", "list"], "abstract": "A title that is not text."},
    {"title": "No Abstract Here"},
    {"title": "Widgets fold", "abstract": "A repeat, merged by title.", "published": "2024-01-02"},
    {"title": "Ünïcode Títle", "abstract": "Ärger with accents — and dashes."},
]


def tricky_file(path: Path) -> Path:
    lines = [json.dumps(r, ensure_ascii=False) for r in RECORDS]
    lines[2:2] = [
        "",
        "{not json",
        '{"title": "Big", "abstract": "n", "n_authors": ' + "9" * 5000 + "}",
    ]
    body = "\r\n".join(lines[:4]) + "\n" + "\r".join(lines[4:6]) + "\n\n" + "\n".join(lines[6:])
    path.write_bytes(b"\xef\xbb\xbf" + body.encode("utf-8"))  # with a byte-order mark
    return path


def test_a_jsonl_file_gives_what_its_whole_text_gave_without_being_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tricky_file(tmp_path / "papers.jsonl")
    p, text = load_text(path)
    whole = finish([jsonl_entries(p, text)])  # how the file was read before
    assert whole.warnings and whole.no_abstract and whole.entries > len(whole.papers) >= 2

    def refuse(self: Path, *args: object, **kwargs: object) -> object:
        raise AssertionError(f"{self} was read whole")

    monkeypatch.setattr(Path, "read_bytes", refuse)
    monkeypatch.setattr(Path, "read_text", refuse)
    for result in (read_paths([path]), read_jsonl(path)):
        assert result.papers == whole.papers
        assert result.warnings == whole.warnings
        assert (result.entries, result.skipped) == (whole.entries, whole.skipped)
        assert result.no_abstract == whole.no_abstract


def test_lines_are_yielded_as_they_arrive(tmp_path: Path) -> None:
    """Through a pipe: the first line reaches the reader while the writer still holds the
    rest back, which a reader that loads the file first could never see."""
    fifo = tmp_path / "papers.jsonl"
    os.mkfifo(fifo)
    go_on = threading.Event()
    released: list[bool] = []

    def writer() -> None:
        with fifo.open("w") as f:
            f.write(json.dumps(RECORDS[0]) + "\n")
            f.flush()
            released.append(go_on.wait(60))  # only a safety net: the test fails, not hangs
            f.write(json.dumps(RECORDS[1]) + "\n")

    thread = threading.Thread(target=writer)
    thread.start()
    lines = text_lines(fifo)
    first = next(lines)
    go_on.set()
    rest = list(lines)
    thread.join()
    assert json.loads(first) == RECORDS[0]
    assert released == [True]
    assert [json.loads(x) for x in rest if x] == [RECORDS[1]]


@pytest.mark.parametrize(
    "content",
    [
        None,  # missing
        b"",
        b"  \n\t\n",
        b'{"title": "A", "abstract": "b"}\n\x00\x01\n',
        b'{"title": "A", "abstract": "b"}\n{"title": "\xff"}\n',
        b'{"title": "A", "abstract": "b"}\n{"title": "\xe2\x82"}\n\x00\n',  # bad UTF-8, NUL later
        b'\xef\xbb\xbf{"title": "\xc3"}',
    ],
)
def test_a_file_that_cannot_be_read_is_refused_as_before(
    tmp_path: Path, content: bytes | None
) -> None:
    path = tmp_path / "papers.jsonl"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError) as before:
        load_text(path)
    with pytest.raises(InputError) as now:
        read_paths([path])
    assert str(now.value) == str(before.value)


def test_a_folder_is_refused_as_before(tmp_path: Path) -> None:
    with pytest.raises(InputError) as before:
        load_text(tmp_path)
    with pytest.raises(InputError) as now:
        list(text_lines(tmp_path))
    assert str(now.value) == str(before.value)


@pytest.mark.parametrize(
    ("title", "key"),
    [
        ("  Attention Is All You Need!  ", "attention is all you need"),
        ("Attention—is all\tyou NEED", "attention is all you need"),
        ("Ünïcode Títle: naïve café", "unicode title naive cafe"),
        ("ﬁne-tuning ½", "fine tuning 1 2"),
    ],
)
def test_one_title_key_for_ascii_and_accented_titles(title: str, key: str) -> None:
    from rag_papers.types import normalize_title

    assert normalize_title(title) == key
