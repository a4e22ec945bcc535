"""Date filters and papers without a date: counted, reported, and included on request."""

from __future__ import annotations

import pytest

from rag_papers.errors import QuestionError
from rag_papers.filters import Filters
from rag_papers.index.store import where_clause
from rag_papers.qa.pipeline import Pipeline

QUESTION = "Which papers propose new embedding or representation learning methods?"


def undated(pipeline: Pipeline, paper_id: str) -> bool:
    meta = pipeline.retriever.store.get_papers([paper_id])[paper_id]
    return not int(meta.get("published_ord") or 0)


def test_a_year_filter_counts_the_undated_papers_it_left_out(small_pipeline: Pipeline) -> None:
    store = small_pipeline.retriever.store
    n_undated = sum(1 for m in store.list_papers() if not int(m.get("published_ord") or 0))
    assert n_undated > 0  # the listing gives some papers no year

    dated = small_pipeline.run(QUESTION, filters=Filters(year_from=2020, year_to=2025), k=10)
    assert dated.undated_excluded == n_undated
    assert not any(undated(small_pipeline, p.paper_id) for p in dated.contexts)

    both = Filters(year_from=2020, year_to=2025, include_undated=True)
    wide = small_pipeline.run(QUESTION, filters=both, k=10)
    assert wide.undated_excluded == 0
    assert any(undated(small_pipeline, p.paper_id) for p in wide.contexts)

    assert (
        small_pipeline.run(QUESTION, k=3).undated_excluded == 0
    )  # no date filter, nothing left out


def test_including_undated_papers_in_the_store_query_and_in_python() -> None:
    f = Filters(year_from=2023, year_to=2025, include_undated=True)
    assert f.match({"published_ord": 0}) and f.match({"published_ord": 20240101})
    assert not f.match({"published_ord": 20220101})
    assert not Filters(year_to=2025).match({"published_ord": 0})
    assert where_clause(f) == {
        "$or": [
            {
                "$and": [
                    {"published_ord": {"$gte": 20230101}},
                    {"published_ord": {"$lte": 20251231}},
                ]
            },
            {"published_ord": 0},
        ]
    }


def test_a_reversed_year_range_is_an_error_that_says_so() -> None:
    with pytest.raises(QuestionError, match="reversed.*did you mean 2023-2025"):
        Filters.parse_years("2025-2023")
    assert Filters.parse_years("2023-") == Filters(year_from=2023)
