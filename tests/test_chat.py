"""Conversations: follow-ups rewritten into standalone questions, offline and with an LLM."""

from __future__ import annotations

from fakes import ScriptedLLM

from rag_papers import Assistant, Settings

MRL = "Matryoshka Representation Learning"


def test_offline_follow_up_is_steered_back_to_the_cited_paper(small_pipeline) -> None:
    chat = Assistant(pipeline=small_pipeline)
    first = chat.ask("What is Matryoshka Representation Learning?")
    assert any(c.title == MRL for c in first.citations)
    follow = chat.ask("what speed-ups does it report?")
    assert follow.standalone_question != "what speed-ups does it report?"
    assert MRL in follow.standalone_question
    assert MRL in [c.title for c in follow.contexts[:3]]
    # Without the rewrite the follow-up alone would not find the paper the user means.
    alone = small_pipeline.retriever.retrieve("what speed-ups does it report?", k=3)
    assert MRL not in [p.title for p in alone]
    # The titles attached for context do not turn into names the answer must contain (2D ...).
    assert not follow.abstained and any(c.title == MRL for c in follow.citations)
    assert follow.question == "what speed-ups does it report?"
    assert len(chat.turns) == 2


def test_unrelated_question_is_not_rewritten_and_reset_clears(small_pipeline) -> None:
    chat = Assistant(pipeline=small_pipeline)
    chat.ask("What is Matryoshka Representation Learning?")
    q = "Which papers study semantic leakage in text-to-image diffusion models?"
    assert chat.standalone(q) == q
    chat.reset()
    assert (
        chat.turns == [] and chat.standalone("what about its results?") == "what about its results?"
    )


def test_llm_rewrites_follow_ups_with_the_condense_prompt(small_index) -> None:
    llm = ScriptedLLM(
        [
            "MRL learns nested representations [1].",
            "How well does Matryoshka Representation Learning do on ImageNet?",
            "It matches baselines on ImageNet [1].",
        ]
    )
    chat = Assistant(Settings(home=small_index), llm=llm)
    chat.ask("What is Matryoshka Representation Learning?")
    second = chat.ask("what speed-ups does it report?")
    condense = llm.history[1][0]["content"]
    assert "what speed-ups does it report?" in condense and "MRL learns nested" in condense
    assert (
        second.standalone_question
        == "How well does Matryoshka Representation Learning do on ImageNet?"
    )
    # The answer prompt carries the conversation so far.
    assert "Conversation so far" in llm.history[2][1]["content"]
    assert llm.pending == 0
