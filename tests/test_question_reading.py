"""How a question is read before any paper is weighed: its shape, what it combines and which
names it asks about. Each case is a question the pipeline once misread."""

from __future__ import annotations

from rag_papers.qa.compose import question_shape
from rag_papers.qa.mentions import combined_sides
from rag_papers.qa.naming import Names


class FewChunks:
    """Term statistics where every term is rare (in 2 of 1,000 chunks)."""

    def df(self, term: str) -> int:
        return 2

    def idf(self, term: str) -> float:
        return 1.0

    def size(self) -> int:
        return 1000


MERGING = (
    "How does evolutionary optimization of model merging recipes combine open models, "
    "and what models did it produce?"
)


def test_what_one_method_produced_is_not_a_list_question() -> None:
    assert question_shape(MERGING) == "lookup"
    assert question_shape("Which models predict traffic from road sensors?") == "list"
    assert question_shape("What models does the collection compare?") == "list"


def test_a_combination_does_not_run_across_a_comma_into_the_next_clause() -> None:
    assert combined_sides(MERGING) == []
    assert combined_sides("Which papers combine Mamba with mixture of experts?") == [
        "Mamba",
        "mixture of experts",
    ]


def test_names_inside_a_quoted_example_are_not_what_the_question_asks_about() -> None:
    names = Names(FewChunks())  # type: ignore[arg-type]
    asked = (
        "Given a two-step prompt such as 'the capital of the country where the Eiffel Tower "
        "stands is', does a language model recall the intermediate entity?"
    )
    assert names.rare_words(asked) == {}
    titled = "Compare what 'Repeat After Me' and Mamba find about copying."
    assert "Mamba" in names.rare_words(titled)  # a quoted title is no example: names stay
    assert "Repeat" in names.rare_words(titled)
