"""arXiv: saved arXiv API responses (Atom XML) and, optionally, the live arXiv API.

Split out of `rag_papers.sources` so that module stays about local files; everything here
is re-exported from there (`from rag_papers.sources import fetch_arxiv` keeps working).

The Atom reader turns entries into papers with the same record machinery as the other
readers (`_Raw`, `_add_record`, `_finish`, ...), which lives in `rag_papers.sources`.
`sources` imports this module at load time for its re-exports, so this module imports those
helpers inside the functions that use them: importing either module first then works, with
no half-initialised module in between.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from rag_papers.errors import InputError
from rag_papers.types import clean_arxiv_id

if TYPE_CHECKING:
    from rag_papers.sources import ReadResult, _Raw

logger = logging.getLogger(__name__)

ARXIV_API = "https://export.arxiv.org/api/query"
USER_AGENT = "rag-papers/0.1 (research-paper question answering; polite arXiv API client)"

_ATOM = "{http://www.w3.org/2005/Atom}"
_ARXIV_NS = "{http://arxiv.org/schemas/atom}"
_OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"


# -- arXiv Atom -----------------------------------------------------------------------------


def _atom_raw(text: str, label: str) -> tuple[_Raw, int | None]:
    """Papers in an arXiv API Atom response, and its opensearch:totalResults."""
    from rag_papers.sources import _add_record, _clean, _Lines, _Raw

    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        line = exc.position[0] if exc.position else 1
        raise InputError(
            f"{label}:{line}: not well-formed XML ({exc}) — save the arXiv API "
            "response unchanged (curl -o file.xml URL)"
        ) from None
    if root.tag != f"{_ATOM}feed":
        raise InputError(
            f"{label}:1: XML root is <{root.tag}>, not an Atom <feed> — expected a "
            "saved arXiv API response (export.arxiv.org/api/query?...)"
        )
    total_text = root.findtext(f"{_OPENSEARCH}totalResults")
    total = int(total_text) if total_text and total_text.strip().isdigit() else None
    lines = _Lines(text)
    entry_lines = [lines.line(m.start()) for m in re.finditer(r"<(?:\w+:)?entry[\s>]", text)]
    raw = _Raw()
    for number, entry in enumerate(root.findall(f"{_ATOM}entry")):
        line = entry_lines[number] if number < len(entry_lines) else 1
        where = f"{label}:{line}"
        entry_id = _clean(entry.findtext(f"{_ATOM}id"))
        if "/api/errors" in entry_id:
            raise InputError(
                f"{where}: arXiv API error: {_clean(entry.findtext(f'{_ATOM}summary'))}"
                " — fix the query (see https://info.arxiv.org/help/api/user-manual.html)"
            )
        links = {ln.get("rel", "alternate"): ln.get("href") for ln in entry.findall(f"{_ATOM}link")}
        arxiv_id = clean_arxiv_id(entry_id)
        # a version-less abs link for new-style ids; old-style ids keep arXiv's own link
        url = f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else links.get("alternate")
        primary = entry.find(f"{_ARXIV_NS}primary_category")
        categories = [primary.get("term", "")] if primary is not None else []
        categories += [c.get("term", "") for c in entry.findall(f"{_ATOM}category")]
        record = {
            "title": entry.findtext(f"{_ATOM}title"),
            "abstract": entry.findtext(f"{_ATOM}summary"),
            "published": entry.findtext(f"{_ATOM}published"),
            "authors": [
                _clean(a.findtext(f"{_ATOM}name")) for a in entry.findall(f"{_ATOM}author")
            ],
            "url": url or entry_id,
            "arxiv_id": arxiv_id,
            "categories": list(dict.fromkeys(c for c in categories if c)),
        }
        _add_record(raw, record, where)
    return raw, total


def read_arxiv_atom(path_or_text: str | Path) -> ReadResult:
    """A saved arXiv API response (Atom XML), given as a path or as the XML text itself."""
    from rag_papers.sources import _finish, _load_text

    if isinstance(path_or_text, str) and path_or_text.lstrip().startswith("<"):
        raw, _ = _atom_raw(path_or_text, "<atom text>")
    else:
        p, text = _load_text(path_or_text)
        raw, _ = _atom_raw(text, str(p))
    return _finish([raw])


# -- live arXiv API -------------------------------------------------------------------------


class _Retryable(Exception):
    """A response worth asking again for (429, 5xx); carries the server's Retry-After."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())


