"""Serving the chat page: who may reach it, its sign-in, warming up, `rag-papers chat`.

The layout is ui.py and the behaviour handlers.py; this module decides where and how the
page is served: only on localhost unless a password is set (or the risk accepted), with the
slowed-down sign-in of signin.py, and the models loaded before the first visitor asks.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
import threading

from rag_papers.app.handlers import store_retriever
from rag_papers.app.options import settings_from
from rag_papers.app.signin import SignInGuard
from rag_papers.app.ui import build_app
from rag_papers.errors import ConfigError
from rag_papers.qa.pipeline import Pipeline
from rag_papers.settings import Settings

log = logging.getLogger(__name__)

LOCAL_HOSTS = {"localhost"}


def is_local(host: str) -> bool:
    if host in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_auth(settings: Settings) -> tuple[str, str] | None:
    if settings.ui_auth is None:
        return None
    user, sep, password = settings.ui_auth.get_secret_value().partition(":")
    if not sep or not user or not password:
        raise ConfigError("RAG_PAPERS_UI_AUTH must look like user:password (both parts non-empty)")
    return user, password


def check_bind(host: str, auth: tuple[str, str] | None, insecure_no_auth: bool = False) -> None:
    """Refuse to serve beyond this machine without a password, unless told to."""
    if is_local(host) or auth is not None or insecure_no_auth:
        return
    raise ConfigError(
        f"refusing to serve the chat page on {host} without a password — anyone who can reach it could "
        "use it. Set RAG_PAPERS_UI_AUTH=user:password (or pass --insecure-no-auth to accept the risk)"
    )


def warm_up(pipeline: Pipeline) -> None:
    """Load the embedding model and keyword index now, so the first visitor does not wait for them."""
    try:
        retriever = store_retriever(pipeline)
        if retriever.store.count_chunks():
            retriever.embed_model  # noqa: B018 (loads on first access)
            retriever.bm25()
    except Exception:
        log.exception("warming up the retriever failed; the first question will retry")


def run_cli(args: argparse.Namespace) -> int:
    """Start the page and block until Ctrl-C (`rag-papers chat`; the options are parsed in cli.py)."""
    settings = settings_from(args)
    host = args.host or settings.ui_host
    port = args.port or settings.ui_port
    auth = parse_auth(settings)
    check_bind(host, auth, args.insecure_no_auth)
    pipeline = Pipeline(settings)
    demo = build_app(pipeline=pipeline)
    threading.Thread(target=warm_up, args=(pipeline,), name="warm-up", daemon=True).start()
    print(f"rag-papers chat: http://{host}:{port}  (Ctrl-C to stop)", file=sys.stderr)
    demo.launch(
        server_name=host,
        server_port=port,
        auth=SignInGuard(*auth) if auth else None,
        auth_message="rag-papers: sign in with the user and password from RAG_PAPERS_UI_AUTH.",
        quiet=True,
    )
    return 0
