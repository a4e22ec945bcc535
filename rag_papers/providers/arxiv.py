"""The live arXiv API: polite, retried paged queries -> papers (opt-in; tests use a local server)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from rag_papers.errors import InputError
from rag_papers.providers.retry import RetryPolicy, retry_after_seconds
from rag_papers.readers.atom import atom_entries
from rag_papers.readers.base import RawEntries, ReadResult
from rag_papers.readers.dedupe import finish
from rag_papers.types import clean_arxiv_id

logger = logging.getLogger(__name__)

ARXIV_API = "https://export.arxiv.org/api/query"
USER_AGENT = "rag-papers/0.1 (research-paper question answering; polite arXiv API client)"

# -- live arXiv API -------------------------------------------------------------------------


class _Retryable(Exception):
    """A response worth asking again for (429, 5xx); carries the server's Retry-After."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


@contextmanager
def _session(http_client: httpx.Client | None, timeout: float) -> Iterator[httpx.Client]:
    """The caller's client as given (tests pass one over httpx.MockTransport), else our own."""
    if http_client is not None:
        yield http_client
        return
    with httpx.Client(
        timeout=timeout, headers={"User-Agent": USER_AGENT}, follow_redirects=True
    ) as client:
        yield client


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

    # No jitter: arXiv asks for one request every `delay` seconds, the least wait here.
    policy = RetryPolicy(
        max_attempts=max_attempts, max_wait=max_wait, base=delay, jitter=0.0, floor=delay
    )
    retrying = policy.retrying(
        lambda e: isinstance(e, _Retryable | httpx.TransportError),
        what=f"arXiv API request to {url}",
        log=logger,
    )
    try:
        for attempt in retrying:
            with attempt:
                response = client.get(url, params=params, headers={"User-Agent": USER_AGENT})
                if response.status_code == 429 or response.status_code >= 500:
                    asked = retry_after_seconds(response.headers)
                    if asked is not None and asked > max_wait:
                        raise InputError(
                            f"arXiv API asked to wait {asked:.0f}s (HTTP {response.status_code}, "
                            f"Retry-After) — try again later, or raise max_wait above {asked:.0f}"
                        )
                    raise _Retryable(response.status_code, asked)
                if response.status_code >= 400:
                    if "<feed" in response.text:
                        atom_entries(
                            response.text, str(response.url)
                        )  # raises with arXiv's message
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
    http_client: httpx.Client | None = None,
) -> ReadResult:
    """Search the live arXiv API (optional; everything else in rag_papers works offline).

    Polite by design, as arXiv's terms ask: one request at a time, `delay` seconds between
    pages and as the least back-off, an identifying User-Agent, retries on 429/5xx/connection
    errors that honour Retry-After. `query` is arXiv's search_query syntax ("all:rag",
    "ti:transformer AND cat:cs.CL"). `http_client` replaces the HTTP layer (tests pass one
    with `httpx.MockTransport`); it is used as given and not closed here.
    """

    if not query.strip():
        raise InputError("empty arXiv query — pass e.g. 'all:retrieval augmented generation'")
    if max_results < 1 or page_size < 1:
        raise InputError("max_results and page_size must be at least 1")
    raws: list[RawEntries] = []
    got = 0
    start = 0
    with _session(http_client, timeout) as client:
        while got < max_results:
            if start:
                time.sleep(delay)
            size = min(page_size, max_results - got)
            params = {"search_query": query, "start": start, "max_results": size}
            text = _get_page(
                client, base_url, params, delay=delay, max_attempts=max_attempts, max_wait=max_wait
            )
            raw, total = atom_entries(text, f"{base_url}?start={start}")
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
    result = finish(raws)
    logger.info("fetched %d papers from arXiv for %r", len(result.papers), query)
    return result


# -- fetching given ids -----------------------------------------------------------------------

_ID_TOKEN = re.compile(
    r"(?:arxiv:|arxiv\.org/(?:abs|pdf)/)?"
    r"(\d{4}\.\d{4,5}|[a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?",
    re.IGNORECASE,
)


def parse_arxiv_ids(value: str) -> list[str]:
    """arXiv ids from a file path or from the ids themselves (comma or space separated).

    New-style (2401.04081) and old-style (hep-th/9901001) ids, bare, as "arXiv:..." or as
    abs/pdf URLs; versions are dropped, `#` starts a comment, repeats are read once.
    """
    from pathlib import Path

    path = Path(value)
    text = value
    if "\n" not in value and path.is_file():
        text = path.read_text(encoding="utf-8-sig")
    ids: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0]
        for token in re.split(r"[\s,;]+", line.strip()):
            if not token:
                continue
            m = _ID_TOKEN.fullmatch(token.rstrip("/")) or _ID_TOKEN.search(token)
            # as arXiv names it: an old-style archive it knows, without subject class
            found = clean_arxiv_id(m.group(0)) if m else None
            if not found:
                raise InputError(
                    f"{value if text is not value else '<ids>'}:{number}: {token!r} is not an arXiv id"
                    " — give ids like 2401.04081 or hep-th/9901001"
                )
            ids.append(found)
    if not ids:
        raise InputError(f"no arXiv ids in {value!r} — give ids like 2401.04081 or a file of them")
    return list(dict.fromkeys(ids))


def fetch_arxiv_ids(
    ids: list[str],
    *,
    base_url: str = ARXIV_API,
    timeout: float = 30.0,
    delay: float = 3.0,
    batch: int = 100,
    max_attempts: int = 4,
    max_wait: float = 120.0,
    http_client: httpx.Client | None = None,
) -> ReadResult:
    """Fetch the given arXiv ids through the API's id_list, politely (as fetch_arxiv does).

    An id the API has no record of gives a warning ("not found: 0 papers"), not a failure.
    """
    raws: list[RawEntries] = []
    with _session(http_client, timeout) as client:
        for start in range(0, len(ids), batch):
            if start:
                time.sleep(delay)
            part = ids[start : start + batch]
            params = {"id_list": ",".join(part), "start": 0, "max_results": len(part)}
            text = _get_page(
                client, base_url, params, delay=delay, max_attempts=max_attempts, max_wait=max_wait
            )
            raw, _ = atom_entries(text, f"{base_url}?id_list")
            found = {p.arxiv_id or "" for p in raw.papers} | {p.url or "" for p in raw.papers}
            for wanted in part:
                if wanted not in found and not any(wanted in f for f in found if "/" in f):
                    raw.warnings.append(f"arXiv:{wanted}: not found on arXiv (0 papers)")
            raws.append(raw)
    result = finish(raws)
    logger.info("fetched %d of %d arXiv ids", len(result.papers), len(ids))
    return result
