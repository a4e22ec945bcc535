"""Pipeline.run, .stream and .arun drive one step generator (issue 9): with the same model
reply they give the same Answer, in LLM mode too (arun's LLM branch awaits acomplete)."""

from __future__ import annotations

import asyncio

from fakes import ScriptedLLM

from rag_papers.qa.pipeline import Pipeline
from rag_papers.settings import Settings
from rag_papers.types import Answer

MRL_Q = "How does Matryoshka Representation Learning make one embedding adapt to different compute budgets?"
REPLY = "MRL nests coarse-to-fine representations in one embedding [1]. It also cures cancer [7]."


def same(a: Answer, b: Answer) -> None:
    assert (a.text, a.mode, a.model, a.abstained) == (b.text, b.mode, b.model, b.abstained)
    assert [c.to_dict() for c in a.citations] == [c.to_dict() for c in b.citations]
    assert [p.paper_id for p in a.contexts] == [p.paper_id for p in b.contexts]
    assert (a.dropped_citations, a.usage) == (b.dropped_citations, b.usage)


def test_run_stream_and_arun_give_the_same_llm_answer(small_index) -> None:
    llm = ScriptedLLM([REPLY, REPLY, REPLY])
    pipe = Pipeline(Settings(home=small_index), llm=llm)

    ran = pipe.run(MRL_Q, mode="llm")
    *pieces, streamed = pipe.stream(MRL_Q, mode="llm")
    awaited = asyncio.run(pipe.arun(MRL_Q, mode="llm"))

    assert ran.mode == "llm" and ran.citations and ran.dropped_citations == [7]
    assert ran.usage.get("total_tokens", 0) > 0  # the reply's own usage, returned with it
    assert pieces and all(isinstance(p, str) for p in pieces)
    same(ran, streamed)
    same(ran, awaited)
    assert llm.pending == 0 and len(llm.history) == 3  # each driver asked the model once
    assert llm.history[0] == llm.history[1] == llm.history[2]  # with the same prompt


def test_run_and_arun_give_the_same_extractive_answer(small_index) -> None:
    pipe = Pipeline(Settings(home=small_index, mode="extractive"))
    same(pipe.run(MRL_Q), asyncio.run(pipe.arun(MRL_Q)))
