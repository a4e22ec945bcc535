"""Reasoning in chat replies: `<think>…</think>` blocks, removed also when the tags are
split across stream chunks. The chat client uses it to tell a reply that is only reasoning
(a fault, retried) from one with an answer; qa/replies.py to show only the answer."""

from __future__ import annotations

import re

OPEN, CLOSE = "<think>", "</think>"
_THINK = re.compile(r"<think>.*?(?:</think>|\Z)\s*", re.DOTALL | re.IGNORECASE)


def opens_in_prompt(reply: str) -> bool:
    """Did the reply close a reasoning block it never opened (the prompt opened it)?"""
    low = reply.lower()
    close = low.find(CLOSE)
    return close >= 0 and OPEN not in low[:close]


def strip_reasoning(text: str) -> str:
    """The text without <think>…</think> blocks (an unclosed one runs to the end), and
    without a reasoning preamble closed by a lone </think>."""
    text = _THINK.sub("", text)
    if CLOSE in text:
        text = text.split(CLOSE)[-1]
    return text.lstrip()


_MARKER = re.compile(r"\[\s*\d")


class ReasoningFilter:
    """Stream filter: feed deltas, get back only what is outside <think>…</think>.

    Text that could be the start of a tag is held back until the next delta decides. With
    hold_opening (for a model whose chat template opens the <think> block in the prompt, so
    its replies start with reasoning closed by a lone </think>), so is the start of the
    reply, until it opens a block, cites a source ([1]) or closes the preamble: the
    preamble is dropped, never shown and then taken back.
    """

    def __init__(self, *, hold_opening: bool = False) -> None:
        self._pending = ""
        self._inside = False
        self._started = False  # a visible character was emitted
        self._opening = ""  # the start of the reply, while it may be a reasoning preamble
        self._decided = not hold_opening

    def feed(self, delta: str) -> str:
        if not self._decided:
            self._opening += delta
            low = self._opening.lower()
            close, open_ = low.find(CLOSE), low.find(OPEN)
            if close >= 0 and not 0 <= open_ < close:  # a preamble closed by a lone </think>
                delta = self._opening[close + len(CLOSE) :].lstrip()
            elif open_ >= 0 or _MARKER.search(self._opening):
                delta = self._opening
            else:
                return ""
            self._decided, self._opening = True, ""
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
        if not self._decided:  # a reply that never cited nor closed a preamble
            self._decided = True
            held, self._opening = self._opening, ""
            return self.feed(held) + self.flush()
        rest = "" if self._inside else self._pending
        self._pending = ""
        return rest


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest end of `text` that is a proper start of `tag`."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:n]):
            return n
    return 0


__all__ = ["CLOSE", "OPEN", "ReasoningFilter", "opens_in_prompt", "strip_reasoning"]
