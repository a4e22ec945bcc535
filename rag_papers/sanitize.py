"""Text that came from outside (paper files, model servers) made safe to show or to log.

Core layer, so every front end and every lower layer can use it:

- `strip_controls` removes terminal control sequences (CSI such as ``\\x1b[2J`` and colours,
  OSC such as OSC 8 hyperlinks and window titles, other escapes, C0/C1 control characters,
  bidirectional overrides) so paper text printed to a terminal cannot clear the screen,
  fake a link or hide text. Newlines and tabs are kept.
- `redact` removes credentials: the user:password part of any URL, the secrets registered
  with `register_secret` (the configured API key, a base URL's password), bearer tokens and
  strings shaped like OpenAI keys. `RedactingFilter` applies it to log records.
- `escape_prompt_text` makes paper text unable to open or close a tag in a prompt.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

__all__ = [
    "RedactingFilter",
    "escape_prompt_text",
    "redact",
    "register_secret",
    "strip_controls",
    "unescape_prompt_text",
]

MASK = "***"

_CONTROL = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]                  # CSI: cursor moves, clear screen, colours
  | \x9b[0-?]*[ -/]*[@-~]                    # the same with the 8-bit CSI
  | \x1b[\]PX^_].*?(?:\x07|\x1b\\|\x9c|$)    # OSC / DCS / SOS / PM / APC strings (OSC 8 links)
  | [\x90\x98\x9d\x9e\x9f].*?(?:\x07|\x1b\\|\x9c|$)  # their 8-bit forms
  | \x1b[ -/]*[0-~]?                         # any other escape sequence (or a lone ESC)
  | [\x00-\x08\x0b-\x1f\x7f-\x9f]            # remaining C0 (not \t, \n) and C1 controls, DEL
  | [\u202a-\u202e\u2066-\u2069]             # bidirectional overrides and isolates
    """,
    re.VERBOSE | re.DOTALL,
)


def strip_controls(text: str) -> str:
    """`text` without terminal control sequences or control characters (\\n and \\t kept)."""
    return _CONTROL.sub("", text) if text else text


_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}")
_KEY_SHAPE = re.compile(r"\bsk-[A-Za-z0-9_-]{12,}")
_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a secret (4+ characters) so `redact` removes it wherever it appears."""
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with URL credentials, registered and given secrets, and key-like strings masked."""
    if not text:
        return text
    with _lock:
        known = set(_secrets)
    known.update(s for s in secrets if s and len(s) >= 4)
    for secret in sorted(known, key=len, reverse=True):  # longest first: a key inside a URL
        text = text.replace(secret, MASK)
    text = _URL_USERINFO.sub(rf"\1{MASK}@", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    return _KEY_SHAPE.sub(MASK, text)


class RedactingFilter(logging.Filter):
    """A handler filter that redacts each record's message (and traceback) before it is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Add a RedactingFilter to every handler of `logger` (the root logger by default)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


# Characters that render like < and > (fullwidth, small form, angle quotation marks): a model
# may read `＜/source＞` as a closing tag, so they are escaped as well.
_PROMPT_ESCAPES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "\uff1c": "&#xff1c;",
    "\uff1e": "&#xff1e;",
    "\ufe64": "&#xfe64;",
    "\ufe65": "&#xfe65;",
    "\u2039": "&#x2039;",
    "\u203a": "&#x203a;",
    "\u3008": "&#x3008;",
    "\u3009": "&#x3009;",
}
_PROMPT_ESCAPE_RE = re.compile("|".join(re.escape(c) for c in _PROMPT_ESCAPES))
_PROMPT_UNESCAPE_RE = re.compile("|".join(re.escape(v) for v in _PROMPT_ESCAPES.values()))
_PROMPT_UNESCAPES = {v: k for k, v in _PROMPT_ESCAPES.items()}


def escape_prompt_text(text: str, *, one_line: bool = False) -> str:
    """Paper text made unable to open or close a tag in a prompt, in any spelling.

    Every `&`, `<` and `>` (and their look-alikes) is escaped as an HTML entity, so no
    `<source id="9">`, `</SOURCE>` or `</source >` survives; `one_line` also folds line
    breaks (a title cannot start a fake header line). `unescape_prompt_text` inverts it.
    """
    if one_line:
        text = " ".join(text.split())
    return _PROMPT_ESCAPE_RE.sub(lambda m: _PROMPT_ESCAPES[m.group(0)], text)


def unescape_prompt_text(text: str) -> str:
    """The inverse of `escape_prompt_text` (line breaks folded by one_line stay folded)."""
    return _PROMPT_UNESCAPE_RE.sub(lambda m: _PROMPT_UNESCAPES[m.group(0)], text)
