"""Abstract text as a reader should see it: LaTeX and arXiv escapes rendered, line-wrapping
removed; and which sentences are boilerplate (links, code and licence lines) never to quote."""

from __future__ import annotations

import re

_SYMBOLS = {
    "times": "×",
    "%": "%",
    "&": "&",
    "_": "_",
    "#": "#",
    "$": "$",
    "sim": "~",
    "approx": "≈",
    "leq": "≤",
    "le": "≤",
    "geq": "≥",
    "ge": "≥",
    "pm": "±",
    "cdot": "·",
    "rightarrow": "→",
    "to": "→",
    "leftarrow": "←",
    "infty": "∞",
    "neq": "≠",
    "alpha": "α",
    "beta": "β",
    "gamma": "γ",
    "delta": "δ",
    "epsilon": "ε",
    "varepsilon": "ε",
    "theta": "θ",
    "lambda": "λ",
    "mu": "μ",
    "pi": "π",
    "sigma": "σ",
    "tau": "τ",
    "phi": "φ",
    "omega": "ω",
    "Delta": "Δ",
    "ell": "ℓ",
    "textless": "<",
    "textgreater": ">",
    "ldots": "…",
    "dots": "…",
    "cdots": "…",
}
# \textbf{x}, \mathrm{x}, \emph{x} ... -> x
_WRAPPERS = re.compile(
    r"\\(?:text(?:bf|it|rm|tt|sc|sf)?|math(?:bf|rm|it|cal|bb|sf|tt)|emph|bm|boldsymbol|operatorname|mbox|url)\s*\{([^{}]*)\}"
)
# {\it x}, {\em x}, {\bf x}: the old font switches -> x
_SWITCH = re.compile(r"\{\\(?:it|em|bf|sc|tt|rm|sl|sf)\s+([^{}]*)\}")
_COMMAND = re.compile(r"\\([A-Za-z]+)\s?|\\([%&_#$])")
_MATH = re.compile(r"(?<!\\)\$([^$]{1,80})(?<!\\)\$")
_GLUED_TIMES_STRICT = re.compile(r"(\d(?:\.\d+)?)times(?=\b|\d)")
_SCRIPT = re.compile(r"[\^_]\{([^{}]*)\}|[\^_](\w)")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:%)])")


def _command(m: re.Match[str]) -> str:
    name = m.group(1) or m.group(2)
    if name in _SYMBOLS:
        return _SYMBOLS[name]
    return m.group(0)  # unknown: leave it (a reader can still read "\foo")


def _math(m: re.Match[str]) -> str:
    body = m.group(1).replace("~", " ")
    body = _WRAPPERS.sub(r"\1", body)
    body = _COMMAND.sub(_command, body)
    body = _SCRIPT.sub(lambda s: s.group(0)[0] + (s.group(1) or s.group(2) or ""), body)
    body = body.replace("{", "").replace("}", "")
    body = re.sub(r"\s*([×≈≤≥±·→])\s*", r"\1", body) if len(body) < 12 else body
    return body.strip()


def display_text(text: str) -> str:
    """One line of readable text: `$2.35\\times$` -> `2.35×`, `0.12\\%` -> `0.12%`."""
    text = " ".join(text.split())
    if "$" in text:
        text = _MATH.sub(_math, text)
    if "\\" in text:
        text = _SWITCH.sub(r"\1", text)
        text = _WRAPPERS.sub(r"\1", text)
        text = _COMMAND.sub(_command, text)
    text = re.sub(r"``([^`']{1,200}?)''", r"“\1”", text)  # TeX quotes
    text = re.sub(r"(?<!-)---(?!-)", "—", text)  # LaTeX's em dash, as arXiv abstracts write it
    text = _GLUED_TIMES_STRICT.sub(r"\1×", text)
    text = re.sub(r"(\d)\s+×", r"\1×", text)
    text = re.sub(r"(\d)\s+%", r"\1%", text)
    text = re.sub(r"\{(\w[^{}]{0,40})\}", r"\1", text)
    return " ".join(text.split())


_URL = re.compile(
    r"https?://|www\.|\b[\w-]+\.(?:github\.io|com|org|ai)/|github\.com|huggingface\.co", re.I
)
_BOILER = re.compile(
    r"\b(?:project (?:page|website)|code(?:s| base|base)?(?: and [\w ]+)? (?:is|are|will be|has been|have been)"
    r" (?:made )?(?:publicly |freely |openly )?(?:available|released)|available at|open[- ]?sourced? at"
    # a licence line ("released under the MIT license"), not "permissively licensed data"
    r"|\bunder (?:the |an? |open )?(?:[\w.-]+ ){0,3}licen[cs]es?\b|\blicen[cs]ed under\b"
    r"|\bcopyright (?:\d{4}|©|\(c\))|©|accepted (?:at|to|by|for)|to appear in|camera[- ]ready|\d+ pages\b"
    r"|supplementary material|demo (?:is|can be)|(?:see|visit) (?:our|the) (?:project|website|page))",
    re.I,
)


def is_boilerplate(sentence: str) -> bool:
    """A link, a code/data release line, a licence or venue note: never an answer."""
    if _URL.search(sentence):
        return True
    return bool(_BOILER.search(sentence)) and len(sentence.split()) < 30


__all__ = ["display_text", "is_boilerplate"]
