"""The "openai" chat provider built from Settings: the key, base URL, model and limits handed
to `OpenAICompatLLM`, and a warning when a .env in the working folder chooses the server while
the key comes from the user's environment (the key would go to a server the user never chose).
Registered in providers/registry.py as `LLM_PROVIDERS["openai"]`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rag_papers.providers.llm import OpenAICompatLLM
from rag_papers.sanitize import redact

if TYPE_CHECKING:
    import httpx

    from rag_papers.settings import Settings

log = logging.getLogger(__name__)

_BASE_URL_VARS = ("OPENAI_BASE_URL", "RAG_PAPERS_OPENAI_BASE_URL")
_KEY_VARS = ("OPENAI_API_KEY", "RAG_PAPERS_OPENAI_API_KEY")
_warned: set[str] = set()


def base_url_from_dotenv_with_key_from_env(settings: Settings) -> bool:
    """True when the base URL was read from ./.env while the key came from the environment.

    A .env in the working folder (a cloned repository, a shared folder) could then send the
    user's own key to a server the user never chose.
    """
    if not settings.openai_base_url or not settings.openai_api_key:
        return False
    if any(os.environ.get(v) for v in _BASE_URL_VARS) or not any(
        os.environ.get(v) for v in _KEY_VARS
    ):
        return False
    try:
        text = Path(".env").read_text(encoding="utf-8") if Path(".env").is_file() else ""
    except OSError:
        return False
    starts = tuple(f"{v}=" for v in _BASE_URL_VARS)
    return any(
        ln.strip().removeprefix("export ").lstrip().startswith(starts) for ln in text.splitlines()
    )


def warn_once(key: str, emit: Callable[[], None]) -> None:
    if key not in _warned:
        _warned.add(key)
        emit()


def openai_llm(settings: Settings, *, http_client: httpx.Client | None = None) -> OpenAICompatLLM:
    """The chat client for OpenAI or any OpenAI-compatible server (provider "openai")."""
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    if base_url_from_dotenv_with_key_from_env(settings):
        warn_once(
            "dotenv-base-url",
            lambda: log.warning(
                "OPENAI_BASE_URL (%s) comes from the .env file in %s while OPENAI_API_KEY comes "
                "from your environment: your key will be sent to that server. If you did not "
                "choose it, remove OPENAI_BASE_URL from that .env; otherwise set both in the "
                "same place",
                redact(settings.openai_base_url or "", [key] if key else []),
                Path.cwd(),
            ),
        )
    return OpenAICompatLLM(
        model=settings.llm_model,
        api_key=key,
        base_url=settings.openai_base_url,
        timeout=settings.llm_timeout,
        max_attempts=settings.llm_max_attempts,
        max_wait=settings.llm_max_wait,
        temperature=settings.temperature,
        max_tokens=settings.max_answer_tokens,
        http_client=http_client,
    )
