"""How a question is read before any paper is weighed: its shape, what it combines and which
names it asks about. Each case is a question the pipeline once misread."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag_papers.qa.mentions import combined_sides
from rag_papers.qa.naming import Names
from rag_papers.qa.shape import question_shape

if TYPE_CHECKING:
    from rag_papers.qa.pipeline import Pipeline


class FewChunks:
    """Term statistics where every term is rare (in 2 of 1,000 chunks)."""

    def df(self, term: str) -> int:
        return 2

    def idf(self, term: str) -> float:
        return 1.0

    def size(self) -> int:
        return 1000


def cited_titles(pipeline: Pipeline, question: str) -> tuple[list[str], str]:
    """The titles an answer cites (it must answer) and its text."""
    ans = pipeline.run(question)
    assert not ans.abstained, ans.text
    return [c.title for c in ans.citations], ans.text


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


def test_examples_of_a_kind_and_an_owner_are_not_what_the_question_names() -> None:
    names = Names(FewChunks())  # type: ignore[arg-type]
    dialects = (
        "How can one on-device language model cover American, British, Indian and other "
        "dialects of English?"
    )
    assert set(names.rare_words(dialects)) == {"English"}
    owned = "How were Microsoft's multilingual E5 embedding models trained?"
    assert set(names.rare_words(owned)) == {"E5"}
    # a possessive before no name is the subject itself; a name with capitals inside stays
    assert set(names.rare_words("How does Mixtral's router pick experts?")) == {"Mixtral"}
    assert "LLaMA" in names.rare_words("How does LLaMA's MLP differ from GPT-2?")
    # a plain list of names is no list of examples
    assert set(names.rare_words("Compare Mamba, RWKV and RetNet.")) == {"Mamba", "RWKV", "RetNet"}


def test_asking_how_a_named_benchmark_is_made() -> None:
    from rag_papers.qa.naming import asks_how_made

    assert asks_how_made(
        "CoBBLEr", "Which biases does the CoBBLEr benchmark test, and how is it built?"
    )
    assert asks_how_made("GAIA", "What kinds of questions make up the GAIA benchmark?")
    assert asks_how_made("FLEURS", "Which languages does the FLEURS speech benchmark cover?")
    assert not asks_how_made("GAIA", "Which assistants score best on the GAIA benchmark?")
    assert not asks_how_made("CoBBLEr", "How was CoBBLEr built?")  # not said to be a benchmark


def test_a_benchmark_a_paper_only_evaluates_on_does_not_answer_how_it_is_made(
    sample_pipeline: Pipeline,
) -> None:
    """FLAMe's abstract reports a result "on the CoBBLEr autorater bias benchmark"; it does
    not say what CoBBLEr tests or how it was built. BIOMEDICA's paper brings its dataset."""
    asked = "Which biases does the CoBBLEr benchmark test in LLM autoraters, and how is it built?"
    assert sample_pipeline.run(asked).abstained
    ans = sample_pipeline.run("How was the BIOMEDICA dataset constructed?")
    assert not ans.abstained
    assert ans.citations[0].title.startswith("BIOMEDICA")


def test_points_of_a_named_metric_are_stated_by_the_metric() -> None:
    """ "How many BLEU points" asks for BLEU: "+2.67 BLEU" states it, a bare number does not."""
    from rag_papers.qa.mentions import states_quantity
    from rag_papers.qa.naming import quantity_terms

    q = "How many BLEU points on average does it add over the previous state of the art?"
    assert quantity_terms(q) == ["bleu point"]
    assert states_quantity(
        "It improves the state of the art by +2.67 BLEU on average.", "bleu point", q
    )
    assert not states_quantity("It trains on 4 GPUs for 3 days.", "bleu point", q)
    assert states_quantity("Accuracy rises by 3.2% over RAG.", "accuraci point", q)
    assert quantity_terms("By how many points does it improve accuracy?") == ["point"]


def test_baselines_the_question_also_asks_about_do_not_hide_its_paper(
    sample_pipeline: Pipeline,
) -> None:
    """The question's own subject is the 24B autorater; GPT-4-0125 and GPT-4o are what the
    paper measures it against, named in passing. One name the paper owns is enough."""
    titles, text = cited_titles(
        sample_pipeline,
        "What RewardBench accuracy does the 24B autorater trained on permissively licensed "
        "human judgments reach, and what do GPT-4-0125 and GPT-4o score?",
    )
    assert titles == [
        "Foundational Autoraters: Taming Large Language Models for Better Automatic Evaluation"
    ]
    assert "87.8%" in text  # its licence words do not make the sentence boilerplate


def test_a_year_or_a_count_is_no_name() -> None:
    """ "Since the 2012 ImageNet breakthrough": a collection that never writes 2012 can still
    hold the survey; a name with a digit (GPT-4, 24B) stays a name."""
    from rag_papers.qa.naming import specific_terms

    words = [w for w, _ in specific_terms("A review of deep learning since the 2012 ImageNet win")]
    assert words == ["ImageNet"]
    words = [
        w for w, _ in specific_terms("How does GPT-4 compare with the 24B model on 100 tasks?")
    ]
    assert words == ["GPT", "24B"]


class Titled:
    """A retrieved paper's evidence as naming reads it: the paper and its terms."""

    def __init__(self, title: str) -> None:
        from rag_papers.qa.evidence import text_terms
        from rag_papers.types import RetrievedPaper

        self.paper = RetrievedPaper(title, title, "An abstract.", 0.01)
        self.terms = text_terms(title)


