"""answer(), streaming, citations, abstention and bad input, on a real index of 67 papers."""

from __future__ import annotations

import asyncio
import re

import pytest
from fakes import ScriptedLLM

from rag_papers import Answer, QuestionError, Settings
from rag_papers.qa.citations import drop_unknown_citations
from rag_papers.qa.evidence import split_sentences
from rag_papers.qa.pipeline import (
    CANNOT_ANSWER,
    Pipeline,
    aanswer,
    answer,
    stream_answer,
)
from rag_papers.qa.prompting import pack_sources
from rag_papers.qa.retrieve import Filters

MRL = "Matryoshka Representation Learning"
MRL_Q = "How does Matryoshka Representation Learning make one embedding adapt to different compute budgets?"


def markers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\[(\d+)\]", text)]


# -- extractive (offline) mode ----------------------------------------------------------
def test_extractive_answer_cites_the_paper_with_a_quote_from_its_abstract(
    small_pipeline: Pipeline,
) -> None:
    ans = small_pipeline.run(MRL_Q)
    assert ans.mode == "extractive" and not ans.abstained
    assert ans.citations, ans.text
    numbers = markers(ans.text)
    assert numbers and set(numbers) == {c.number for c in ans.citations}
    titles = [c.title for c in ans.citations]
    assert MRL in titles
    for c in ans.citations:
        source = ans.contexts[c.number - 1]
        assert source.paper_id == c.paper_id and source.title == c.title
        assert c.quote in split_sentences(source.abstract)
    assert ans.dropped_citations == []
    assert ans.timings["retrieval"] > 0 and ans.settings_hash


def test_extractive_mode_is_deterministic(small_pipeline: Pipeline) -> None:
    first, second = small_pipeline.run(MRL_Q), small_pipeline.run(MRL_Q)
    assert first.text == second.text
    assert [c.to_dict() for c in first.citations] == [c.to_dict() for c in second.citations]


def test_extractive_abstains_on_a_name_the_collection_never_mentions(
    small_pipeline: Pipeline,
) -> None:
    ans = small_pipeline.run(
        "How does RWKV combine parallel training with constant-memory inference?"
    )
    assert ans.abstained and ans.text == CANNOT_ANSWER and ans.citations == []
    assert ans.contexts, "retrieval still ran; the papers are shown as what was searched"


def test_extractive_abstains_when_no_sentence_gives_the_number_asked_for(
    small_pipeline: Pipeline,
) -> None:
    # The MRL abstract is about sizes and speed-ups, but never says how many GPUs it used.
    ans = small_pipeline.run(
        "How many GPUs were used to train Matryoshka Representation Learning models?"
    )
    assert ans.abstained


def test_stream_yields_text_then_the_answer(small_index) -> None:
    items = list(stream_answer(MRL_Q, settings=Settings(home=small_index)))
    assert isinstance(items[-1], Answer)
    pieces = items[:-1]
    assert len(pieces) > 3 and all(isinstance(p, str) for p in pieces)
    assert "".join(pieces) == items[-1].text


def test_async_twin_gives_the_same_answer(small_index) -> None:
    settings = Settings(home=small_index)
    sync = answer(MRL_Q, settings=settings)
    result = asyncio.run(aanswer(MRL_Q, settings=settings))
    assert result.text == sync.text


def test_year_filter_restricts_the_sources(small_pipeline: Pipeline) -> None:
    ans = small_pipeline.run(
        "representation learning", filters=Filters(year_from=2022, year_to=2022), k=5
    )
    assert ans.contexts
    assert all((c.published or "").startswith("2022") for c in ans.contexts)


# -- bad input --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("question", "kwargs", "message"),
    [
        ("", {}, "empty"),
        ("   \n\t ", {}, "empty"),
        ("x" * 50_000, {}, "limit"),
        ("what is\x00 this\x07", {}, "control characters"),
        ("what is MRL?", {"k": 0}, "from 1 to"),
        ("what is MRL?", {"k": 10_000}, "from 1 to"),
        ("what is MRL?", {"mode": "telepathy"}, "unknown answer mode"),
    ],
)
def test_bad_input_gets_a_clear_error(small_pipeline: Pipeline, question, kwargs, message) -> None:
    with pytest.raises(QuestionError, match=message):
        small_pipeline.run(question, **kwargs)


# -- LLM mode with a scripted model -----------------------------------------------------
def llm_pipeline(small_index, *replies: str) -> tuple[Pipeline, ScriptedLLM]:
    llm = ScriptedLLM(list(replies))
    return Pipeline(Settings(home=small_index), llm=llm), llm


def test_llm_citations_are_mapped_and_unknown_numbers_dropped(small_index) -> None:
    pipe, llm = llm_pipeline(
        small_index,
        "MRL encodes information at different granularities [1]. It also cures cancer [7].",
    )
    ans = pipe.run(MRL_Q, mode="openai")
    assert ans.mode == "llm" and ans.model == "scripted"
    assert ans.dropped_citations == [7]
    assert "[7]" not in ans.text
    assert {c.number for c in ans.citations} <= set(range(1, len(ans.contexts) + 1))
    cited = {c.number: c for c in ans.citations}
    assert cited[1].title == ans.contexts[0].title
    # The prompt gave numbered, delimited sources and the question.
    sent = llm.history[0]
    assert sent[0]["role"] == "system" and CANNOT_ANSWER in sent[0]["content"]
    assert '<source id="1">' in sent[1]["content"] and MRL_Q in sent[1]["content"]


def test_llm_uncited_sentence_gets_post_hoc_attribution(small_index) -> None:
    mrl_sentence = (
        "Matryoshka Representation Learning encodes information at different granularities and allows "
        "a single embedding to adapt to the computational constraints of downstream tasks."
    )
    pipe, _ = llm_pipeline(small_index, mrl_sentence)
    ans = pipe.run(MRL_Q, mode="llm")
    assert ans.citations and all(c.added_by_code for c in ans.citations)
    assert any(c.title == MRL for c in ans.citations)
    assert markers(ans.text)


def test_llm_abstention_phrase_sets_abstained(small_index) -> None:
    pipe, _ = llm_pipeline(small_index, f"{CANNOT_ANSWER}")
    ans = pipe.run("What is the capital of the moon?", mode="llm")
    assert ans.abstained and ans.citations == [] and ans.text == CANNOT_ANSWER


def test_drop_unknown_citations_handles_lists_and_punctuation() -> None:
    text, dropped = drop_unknown_citations("A [1, 9]. B [12]. C [2][3].", 3)
    assert dropped == [9, 12]
    assert text == "A [1]. B. C [2][3]."


def test_pack_sources_keeps_within_the_token_budget(small_pipeline: Pipeline) -> None:
    import tiktoken

    contexts = small_pipeline.retriever.retrieve(MRL_Q, k=8)
    packed = pack_sources(contexts, 300, "gpt-4o-mini")
    assert len(tiktoken.get_encoding("o200k_base").encode(packed)) <= 330
    assert packed.startswith('<source id="1">') and "[1]" in packed
