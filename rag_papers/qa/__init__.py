"""Answering: question checks, retrieval, evidence, composition, citations, prompts, chat."""