def test_a_compared_name_and_a_title_phrase_find_their_own_papers() -> None:
    """ "SDXL-Lightning" is not AnimateDiff-Lightning's name; "Latent Adversarial Diffusion
    Distillation" is the phrase of its paper's title."""

    class OneRareName(FewChunks):  # only SDXL-Lightning's words are rare
        def df(self, term: str) -> int:
            return 2 if term in {"sdxl", "lightn", "lightning"} else 500

    names = Names(OneRareName())  # type: ignore[arg-type]
    asked = (
        "How do SDXL-Lightning and Latent Adversarial Diffusion Distillation differ in how "
        "they turn diffusion models into few-step generators?"
    )
    sdxl = Titled("SDXL-Lightning: Progressive Adversarial Diffusion Distillation")
    animate = Titled("AnimateDiff-Lightning: Cross-Model Diffusion Distillation")
    ladd = Titled(
        "Fast High-Resolution Image Synthesis with Latent Adversarial Diffusion Distillation"
    )
    assert names.compared(asked, [sdxl, animate, ladd]) == [sdxl]
    assert names.title_phrase(asked, [animate, ladd]) is ladd
    assert names.title_phrase("Compare how M2TRec and the cold-start method work.", [ladd]) is None


ARABIC = (
    "In the study that re-examines how Arabic pre-trained language models are trained and "
    "benchmarked, how many new encoder-only and how many encoder-decoder models were released?"
)


def test_the_noun_of_a_quantity_is_not_its_modifier() -> None:
    """ "How many encoder-only and … encoder-decoder models" counts models: the abstract says
    "three new Arabic BERT-style models … and two T5-style models", never "encoder-only"."""
    from rag_papers.qa.mentions import states_quantity
    from rag_papers.qa.naming import quantity_terms

    assert quantity_terms(ARABIC) == ["model"]
    assert quantity_terms("How many decoder-only models, and of what size, were trained?") == [
        "model",
        "size",
    ]
    assert quantity_terms("How many layers and heads does it have?") == ["layer"]
    stated = "We release three new Arabic BERT-style models and two T5-style models."
    assert states_quantity(stated, "model", ARABIC)
    assert not states_quantity("We train models on Arabic text.", "model", ARABIC)


def test_where_each_is_applied_asks_about_one_paper() -> None:
    asked = (
        "Is there a broad review of deep learning that walks through the main network "
        "families, from convolutional nets to GANs, and where each is applied?"
    )
    assert question_shape(asked) == "lookup"
    assert question_shape("RWKV and Mamba each propose what kind of recurrence?") == "list"


def test_a_count_said_in_other_words_is_answered(sample_pipeline: Pipeline) -> None:
    titles, text = cited_titles(sample_pipeline, ARABIC)
    assert titles == [
        "Revisiting Pre-trained Language Models and their Evaluation for Arabic Natural "
        "Language Understanding"
    ]
    assert "three new Arabic BERT-style models" in text
    assert "There is a growing body of work" not in text  # the setting, not the answer
    # the name in its other number: the abstract's "PLMs" are the question's "PLM"
    asked = (
        "How many new encoder-only and how many encoder-decoder models did the Arabic PLM "
        "study release?"
    )
    assert cited_titles(sample_pipeline, asked)[0] == titles


def test_a_name_is_found_in_its_other_number(sample_pipeline: Pipeline) -> None:
    """The stemmer keeps "PDFs" apart from "PDF": a question's PDF is the abstract's PDFs."""
    from rag_papers.qa.naming import number_forms

    assert number_forms("pdf") == ("pdf", "pdfs")
    assert number_forms("pdfs") == ("pdfs", "pdf")
    titles, _ = cited_titles(
        sample_pipeline,
        "How is question-answer data generated from PDF files so that a model can give "
        "farmers advice specific to where they are?",
    )
    assert titles == ["RAG vs Fine-tuning: Pipelines, Tradeoffs, and a Case Study on Agriculture"]


def test_a_plural_name_in_the_question_finds_the_paper_that_says_it_once(
    sample_pipeline: Pipeline,
) -> None:
    """ "the LLM inference solution for Intel GPUs": the paper that says "Intel GPU" answers,
    not the one whose title happens to say "GPUs" (both abstracts from the 2024 collection)."""
    from rag_papers.types import RetrievedPaper

    gpu = RetrievedPaper(
        "gpu",
        "Efficient LLM inference solution on Intel GPU",
        "In this paper, we propose an efficient LLM inference solution with low latency and "
        "high throughput. We implement our LLM inference solution on Intel GPU and publish it "
        "publicly. Compared with the standard HuggingFace implementation, the proposed solution "
        "achieves up to 7x lower token latency and 27x higher throughput for some popular LLMs.",
        0.033,
    )
    mlp = RetrievedPaper(
        "mlp",
        "Fully-fused Multi-Layer Perceptrons on Intel Data Center GPUs",
        "This paper presents a SYCL implementation of Multi-Layer Perceptrons (MLPs), which "
        "targets and is optimized for the Intel Data Center GPU Max 1550. We show that our "
        "implementation on the Intel Data Center GPU outperforms the CUDA implementation on "
        "Nvidia's H100 GPU by a factor up to 2.84 in inference and 1.75 in training.",
        0.032,
    )
    asked = (
        "How much lower token latency and higher throughput does the LLM inference solution "
        "for Intel GPUs report against the standard HuggingFace implementation?"
    )
    composer = sample_pipeline.composer
    papers = composer.analyse(asked, [gpu, mlp])
    assert [pe.paper.paper_id for pe in composer.choice.about_names(asked, papers)] == [
        "gpu",
        "mlp",
    ]
    text = composer.compose(asked, [gpu, mlp])
    assert "7x lower token latency" in text and "[1]" in text and "[2]" not in text