def _get_page(
    client: httpx.Client,
    url: str,
    params: dict[str, Any],
    *,
    delay: float,
    max_attempts: int,
    max_wait: float,
) -> str:
    """One API page, retried on 429/5xx/connection errors; waits as long as the server asks."""

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = getattr(exc, "retry_after", None)
        if asked is not None:
            return max(asked, delay)
        return min(max_wait, delay * 2 ** (state.attempt_number - 1))

    def log_retry(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        sleep = state.next_action.sleep if state.next_action else 0
        logger.warning(
            "arXiv API: %s; retrying in %.1fs (attempt %d of %d)",
            exc,
            sleep,
            state.attempt_number + 1,
            max_attempts,
        )

    retrying = Retrying(
        stop=stop_after_attempt(max_attempts),
        wait=wait,
        retry=retry_if_exception(lambda e: isinstance(e, (_Retryable, httpx.TransportError))),
        before_sleep=log_retry,
        reraise=True,
    )
    try:
        for attempt in retrying:
            with attempt:
                response = client.get(url, params=params)
                if response.status_code == 429 or response.status_code >= 500:
                    asked = _retry_after(response.headers.get("Retry-After"))
                    if asked is not None and asked > max_wait:
                        raise InputError(
                            f"arXiv API asked to wait {asked:.0f}s (HTTP {response.status_code}, "
                            f"Retry-After) — try again later, or raise max_wait above {asked:.0f}"
                        )
                    raise _Retryable(response.status_code, asked)
                if response.status_code >= 400:
                    if "<feed" in response.text:
                        _atom_raw(response.text, str(response.url))  # raises with arXiv's message
                    raise InputError(
                        f"arXiv API refused the request: HTTP {response.status_code} "
                        f"for {response.url} — check the query and base_url"
                    )
                return response.text
    except (_Retryable, httpx.TransportError) as exc:
        raise InputError(
            f"arXiv API at {url} failed after {max_attempts} attempts ({type(exc).__name__}: {exc})"
            " — check the network or try later; read a saved response with read_arxiv_atom()"
        ) from exc
    raise AssertionError("unreachable")  # pragma: no cover


def fetch_arxiv(
    query: str,
    *,
    max_results: int = 50,
    base_url: str = ARXIV_API,
    timeout: float = 30.0,
    delay: float = 3.0,
    page_size: int = 100,
    max_attempts: int = 4,
    max_wait: float = 120.0,
) -> ReadResult:
    """Search the live arXiv API (optional; everything else in rag_papers works offline).

    Polite by design, as arXiv's terms ask: one request at a time, `delay` seconds between
    pages and as the least back-off, an identifying User-Agent, retries on 429/5xx/connection
    errors that honour Retry-After. `query` is arXiv's search_query syntax ("all:rag",
    "ti:transformer AND cat:cs.CL").
    """
    from rag_papers.sources import _finish

    if not query.strip():
        raise InputError("empty arXiv query — pass e.g. 'all:retrieval augmented generation'")
    if max_results < 1 or page_size < 1:
        raise InputError("max_results and page_size must be at least 1")
    raws: list[_Raw] = []
    got = 0
    start = 0
    with httpx.Client(
        timeout=timeout, headers={"User-Agent": USER_AGENT}, follow_redirects=True
    ) as client:
        while got < max_results:
            if start:
                time.sleep(delay)
            size = min(page_size, max_results - got)
            params = {"search_query": query, "start": start, "max_results": size}
            text = _get_page(
                client, base_url, params, delay=delay, max_attempts=max_attempts, max_wait=max_wait
            )
            raw, total = _atom_raw(text, f"{base_url}?start={start}")
            raws.append(raw)
            page_entries = len(raw.papers) + raw.skipped
            if page_entries < size:
                if total is not None and start + page_entries < total:
                    raw.warnings.append(
                        f"{base_url}?start={start}:1: arXiv returned {page_entries} of {size} "
                        f"entries though {total} match — fewer results than asked; try later"
                    )
                break
            got += page_entries
            start += size
            if total is not None and start >= total:
                break
    result = _finish(raws)
    logger.info("fetched %d papers from arXiv for %r", len(result.papers), query)
    return result
