"""The members of a JSON array read as the file streams: a megabyte of text at a time.

`json.loads` of a 190 MB array holds the text and every parsed record at once. Here
`json.JSONDecoder.raw_decode` parses one member at a time from a buffer that is refilled
from the file and trimmed behind the parser, so memory is one buffer plus one record.

Only well-formed arrays are streamed: anything else (an object, a syntax error, NUL bytes,
text that is not UTF-8, a number too long to parse) raises `NotStreamed`, and the caller
reads the file whole, which names the problem with the exact message and line it always did.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

CHUNK = 1 << 20  # characters of text read at a time

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class NotStreamed(Exception):
    """The file is not one well-formed JSON array: read it whole to say what it is."""


class _Buffer:
    """The unparsed text of a file, refilled as the parser reaches its end."""

    def __init__(self, f: IO[bytes], chunk: int) -> None:
        self.f = f
        self.chunk = chunk
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.text = ""
        self.pos = 0
        self.eof = False
        self.line = 1  # line number of text[counted]
        self.counted = 0

    def more(self) -> bool:
        """Read the next piece of the file (dropping the text before `pos`); False at its end."""
        if self.eof:
            return False
        data = self.f.read(self.chunk)
        if b"\x00" in data:
            raise NotStreamed("NUL bytes")
        try:
            piece = self.decoder.decode(data, final=not data)
        except UnicodeDecodeError:
            raise NotStreamed("not UTF-8") from None
        self.eof = not data
        self.line_at(self.pos)
        self.text = self.text[self.pos :] + piece
        self.counted -= self.pos
        self.pos = 0
        return True

    def line_at(self, pos: int) -> int:
        """The 1-based line of text[pos] (pos never goes backwards)."""
        self.line += self.text.count("\n", self.counted, pos)
        self.counted = pos
        return self.line

    def peek(self) -> str:
        """The next character that is not white space ('' at the end of the file)."""
        while True:
            match = _WS.match(self.text, self.pos)
            self.pos = match.end() if match else self.pos
            if self.pos < len(self.text) or not self.more():
                return self.text[self.pos : self.pos + 1]

    def value(self) -> Any:
        """The JSON value at `pos` (after `peek`), reading on until it is complete."""
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
                if end < len(self.text) or self.eof:  # a number may go on in the next piece
                    self.pos = end
                    return value
            except json.JSONDecodeError:
                if self.eof:
                    raise NotStreamed("not valid JSON") from None
            except (ValueError, RecursionError):
                raise NotStreamed("unreadable JSON") from None
            self.more()


def json_array_members(path: Path, *, chunk: int = CHUNK) -> Iterator[tuple[Any, int]]:
    """(member, line it starts on) of the JSON array a file holds, as the file is read.

    Raises NotStreamed, before yielding anything, when the file does not start with '[';
    part-way through when it turns out not to be well-formed JSON (json.loads would refuse
    the whole text).
    """
    with path.open("rb") as f:
        yield from members(f, chunk=chunk)


def members(f: IO[bytes], *, chunk: int = CHUNK) -> Iterator[tuple[Any, int]]:
    """`json_array_members` of an open binary file."""
    buf = _Buffer(f, chunk)
    if buf.peek() != "[":
        raise NotStreamed("not an array")
    buf.pos += 1
    if buf.peek() == "]":
        buf.pos += 1
    else:
        while True:
            if buf.peek() == "":
                raise NotStreamed("unterminated array")
            line = buf.line_at(buf.pos)
            yield buf.value(), line
            after = buf.peek()
            buf.pos += 1
            if after == "]":
                break
            if after != "," or buf.peek() == "]":  # json.loads refuses a trailing comma too
                raise NotStreamed("not valid JSON")
    if buf.peek() != "":
        raise NotStreamed("extra data after the array")
