"""A light query-time encoder for the bundled all-MiniLM-L6-v2: the same weights and the same
math as sentence-transformers (BERT, mean pooling, L2 norm), in numpy.

Why: importing sentence-transformers and torch costs 15-20 s on a 2-core machine, which
dominated a cold `rag-papers ask`. Encoding a question and a few dozen abstract sentences
needs no more than numpy, `tokenizers` and `safetensors`. Ingestion still embeds with
sentence-transformers (batched, multi-threaded); tests check that both give the same vectors.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

MAX_TOKENS = 256  # sentence_bert_config.json: max_seq_length
BATCH = 32


def _erf(x: np.ndarray) -> np.ndarray:
    """Abramowitz & Stegun 7.1.26 (max error 1.5e-7): BERT's exact GELU without scipy."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return sign * (1.0 - poly * np.exp(-a * a))


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


class MiniLMEncoder:
    """BERT forward pass over a sentence-transformers folder (mean pooling, normalized)."""

    def __init__(self, folder: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((folder / "config.json").read_text())
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config["layer_norm_eps"])
        # Copy into fresh aligned arrays, linear weights pre-transposed: safetensors' buffers can
        # be unaligned, which silently sends numpy's matmul down a slow path without BLAS.
        self.w = {
            name: np.ascontiguousarray(
                v.T if v.ndim == 2 and ".layer." in name else v, dtype=np.float32
            )
            for name, v in load_file(str(folder / "model.safetensors")).items()
            if v.dtype != np.int64
        }
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors, one per text. Texts are batched by length so padding stays small."""
        from threadpoolctl import threadpool_limits

        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros(
            (len(texts), self.w["embeddings.LayerNorm.weight"].shape[0]), dtype=np.float32
        )
        # One BLAS thread: these matrices are small, and on a busy 2-core machine OpenBLAS's
        # spinning threads made one question take ~2 s instead of ~40 ms.
        with threadpool_limits(limits=1, user_api="blas"):
            for start in range(0, len(order), BATCH):
                idx = order[start : start + BATCH]
                out[idx] = self._encode_batch([texts[i] for i in idx])
        return out

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        w = self.w
        enc = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.float32)
        n, length = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length][None]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(
            x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps
        )
        bias = (1.0 - mask)[:, None, None, :] * np.float32(-1e9)
        d = x.shape[-1] // self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def lin(v: np.ndarray, name: str, p: str = p) -> np.ndarray:
                # 2-D matmul: numpy's broadcast (n, L, h) @ (h, o) path is ~100x slower here
                out = v.reshape(-1, v.shape[-1]) @ w[p + name + ".weight"] + w[p + name + ".bias"]
                return out.reshape(*v.shape[:-1], -1)

            def split(v: np.ndarray) -> np.ndarray:
                # contiguous, or numpy's stacked matmul falls back to slow non-BLAS loops
                return np.ascontiguousarray(
                    v.reshape(n, length, self.heads, d).transpose(0, 2, 1, 3)
                )

            q, k, v = (split(lin(x, f"attention.self.{m}")) for m in ("query", "key", "value"))
            scores = q @ np.ascontiguousarray(k.transpose(0, 1, 3, 2)) * np.float32(d**-0.5) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            attn = scores / scores.sum(-1, keepdims=True)
            ctx = (attn @ v).transpose(0, 2, 1, 3).reshape(n, length, -1)
            x = _layer_norm(
                lin(ctx, "attention.output.dense") + x,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                self.eps,
            )
            h = lin(x, "intermediate.dense")
            h = 0.5 * h * (1.0 + _erf(h * np.float32(0.5**0.5)))
            x = _layer_norm(
                lin(h, "output.dense") + x,
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
                self.eps,
            )
        pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


class MiniLMEmbedding(BaseEmbedding):
    """The numpy encoder behind LlamaIndex's embedding interface (query-time use)."""

    _encoder: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default=None)
    _folder: Path = PrivateAttr()

    def __init__(self, folder: Path, **kwargs: Any) -> None:
        super().__init__(model_name="all-MiniLM-L6-v2 (numpy)", **kwargs)
        self._folder = folder
        self._lock = threading.Lock()

    def _enc(self) -> MiniLMEncoder:
        with self._lock:
            if self._encoder is None:
                self._encoder = MiniLMEncoder(self._folder)
            return self._encoder

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._enc().encode([query])[0].tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._enc().encode([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._enc().encode(list(texts)).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)
