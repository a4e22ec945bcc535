"""Providers: embedding models, chat LLMs and the arXiv API, each behind a small interface."""
