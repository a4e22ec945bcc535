"""The light numpy encoder must give the vectors sentence-transformers gives (same weights)."""

from __future__ import annotations

import numpy as np
from conftest import SMALL_LISTING

from rag_papers import Settings
from rag_papers.providers.embed import local_model_dir, make_embed_model, make_query_model
from rag_papers.providers.minilm import MiniLMEmbedding
from rag_papers.readers import read_listing


def test_numpy_encoder_matches_sentence_transformers() -> None:
    papers = read_listing(SMALL_LISTING).papers[:12]
    texts = [f"{p.title}\n\n{p.abstract}" for p in papers] + ["What is UL2?", "a", "x " * 400]
    light = np.array(MiniLMEmbedding(local_model_dir()).get_text_embedding_batch(texts))
    full = np.array(make_embed_model(Settings()).get_text_embedding_batch(texts))
    cos = (light * full).sum(1)
    assert cos.min() > 0.99999, cos
    assert np.allclose(np.linalg.norm(light, axis=1), 1.0, atol=1e-5)


def test_query_model_choice_follows_settings() -> None:
    assert isinstance(make_query_model(Settings()), MiniLMEmbedding)
    assert not isinstance(make_query_model(Settings(light_query_encoder=False)), MiniLMEmbedding)
