"""Environment set before any heavy import, so the default path makes no outbound connection.

- Hugging Face: HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE stop hub look-ups (they hang ~70 s here).
- tiktoken: its BPE files come from the cache llama-index-core ships, never downloaded.
- Chroma and gradio telemetry off.
A user who set any of these keeps their value.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path


def apply() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    if "TIKTOKEN_CACHE_DIR" not in os.environ:
        spec = importlib.util.find_spec("llama_index.core")
        if spec and spec.origin:
            cache = Path(spec.origin).parent / "_static" / "tiktoken_cache"
            if cache.is_dir():
                os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)


apply()
