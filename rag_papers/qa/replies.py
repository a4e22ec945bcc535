"""What chat models actually send, made into answer text: reasoning (`<think>…</think>`)
removed, also when the tags are split across stream chunks, and the citation forms models
write (`[1, 2]`, `[1-3]`, `[1][2]`, `【1】`, a trailing "Sources:" list) turned into [n]."""

from __future__ import annotations

import re

OPEN, CLOSE = "<think>", "</think>"
_THINK = re.compile(r"<think>.*?(?:</think>|\Z)\s*", re.DOTALL | re.IGNORECASE)
_FULLWIDTH = re.compile(r"【\s*(\d+(?:\s*[,;，、\-–]\s*\d+)*)\s*】")
_RANGE = re.compile(r"\[(\s*\d+\s*(?:[,;]\s*\d+\s*)*[-–]\s*\d+(?:\s*[,;]\s*\d+)*\s*)\]")
_SOURCES = re.compile(
    r"\n\s*(?:\*\*)?(?:sources?|references?|citations?)(?:\*\*)?\s*:?\s*(?:\*\*)?\s*\n?(?P<body>(?:.*\n?)*)\Z",
    re.IGNORECASE,
)
_LISTED = re.compile(r"(?:^|\s|\[|,)(\d{1,2})(?=\]|[.):,\s]|$)")


def strip_reasoning(text: str) -> str:
    """The text without <think>…</think> blocks (an unclosed one runs to the end), and
    without a reasoning preamble closed by a lone </think>."""
    text = _THINK.sub("", text)
    if CLOSE in text:
        text = text.split(CLOSE)[-1]
    return text.lstrip()


class ReasoningFilter:
    """Stream filter: feed deltas, get back only what is outside <think>…</think>.

    Text that could be the start of a tag is held back until the next delta decides.
    """

    def __init__(self) -> None:
        self._pending = ""
        self._inside = False
        self._started = False  # a visible character was emitted

    def feed(self, delta: str) -> str:
        self._pending += delta
        out: list[str] = []
        while self._pending:
            tag = CLOSE if self._inside else OPEN
            i = self._pending.lower().find(tag)
            if i >= 0:
                if not self._inside:
                    out.append(self._pending[:i])
                self._pending = self._pending[i + len(tag) :]
                self._inside = not self._inside
                if not self._inside:
                    self._pending = self._pending.lstrip()
                continue
            keep = _partial_suffix(self._pending.lower(), tag)
            if not self._inside:
                out.append(self._pending[: len(self._pending) - keep])
            self._pending = self._pending[len(self._pending) - keep :]
            break
        text = "".join(out)
        if not self._started:
            text = text.lstrip()
            self._started = bool(text)
        return text

    def flush(self) -> str:
        rest = "" if self._inside else self._pending
        self._pending = ""
        return rest


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest end of `text` that is a proper start of `tag`."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:n]):
            return n
    return 0


def _expand(body: str) -> list[int]:
    nums: list[int] = []
    for part in re.split(r"\s*[,;，、]\s*", body.strip()):
        m = re.fullmatch(r"(\d+)\s*[-–]\s*(\d+)", part)
        if m:
            lo, hi = int(m.group(1)), int(m.group(2))
            nums.extend(range(lo, hi + 1) if 0 < hi - lo < 20 else [lo, hi])
        elif part.isdigit():
            nums.append(int(part))
    return nums


def normalize_citations(text: str) -> str:
    """Citation forms models write, as [n] markers the checker understands."""
    text = _FULLWIDTH.sub(lambda m: "".join(f"[{n}]" for n in _expand(m.group(1))), text)
    text = _RANGE.sub(lambda m: "".join(f"[{n}]" for n in _expand(m.group(1))), text)
    m = _SOURCES.search(text)
    if m:
        listed = list(dict.fromkeys(int(x) for x in _LISTED.findall(m.group("body"))))
        body = text[: m.start()].rstrip()
        if listed and body and not re.search(r"\[\d", body):
            end = re.search(r"[.!?]*$", body)
            cut = end.start() if end else len(body)
            body = body[:cut] + " " + "".join(f"[{n}]" for n in listed) + (body[cut:] or ".")
        if listed or not m.group("body").strip():
            text = body
    return text


__all__ = ["ReasoningFilter", "normalize_citations", "strip_reasoning"]
