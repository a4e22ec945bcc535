"""What chat models actually send, made into answer text: reasoning (`<think>…</think>`)
removed, also when the tags are split across stream chunks, and the citation forms models
write (`[1, 2]`, `[1-3]`, `[1][2]`, `【1】`, a trailing "Sources:" list) turned into [n]."""

from __future__ import annotations

import re

from rag_papers.providers.reasoning import ReasoningFilter, opens_in_prompt, strip_reasoning

_FULLWIDTH = re.compile(r"【\s*(\d+(?:\s*[,;，、\-–]\s*\d+)*)\s*】")
_RANGE = re.compile(r"\[(\s*\d+\s*(?:[,;]\s*\d+\s*)*[-–]\s*\d+(?:\s*[,;]\s*\d+)*\s*)\]")
_SOURCES = re.compile(
    r"\n\s*(?:\*\*)?(?:sources?|references?|citations?)(?:\*\*)?\s*:?\s*(?:\*\*)?\s*\n?(?P<body>(?:.*\n?)*)\Z",
    re.IGNORECASE,
)
_LISTED = re.compile(r"(?:^|\s|\[|,)(\d{1,2})(?=\]|[.):,\s]|$)")


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


__all__ = ["ReasoningFilter", "normalize_citations", "opens_in_prompt", "strip_reasoning"]
