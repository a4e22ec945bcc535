"""Answers a researcher trusts (issue 10): composition by question shape, citations numbered
by first appearance with quotes that support the citing sentence, display text, abstention,
follow-ups, and the replies reasoning models send. Each named case is a fault seen before."""

from __future__ import annotations

import re
import threading

import pytest
from fault_server import FaultServer

from rag_papers.evaluation.run import check_floors, parse_floor
from rag_papers.qa.chat import Assistant
from rag_papers.qa.citations import CANNOT_ANSWER, StreamRenumber, cited_numbers, renumber
from rag_papers.qa.display import display_text, is_boilerplate
from rag_papers.qa.evidence import states_number
from rag_papers.qa.pipeline import Pipeline
from rag_papers.qa.replies import (
    ReasoningFilter,
    normalize_citations,
    opens_in_prompt,
    strip_reasoning,
)
from rag_papers.qa.shape import question_shape
from rag_papers.qa.support import SentenceCache
from rag_papers.settings import Settings
from rag_papers.types import Answer, Citation


def check_numbering(ans: Answer) -> None:
    """Citations are 1..n in order of first appearance; uncited papers are 'also retrieved'."""
    order = list(dict.fromkeys(cited_numbers(ans.text)))
    assert order == list(range(1, len(order) + 1))
    assert [c.number for c in ans.citations] == order
    cited = {c.paper_id for c in ans.citations}
    assert [p.paper_id for p in ans.also_retrieved] == [
        p.paper_id for p in ans.contexts if p.paper_id not in cited
    ]
    for c in ans.citations:
        assert ans.contexts[c.rank - 1].paper_id == c.paper_id


def sentences_citing(ans: Answer, number: int) -> list[str]:
    return [s for s in re.split(r"\n\n|(?<=\]\.) ", ans.text) if f"[{number}]" in s]


# -- unit: text, numbering, shapes ---------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (r"a $2.35\times$ speedup", "a 2.35× speedup"),
        (r"only 0.12\% of the parameters", "only 0.12% of the parameters"),
        ("DiffFit achieves 2times training speed-up", "DiffFit achieves 2× training speed-up"),
        ("on ImageNet 512times512", "on ImageNet 512×512"),
        ("wrapped\nacross   lines", "wrapped across lines"),
        (r"$\sim$3B tokens and \textbf{bold}", "~3B tokens and bold"),
        ("three times as many", "three times as many"),
        ("fine-tuning---with a selected rate", "fine-tuning—with a selected rate"),
        ("a ---- rule stays", "a ---- rule stays"),
        (r"a study of {\it asynchronous} Local-SGD", "a study of asynchronous Local-SGD"),
        (
            "a prompt ``The capital of France is,'' then",
            "a prompt “The capital of France is,” then",
        ),
    ],
)
def test_display_text_renders_latex_and_arxiv_escapes(raw: str, shown: str) -> None:
    assert display_text(raw) == shown


def test_boilerplate_sentences_are_recognised() -> None:
    assert is_boilerplate("Project page: https://haochen-rye.github.io/HNeRV.")
    assert is_boilerplate("Code is available at github.com/x/y.")
    assert is_boilerplate("Our code and models will be made publicly available.")
    assert not is_boilerplate("We propose HNeRV, a hybrid neural representation for videos.")
    assert is_boilerplate(
        "Both the base and instruct models are released under the Apache 2.0 license."
    )
    assert is_boilerplate("SaulLM-7B is released under the MIT License.")
    # a licence or copyright named as content is no licence line
    assert not is_boilerplate(
        "Our 24B model (an accuracy of 87.8%) is the best generative model trained only on "
        "permissively licensed data."
    )
    assert not is_boilerplate("PASS only contains images with CC-BY license, addressing copyright.")


def test_renumber_by_first_appearance_keeps_the_rank() -> None:
    cites = [
        Citation(number=n, paper_id=f"p{n}", title="", url=None, published=None, quote="", score=0)
        for n in (2, 4)
    ]
    text = renumber("B says so [4]. A agrees [2][4].", cites)
    assert text == "B says so [1]. A agrees [2][1]."
    assert [(c.number, c.rank, c.paper_id) for c in cites] == [(1, 4, "p4"), (2, 2, "p2")]


@pytest.mark.parametrize(
    ("question", "shape"),
    [
        ("Which papers combine Mamba state space models with mixture of experts?", "list"),
        ("Compare how ZeroI2V and PLLaVA adapt image models to video.", "list"),
        ("How many tokens was TinyLlama pretrained on?", "numeric"),
        ("What is UL2's Mixture-of-Denoisers objective?", "lookup"),
        ("How do LoRA and adapters differ in trainable parameters?", "list"),
        ("What is the difference between MoE-Mamba and BlackMamba?", "list"),
        ("How can a chat model be made by reusing the difference between two models?", "lookup"),
        # one paper's comparison of what it names with a baseline, not a request for several
        ("How is XLNet pre-trained, and how does XLNet compare with BERT on GLUE?", "lookup"),
        ("What did the survey find? Compare the two methods it reviews.", "list"),
        # two things named together and asked about each
        ("LiRank and Wukong both scale up rankers. What does each propose?", "list"),
        ("FinTral and FinBen both target finance — how do their contributions differ?", "list"),
        ("SPDF and bert2BERT both cut costs. How do their strategies compare?", "list"),
        ("RakutenAI-7B and CT-LLM each build an LLM. How does each approach it?", "list"),
        ("Mobile ALOHA and Agile But Safe both learn control. How does each get data?", "list"),
        ("What does each layer of BERT learn?", "lookup"),
    ],
)
def test_question_shape(question: str, shape: str) -> None:
    assert question_shape(question) == shape


def test_number_words_state_a_number() -> None:
    assert states_number("We release Dolma, a three trillion token corpus.", "How many tokens?")
    assert not states_number("We release Dolma, an open corpus.", "How many tokens?")
    assert states_number("It covers sixty languages.", "How many languages?")
    assert not states_number("It works zero-shot.", "How many languages?")


def test_sentence_cache_is_safe_under_concurrent_eviction() -> None:
    cache = SentenceCache(size=5)
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for i in range(300):
                texts = [f"s{(i + j + offset) % 40}" for j in range(4)]
                vecs = cache.get_many(texts, lambda ts: [[float(len(t))] for t in ts])
                assert [v[0] for v in vecs] == [float(len(t)) for t in texts]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(cache) <= 5


# -- unit: what reasoning models send -----------------------------------------------------
def test_reasoning_filter_drops_think_blocks_split_across_chunks() -> None:
    f = ReasoningFilter()
    chunks = ["<th", "ink>the user wants [3]</th", "ink>\n\nMRL nests [1", "]. Done <", "b>."]
    shown = "".join(f.feed(c) for c in chunks) + f.flush()
    assert shown == "MRL nests [1]. Done <b>."
    assert strip_reasoning("<think>x [2]</think>\nAnswer [1].") == "Answer [1]."
    assert strip_reasoning("planning…</think> Answer [1].") == "Answer [1]."
    assert opens_in_prompt("planning…</think> A.") and not opens_in_prompt("<think>x</think> A.")
    lone = ReasoningFilter(hold_opening=True)  # reasoning whose <think> was in the prompt
    chunks = ["Okay, the user asks. ", "Source two?</th", "ink>\n\nMRL nests [1", "]."]
    assert [lone.feed(c) for c in chunks] + [lone.flush()] == ["", "", "MRL nests [1", "].", ""]
    plain = ReasoningFilter(hold_opening=True)  # shown from the first citation; none: at the end
    assert [plain.feed(c) for c in ["MRL ", "nests [1]", " too."]] == ["", "MRL nests [1]", " too."]
    assert plain.feed("") + plain.flush() == ""
    short = ReasoningFilter(hold_opening=True)
    assert (
        short.feed("The papers do not answer.") == ""
        and short.flush() == "The papers do not answer."
    )


@pytest.mark.parametrize(
    ("written", "normal"),
    [
        ("A [1, 2].", "A [1, 2]."),
        ("A [1-3].", "A [1][2][3]."),
        ("A [1][2].", "A [1][2]."),
        ("A 【1】 and 【2, 3】.", "A [1] and [2][3]."),
        ("A holds.\n\nSources: [1] MRL; [2] Other", "A holds [1][2]."),
        ("A holds [2].\n\nSources:\n1. MRL", "A holds [2]."),
    ],
)
def test_citation_forms_models_write(written: str, normal: str) -> None:
    assert normalize_citations(written) == normal


# -- unit: the eval gate ------------------------------------------------------------------
def test_answer_metrics_gate_and_no_floor_means_no_failure() -> None:
    report = {
        "configs": {
            "hybrid": {
                "answers": {"extractive": {"overall": {"citation_precision": 0.9}}},
            }
        }
    }
    assert check_floors(report, []) == []  # --mode answer without --fail-under exits 0
    assert parse_floor("citation_precision=0.95") == ("citation_precision", 0.95)
    failures = check_floors(report, [parse_floor("citation_precision=0.95")])
    assert failures and "citation_precision = 0.9000 is below the floor 0.95" in failures[0]
    assert check_floors(report, [parse_floor("citation_precision=0.85")]) == []
    assert "no retrieval metrics" in check_floors(report, [parse_floor("recall@5=0.9")])[0]


# -- the named cases, on the real sample --------------------------------------------------
def test_compare_cites_each_named_paper_with_its_own_sentence(sample_pipeline: Pipeline) -> None:
    ans = sample_pipeline.run("Compare how ZeroI2V and PLLaVA adapt image models to video.")
    check_numbering(ans)
    titles = [c.title for c in ans.citations]
    assert any(t.startswith("ZeroI2V") for t in titles)
    assert any(t.startswith("PLLaVA") for t in titles)
    for c in ans.citations:  # each entry quotes that paper, and its quote is that sentence
        assert any(c.quote.rstrip(".") in s for s in sentences_citing(ans, c.number))


def test_off_domain_questions_abstain(sample_pipeline: Pipeline) -> None:
    for question in (
        "What is the capital of France?",  # quoted a prompt example once
        "What is the best way to keep fresh basil from wilting in the kitchen?",
    ):
        ans = sample_pipeline.run(question)
        assert ans.abstained and ans.text == CANNOT_ANSWER and not ans.citations
        assert len(ans.also_retrieved) == len(ans.contexts)


def test_paraphrase_words_the_collection_never_uses_do_not_abstain(
    sample_pipeline: Pipeline,
) -> None:
    """'colouring' and 'safeguards' are not in any abstract; the papers answer in other words."""
    colour = sample_pipeline.run(
        "Compare the two approaches to colouring grayscale video in the collection."
    )
    assert not colour.abstained and colour.citations
    safe = sample_pipeline.run(
        "Which papers add safeguards that stop text-to-image diffusion models from "
        "generating unsafe concepts?"
    )
    assert not safe.abstained and safe.citations


def test_a_question_about_what_no_retrieved_paper_names_abstains(
    sample_pipeline: Pipeline,
) -> None:
    """Advice about a GAN, answered once from a data-selection paper that never says GAN; a
    version the papers never name (Llama 7) is not answered from the Llama papers."""
    for question in (
        "Which optimizer would you recommend for training a small GAN on a laptop GPU?",
        "What context window does Llama 7 have?",
    ):
        ans = sample_pipeline.run(question)
        assert ans.abstained and not ans.citations, (question, ans.text)


def test_a_number_states_a_quantity_only_next_to_its_name() -> None:
    from rag_papers.qa.mentions import states_quantity
    from rag_papers.qa.naming import quantity_terms

    q = "What is the best learning rate for fine-tuning BERT?"
    assert quantity_terms(q) == ["learn rate"]
    far = (
        "Using a library of 8 such semantic fragments, we find that models perform poorly on "
        "these fragments, even though the phenomena probed here are central to the task; with "
        "a carefully selected learning rate, a BERT-based model masters them."
    )
    assert not states_quantity(far, "learn rate", q)  # the 8 counts fragments
    assert states_quantity("We fine-tune with a learning rate of 3e-5.", "learn rate", q)
    assert not states_quantity("The error of 3 runs; the rate is stable.", "error rate", q)
    assert states_quantity(
        "It reaches a score (92.0%) on Reward-Bench.",
        "rewardbench score",
        "What Reward-Bench score?",
    )
    assert quantity_terms("How many captioned clips came out?") == ["clip"]


def test_a_name_given_as_an_example_or_a_baseline_is_a_passing_mention() -> None:
    from rag_papers.qa.mentions import mentioned_in_passing

    lrf = (
        "Current approaches for many NLP tasks use large pre-trained language models such as "
        "BERT, XLNet and so on for learning representations. We propose a low-rank variant."
    )
    assert mentioned_in_passing("XLNet", lrf) and mentioned_in_passing("BERT", lrf)
    assert mentioned_in_passing("GPT-3", "Our model is strong, outperforming 175B GPT-3 here.")
    assert mentioned_in_passing("Flamingo", "Vision-language models like \\cite{flamingo} excel.")
    # the benchmark a result is reported on, a model built on something, are not in passing
    assert not mentioned_in_passing(
        "MVTec", "We outperform the state of the art on the public MVTec AD dataset."
    )
    assert not mentioned_in_passing(
        "TSMixer", "We present TTM, a small model based on the lightweight TSMixer architecture."
    )
    assert not mentioned_in_passing("XLNet", "XLNet is compared with BERT. It wins.")
    assert not mentioned_in_passing("XLNet", "A text that never names it.")


def test_a_question_about_a_model_named_only_in_passing_abstains(
    sample_pipeline: Pipeline,
) -> None:
    """The sample names XLNet once, in "models such as BERT, XLNet and so on"; that paper is
    not about XLNet. A benchmark named where a result is reported still answers."""
    xlnet = sample_pipeline.run("What pre-training objective does XLNet use, and how big is it?")
    assert xlnet.abstained and not xlnet.citations, xlnet.text
    mvtec = sample_pipeline.run(
        "What AUROC does fitting a Gaussian to pre-trained deep features reach on MVTec AD?"
    )
    assert not mvtec.abstained and mvtec.citations, mvtec.text


def test_a_system_a_paper_measures_itself_against_is_not_its_subject() -> None:
    from rag_papers.qa.mentions import subject_of

    fuyou = (
        "This paper presents Fuyou, a low-cost training framework. In such a scenario, the "
        "state-of-the-art work ZeRO-Infinity suffers from low GPU utilization. The reason is "
        "that ZeRO-Infinity is optimized for high-end GPU servers."
    )
    title = "Adding NVMe SSDs to Enable and Accelerate 100B Model Fine-tuning on a Single GPU"
    assert not subject_of("ZeRO-Infinity", title, fuyou)  # twice, but beside its own Fuyou
    assert subject_of("Fuyou", title, fuyou)  # named where the paper says what it brings
    # a paper without a name of its own that uses the name twice is about it
    plain = "ZeRO-Infinity offloads states to NVMe. ZeRO-Infinity trains a trillion parameters."
    assert subject_of("ZeRO-Infinity", "Breaking the GPU memory wall", plain)
    assert subject_of("Tutel", "Tutel: Adaptive Mixture-of-Experts at Scale", "It adapts.")
    # once, as a baseline, in a paper with a name of its own in the title
    bert2bert = "Our method saves training cost compared with baselines including StackBERT."
    assert not subject_of("StackBERT", "bert2BERT: Towards Reusable PLMs", bert2bert)


def test_a_question_about_a_system_only_measured_against_abstains(
    sample_pipeline: Pipeline,
) -> None:
    """bert2BERT names StackBERT once, as a baseline: a question about how StackBERT works is
    not answered from it; a question about bert2BERT still is."""
    stack = sample_pipeline.run("How does StackBERT train a deep BERT from a shallow one?")
    assert stack.abstained and not stack.citations, stack.text
    own = sample_pipeline.run("How does bert2BERT reuse a smaller pre-trained model?")
    assert not own.abstained, own.text
    assert [c.title.split(":")[0] for c in own.citations] == ["bert2BERT"]


def test_two_papers_named_together_are_both_cited(sample_pipeline: Pipeline) -> None:
    """ "A and B both …: what does each propose?" is a comparison of A's and B's papers (it was
    answered as a lookup from one of them)."""
    a = sample_pipeline.run(
        "bert2BERT and SPDF both cut the cost of pretraining. What does each propose?"
    )
    heads = sorted(c.title.split(":")[0] for c in a.citations)
    assert heads == ["SPDF", "bert2BERT"], a.text
    # "A and B each …" with both names required of one paper had abstained
    each = sample_pipeline.run("SPDF and bert2BERT each cut pretraining cost. How does each do it?")
    assert sorted(c.title.split(":")[0] for c in each.citations) == ["SPDF", "bert2BERT"], each.text


def test_what_others_did_is_background_and_what_the_paper_does_is_not() -> None:
    from rag_papers.qa.roles import sentence_prior

    others = (
        "Several researchers voluntarily published frameworks used in their knowledge "
        "distillation studies to help other interested researchers reproduce their work."
    )
    assert sentence_prior(others, index=1) < 0
    assert sentence_prior("Some prior works have studied this.", index=2) < 0
    ours = "In this paper, we present our open-source framework for distillation studies."
    assert sentence_prior(ours, index=3) > 0
    assert sentence_prior("The framework is configured by YAML files.", index=4) == 0
    assert sentence_prior("Our main contribution is Matryoshka Representation Learning.", 0) > 0
    assert sentence_prior("This technical report details the first release of OLMo.", 0) > 0


@pytest.mark.parametrize(
    "setting",
    [  # quoted as list entries before, each where its abstract says what the paper does
        "A CRS is usually composed of a recommendation module and a generation module.",
        "Another difficulty is user interaction signals often have a different pattern.",
        "Finally, it is difficult to train multiple LLMs for different use-cases.",
        "Motivated by ethical and legal concerns, the scientific community is actively "
        "developing methods to limit the misuse of Text-to-Image diffusion models.",
        "Though some subsequent works attempt to unveil these details, they neglect others.",
        "Recent works have shown that large pre-trained models with learnable prompts help.",
        "A major drawback of this approach is high query latency.",
        "LLMs often struggle to generate fluent texts after longer contexts.",
        "One powerful approach that has addressed this challenge involves pre-training.",
        "Click-Through Rate prediction is an important task in recommender systems.",
        "It is an interesting but unexplored question whether users should edit scores.",
        # the question an abstract asks itself: its motivation, quoted as a statement before
        "This leads us to ask: can we design a representation that adapts to many tasks?",
        "Do T2I models generate diverse outputs on underspecified prompts?",
        'They ask: "can we localize the weights a model uses to memorize paragraphs?"',
        # a growing field is the setting even when it "develops" something; an enumeration
        # ("First, …") opens the sentence that sets the problem
        "There is a growing body of work in recent years to develop pre-trained language "
        "models (PLMs) for the Arabic language.",
        "First, existing Arabic PLMs are not well-explored and their pre-training can be "
        "improved significantly.",
    ],
)
def test_the_setting_and_its_difficulties_are_background(setting: str) -> None:
    from rag_papers.qa.roles import sentence_prior

    assert sentence_prior(setting, index=2) < 0


def test_a_quantity_stated_in_other_words_is_found() -> None:
    from rag_papers.qa.mentions import states_quantity

    """A speed-up is written "by a factor of 2.84", "3x faster" or "400% lower latency"; points
    of accuracy as percentages."""
    q = "What speedup does it give, and by how many points does it improve accuracy?"
    assert states_quantity("It outperforms CUDA on H100 by a factor up to 2.84.", "speedup", q)
    assert states_quantity("It leads to over 400% lower query latency.", "speedup", q)
    assert states_quantity("Decoding is 3.1x faster.", "speedup", q)
    assert states_quantity("It beats T5-large by 5.7% on exact match.", "point", q)
    assert not states_quantity("We train for 3 days; the model is fast.", "speedup", q)
    assert not states_quantity("It reaches 92 on the benchmark.", "point", "How many points?")


def test_an_acceleration_a_metric_score_and_a_unit_before_a_comparison_state_quantities() -> None:
    """Numbers the abstracts state that the check had missed: "a 40times acceleration" is a
    speed-up, "a Binary F1 of 93.4" an F1 score, and "how many dB better" asks for decibels."""
    from rag_papers.qa.mentions import states_quantity
    from rag_papers.qa.naming import quantity_terms

    q = "What training speed-up over REPA is reported?"
    said = "Our method achieves a 40times acceleration in training speed compared to REPA."
    assert states_quantity(said, "speedup", q)
    q = "What F1 scores does the credibility score reach on TACRED?"
    assert quantity_terms(q) == ["f1 score"]
    assert states_quantity("It achieves a Binary F1 of 93.4 on TACRED.", "f1 score", q)
    assert not states_quantity("The score of 3 annotators is averaged.", "f1 score", q)
    assert quantity_terms("How many dB better than NeRF is it?") == ["db"]
    assert quantity_terms("How many points higher does it score?") == ["point"]


def test_numbers_asked_in_other_words_are_answered(sample_pipeline: Pipeline) -> None:
    for question, title, number in (
        (
            "What speed-up over REPA comes from initialising a diffusion model's early layers"
            " with pretrained representations?",
            "Efficient Generative Model Training via Embedded Representation Warmup",
            "40",
        ),
        (
            "What F1 scores does a credibility score from pre-trained language models reach when"
            " detecting annotation inconsistencies?",
            "Pre-trained Language Models as Re-Annotators",
            "93.4",
        ),
    ):
        ans = sample_pipeline.run(question)
        assert not ans.abstained, question
        assert [c.title for c in ans.citations] == [title]
        assert number in ans.text


def test_a_question_that_names_a_paper_by_its_title_is_answered_from_it(
    sample_pipeline: Pipeline,
) -> None:
    """ "torchdistill — what is it?" names the paper titled "torchdistill: …"; its abstract says
    what it is in other words than the question, which had made it abstain."""
    a = sample_pipeline.run("torchdistill: what is it, and what does it offer?")
    assert not a.abstained, a.text
    assert [c.title.split(":")[0] for c in a.citations] == ["torchdistill"]


def test_a_rare_name_is_rare_for_the_size_of_the_collection() -> None:
    """GAN is in 3 of the sample's 992 chunks and in 11 of 2,407 with the 2024 papers: it names
    what a paper is about in both (the fixed limit of 8 lost it in the bigger store)."""

    from rag_papers.qa.naming import Names

    class Stats:
        def __init__(self, size: int, df: int) -> None:
            self.n, self.d = size, df

        def df(self, term: str) -> int:
            return self.d if term == "gan" else 500

        def idf(self, term: str) -> float:
            return 1.0

        def size(self) -> int:
            return self.n

    question = "Which optimizer would you recommend for training a small GAN on a laptop?"
    for size, df, rare in ((992, 3, True), (2407, 11, True), (992, 11, False)):
        names = Names(Stats(size, df))
        assert (set(names.rare_words(question).values()) == {"gan"}) is rare, (size, df)


def test_advice_needs_a_paper_about_the_kind_of_thing_asked_for(mamba_pipeline: Pipeline) -> None:
    """ "Which optimizer would you recommend…" was answered from MoE-Mamba, which names Mamba
    and never an optimizer; "which two changes does X make" is not advice and needs no word."""
    from rag_papers.qa.mentions import asked_kind, says_kind

    assert asked_kind("Which optimizer would you recommend for Mamba?") == ["optimizer"]
    assert asked_kind("Which cloud provider should I rent from?") == ["cloud", "provider"]
    assert asked_kind("What two changes does DeepSeekMoE make?") == []
    assert says_kind("optimizer", "two optimizers") and not says_kind("optimizer", "optimized")
    assert says_kind("strategy", "two principal strategies")
    for question in (
        "Which optimizer would you recommend for training a Mamba model?",
        "Which learning rate schedule should I use to fine-tune Mixtral?",
    ):
        ans = mamba_pipeline.run(question)
        assert ans.abstained and not ans.citations, (question, ans.text)


def test_a_comparison_cites_the_papers_it_names_and_no_others(sample_pipeline: Pipeline) -> None:
    """It cited two class-incremental papers that were close in score besides MOS and OVOR."""
    ans = sample_pipeline.run(
        "Compare how MOS and OVOR limit forgetting in class-incremental learning."
    )
    check_numbering(ans)
    assert sorted(c.title.split(":")[0] for c in ans.citations) == ["MOS", "OVOR"], ans.text


def test_a_name_no_retrieved_title_carries_gets_a_search_of_its_own() -> None:
    from rag_papers.qa.expand import add_named_papers
    from rag_papers.types import RetrievedPaper

    def paper(pid: str, title: str) -> RetrievedPaper:
        return RetrievedPaper(pid, title, "An abstract.", 0.01)

    found = [paper("m", "Medusa: Multiple Decoding Heads"), paper("s", "Speculative Streaming")]
    asked: list[str] = []

    def search(query: str, k: int) -> list[RetrievedPaper]:
        asked.append(query)
        return [
            found[1],
            paper("x", "Eagle-eyed review"),
            paper("e", "EAGLE: Speculative Sampling"),
        ]

    out = add_named_papers(
        "Compare Medusa and EAGLE.", found, {"Medusa": "medusa", "EAGLE": "eagl"}, search
    )
    assert [p.paper_id for p in out] == ["m", "s", "x"]  # the first new paper titled with it
    assert asked == ["EAGLE"]  # Medusa's paper was retrieved: no search for it
    assert add_named_papers("q", found, {}, search) == found


def test_a_common_word_in_capitals_is_a_name_its_title_writes_so() -> None:
    """ "M3I and POINTS both …": the term statistics count every "points", so POINTS is no
    rare name; it is searched in its clause and found by the title that writes it in capitals."""
    from rag_papers.qa.expand import add_named_papers
    from rag_papers.qa.naming import shouted_words
    from rag_papers.types import RetrievedPaper

    def paper(pid: str, title: str) -> RetrievedPaper:
        return RetrievedPaper(pid, title, "An abstract.", 0.01)

    asked = "M3I Pre-training and POINTS both rethink pre-training; how do they differ?"
    assert shouted_words(asked) == {"POINTS": "point"}  # M3I is no word; a name already
    assert shouted_words("How does RWKV compare with the Transformer?") == {}
    example = "How do PRE and GRAM differ for models such as CLIP?"
    assert shouted_words(example) == {"GRAM": "gram"}  # CLIP is an example
    found = [paper("m", "M3I: All-in-one Pre-training")]
    queries: list[tuple[str, int]] = []

    def search(query: str, k: int) -> list[RetrievedPaper]:
        queries.append((query, k))
        return [paper("c", "Point Cloud Pre-training"), paper("p", "POINTS: A Vision Model")]

    out = add_named_papers(asked, found, {"M3I": "m3i"}, search)
    assert [p.paper_id for p in out] == ["m", "p"]  # not the paper about points
    assert queries == [("POINTS both rethink pre-training", 10)]


def test_a_name_the_abstract_brings_is_found_by_its_own_search() -> None:
    """TGATE's title never says TGATE; its abstract brings it ("a method called TGATE")."""
    from rag_papers.qa.expand import add_named_papers
    from rag_papers.qa.mentions import declares
    from rag_papers.types import RetrievedPaper

    brings = "This yields a simple and training-free method called TGATE for generation."
    cites = "We compare with TGATE and DeepCache. TGATE caches cross-attention."
    assert declares("TGATE", brings) and not declares("TGATE", cites)
    found = [RetrievedPaper("s", "T-Stitch: Accelerating Sampling", "An abstract.", 0.01)]
    hits = [
        RetrievedPaper("c", "Caching for Diffusion", cites, 0.01),
        RetrievedPaper("t", "Cross-Attention Makes Inference Cumbersome", brings, 0.01),
    ]
    out = add_named_papers(
        "T-Stitch and TGATE both speed up sampling; where does each save computation?",
        found,
        {"T-Stitch": "tstitch", "TGATE": "tgate"},
        lambda query, k: hits,
    )
    assert [p.paper_id for p in out] == ["s", "t"]


def test_a_stated_number_of_papers_is_cited(sample_pipeline: Pipeline) -> None:
    """ "Two papers …": the second one is cited though it is less close to the question."""
    ans = sample_pipeline.run(
        "Two papers build foundation models for radiology: a small open multimodal model with "
        "an automated factuality metric, and a vision encoder trained without text "
        "supervision. How do they differ?"
    )
    check_numbering(ans)
    assert [c.title.split(":")[0] for c in ans.citations] == [
        "Towards a clinically accessible radiology foundation model",
        "RAD-DINO",
    ], ans.text


def test_a_compared_name_in_capitals_is_found(sample_pipeline: Pipeline) -> None:
    ans = sample_pipeline.run(
        "M3I Pre-training and POINTS both rethink how large vision models are pre-trained; "
        "how do their approaches differ?"
    )
    check_numbering(ans)
    assert sorted(c.title.split(":")[0] for c in ans.citations) == [
        "POINTS",
        "Towards All-in-one Pre-training via Maximizing Multi-modal Mutual Information",
    ], ans.text


def test_a_combination_no_paper_makes_abstains(sample_pipeline: Pipeline) -> None:
    """The sample has MoE papers and state-space papers, none combining them: it used to list
    four MoE papers."""
    ans = sample_pipeline.run("Which papers combine state space models with mixture of experts?")
    assert ans.abstained and not ans.citations


def test_names_versions_and_acronyms_are_matched_in_paper_text() -> None:
    from rag_papers.qa.mentions import abbreviated, combined_sides, spelled_out, versioned_names

    found = versioned_names("How many tokens was Llama 3 trained on, versus GPT-4?")
    assert set(found) == {"Llama 3", "GPT-4"}
    assert found["Llama 3"].search("we train LLaMA-3 8B") and not found["Llama 3"].search(
        "Llama 2 and Llama 30B"
    )
    assert versioned_names("In 2023, what did the model do?") == {}
    assert spelled_out("CTR", "Deep Interest Network for Click-Through Rate Prediction")
    assert not spelled_out("CTR", "click rates")
    assert not spelled_out("GPT", "GPT")  # only spelled-out words count
    assert abbreviated("mixture of experts", "sparse MoE layers")
    assert abbreviated("state space models", "selective SSMs")
    assert not abbreviated("Mamba", "M")
    assert not abbreviated("state space", "a text without the acronym")  # "SS" was cut to ""
    assert combined_sides("Which papers combine Mamba with mixture of experts?") == [
        "Mamba",
        "mixture of experts",
    ]
    asks_more = "Which papers combine A B with C D, and what does each take from the other?"
    assert combined_sides(asks_more) == ["A B", "C D"]
    assert combined_sides("Which papers combine A with C D and how do they differ?") == [
        "A",
        "C D",
    ]


def test_a_lookup_cites_the_one_paper_that_answers(sample_pipeline: Pipeline) -> None:
    ans = sample_pipeline.run("How does MiniLM compress a large Transformer?")
    check_numbering(ans)
    assert [c.title.split(":")[0] for c in ans.citations] == ["MiniLM"]
    assert ans.citations[0].quote.rstrip(".") in ans.text  # the quote is the cited sentence


def test_quotes_show_rendered_text_and_never_boilerplate(sample_pipeline: Pipeline) -> None:
    ans = sample_pipeline.run("How much faster does DiffFit train than full fine-tuning?")
    assert not ans.abstained
    assert "2×" in ans.text and "2times" not in ans.text
    hnerv = sample_pipeline.run("How does HNeRV represent videos with a neural network?")
    assert not hnerv.abstained
    for text in [hnerv.text, *(c.quote for c in hnerv.citations)]:
        assert "http" not in text and "project page" not in text.lower()


def test_follow_ups_keep_the_entity_of_the_conversation(sample_pipeline: Pipeline) -> None:
    chat = Assistant(pipeline=sample_pipeline)
    chat.ask("What is UL2's Mixture-of-Denoisers objective?")
    second = chat.ask("how big is their largest model?")
    third = chat.ask("and how does it compare to GPT-3?")
    for ans in (second, third):
        assert "UL2" in (ans.standalone_question or "")
        assert "AfroLM" not in (ans.standalone_question or "")
        assert [c.title.split(":")[0] for c in ans.citations] == ["UL2"]
    assert "20B" in second.text


# -- the named cases, on real papers of the 2024 collection -------------------------------
def test_list_question_cites_every_paper_that_answers(mamba_pipeline: Pipeline) -> None:
    ans = mamba_pipeline.run(
        "Which papers combine Mamba state space models with mixture of experts?"
    )
    check_numbering(ans)
    names = {c.title.split(":")[0] for c in ans.citations}
    assert {"MoE-Mamba", "BlackMamba", "Jamba"} <= names
    assert not names & {"Graph Mamba", "Video Mamba Suite"}
    moe = next(c for c in ans.citations if c.title.startswith("MoE-Mamba"))
    assert not moe.quote.startswith("At the same time")  # background, not what MoE-Mamba does


def test_numeric_quote_states_the_number(mamba_pipeline: Pipeline) -> None:
    ans = mamba_pipeline.run("How many tokens was TinyLlama pretrained on?")
    check_numbering(ans)
    assert [c.title.split(":")[0] for c in ans.citations] == ["TinyLlama"]
    assert "1 trillion tokens" in ans.citations[0].quote


# -- LLM mode through the real openai client ----------------------------------------------
MRL_Q = "How does Matryoshka Representation Learning make one embedding adapt to different compute budgets?"


def llm_settings(home, server: FaultServer) -> Settings:
    return Settings(home=home, openai_base_url=server.base_url, llm_max_wait=0.1)


def test_llm_reasoning_never_reaches_text_citations_or_stream(
    small_index, fault_server: FaultServer
) -> None:
    pipe = Pipeline(llm_settings(small_index, fault_server))
    fault_server.reasoning(
        "<think>Source [4] looks wrong; cite [1].</think>MRL nests coarse-to-fine "
        "representations in one embedding 【1】.",
        reasoning="The user asks about MRL. Maybe [2]?",
    )
    ans = pipe.run(MRL_Q)
    assert "think" not in ans.text and "Maybe" not in ans.text and "wrong" not in ans.text
    assert [c.number for c in ans.citations] == [1] and ans.dropped_citations == []

    pieces = ["<th", "ink>plan: cite [", "3]</think>", "MRL nests ", "embeddings [1-2]."]
    fault_server.stream("".join(pieces), pieces=pieces, reasoning="hidden chain of thought")
    items = list(pipe.stream(MRL_Q))
    shown = "".join(i for i in items if isinstance(i, str))
    final = items[-1]
    assert isinstance(final, Answer)
    assert "plan" not in shown and "hidden" not in shown and "<" not in shown
    assert shown.startswith("MRL nests")
    check_numbering(final)
    assert "plan" not in final.text and len(final.citations) == 2

    # a chat template that opens <think> in the prompt: the reply has only the closing tag.
    # The first such reply is clean in the answer; from then on also in the stream.
    pieces = [
        "The user asks about MRL; ",
        "source one fits.</th",
        "ink>\n\nMRL nests ",
        "embeddings [1].",
    ]
    for _ in range(2):
        fault_server.stream("".join(pieces), pieces=pieces)
        items = list(pipe.stream(MRL_Q))
        assert isinstance(items[-1], Answer) and "user asks" not in items[-1].text
    shown = "".join(i for i in items if isinstance(i, str))
    assert shown.startswith("MRL nests") and "user asks" not in shown and "think" not in shown


def test_llm_stream_shows_the_numbers_of_the_final_answer(
    small_index, fault_server: FaultServer
) -> None:
    """The model cites sources [3] then [1]; the draft a reader watches already reads [1] then
    [2], as the finished answer does (it used to show [3] and change under the reader)."""
    pipe = Pipeline(llm_settings(small_index, fault_server))
    pieces = ["MRL nests coarse-to-fine embeddings [", "3]. Smaller prefixes ", "still work [1]."]
    fault_server.stream("".join(pieces), pieces=pieces)
    items = list(pipe.stream(MRL_Q))
    shown = "".join(i for i in items if isinstance(i, str))
    final = items[-1]
    assert isinstance(final, Answer)
    assert shown.strip() == final.text.strip()
    assert cited_numbers(shown) == [1, 2]
    assert [c.rank for c in final.citations] == [3, 1]


def test_stream_renumber_holds_split_markers_and_keeps_unknown_numbers() -> None:
    numbers = StreamRenumber(n_sources=5)
    out = [numbers.feed(d) for d in ["A [4", "] and [2, 4]", " then [9] and [ x", "y] [5"]]
    out.append(numbers.flush())
    assert out[0] == "A "  # "[4" might be a marker: held back
    assert "".join(out) == "A [1] and [2][1] then [9] and [ xy] [5"  # an unclosed "[5" is text
    assert numbers.order == {4: 1, 2: 2}


def test_llm_sources_list_becomes_citations(small_index, fault_server: FaultServer) -> None:
    pipe = Pipeline(llm_settings(small_index, fault_server))
    fault_server.ok("MRL trains nested embeddings of many sizes.\n\nSources: [2], [1]")
    ans = pipe.run(MRL_Q)
    assert "Sources" not in ans.text
    assert ans.text.endswith("[1][2].") and [c.rank for c in ans.citations] == [2, 1]
    check_numbering(ans)


def test_sentences_a_source_joined_without_a_space_are_two_sentences() -> None:
    """BIOMEDICA's abstract reads "…publicly accessible dataset.Our framework produces…": the
    answer quoted both as one sentence with the join in it."""
    from rag_papers.qa.evidence import split_sentences

    text = "We release a dataset.Our framework yields 24 million pairs. See e.g. Fig. 2 for more."
    assert split_sentences(text) == [
        "We release a dataset.",
        "Our framework yields 24 million pairs.",
        "See e.g. Fig. 2 for more.",
    ]


def test_rel_and_resp_before_a_number_do_not_end_a_sentence() -> None:
    """DiarizationLM's abstract: "… reduce the WDER by rel. 55.5% on the Fisher …" was quoted
    as "… reduce the WDER by rel." with the figures cut off."""
    from rag_papers.qa.evidence import split_sentences

    text = "It reduces the WDER by rel. 55.5% on Fisher (resp. 44.9% on Callhome). Models. 3D next."
    assert split_sentences(text) == [
        "It reduces the WDER by rel. 55.5% on Fisher (resp. 44.9% on Callhome).",
        "Models.",
        "3D next.",
    ]


def test_two_words_cover_the_compound_a_question_writes() -> None:
    """A question's "keyphrase" or "pretext" is in an abstract that writes "key phrase" or
    "pre-text"; stop words are not joined ("of pre" is no term)."""
    from rag_papers.qa.evidence import content_terms, coverage, text_terms

    asked = content_terms("keyphrase extraction with pretext tasks")
    doc = "Topical key phrase extraction of news with visual pre-text tasks."
    assert {"keyphras", "pretext"} <= text_terms(doc)
    assert "ofnew" not in text_terms(doc)
    assert coverage(asked, text_terms(doc), lambda t: 1.0) == 1.0
    assert coverage(asked, set(content_terms(doc)), lambda t: 1.0) < 1.0


def test_the_quote_is_the_sentence_that_writes_the_asked_compound_apart(
    sample_pipeline: Pipeline,
) -> None:
    ans = sample_pipeline.run(
        "Which papers pre-train vision models with a classification-style pretext task?"
    )
    quotes = {c.title: c.quote for c in ans.citations}
    heuristic = (
        "Heuristic Vision Pre-Training with Self-Supervised and Supervised Multi-Task Learning"
    )
    assert "pre-text tasks" in quotes[heuristic]


def test_a_version_written_apart_a_multiple_and_a_figure_after_than() -> None:
    """Found on the spent v7 set: "DINO v2" is the DINOv2 a question names, "2.5x the input
    length" answers "how many times the length", and "more than 2.20% Kappa" gives a figure
    for Kappa rather than naming it as a point of comparison."""
    from rag_papers.qa.mentions import mentioned_in_passing, states_quantity, versioned_names

    dinov2 = versioned_names("Does it compete with CLIP or DINOv2?")["DINOv2"]
    assert dinov2.search("CLIP and DINO v2") and dinov2.search("DINOv2")
    assert not dinov2.search("DINO v3")
    q = "How many times the training length can a Transformer extrapolate to?"
    said = (
        "Standard Transformers can extrapolate to a sequence length that is 2.5x the input length."
    )
    assert states_quantity(said, "time", q)
    assert not states_quantity("It generalises to longer inputs at test time.", "time", q)
    kappa = "It surpasses full fine-tuning by more than 2.20% Kappa score on classification."
    assert not mentioned_in_passing("Kappa", kappa)
    assert mentioned_in_passing("BERT", "Our encoder is better than BERT on GLUE.")


def test_a_figure_after_more_than_answers_the_question_that_names_its_metric(
    sample_pipeline: Pipeline,
) -> None:
    ans = sample_pipeline.run(
        "With what share of extra trainable parameters does dynamic visual prompt tuning"
        " surpass full fine-tuning on medical image classification, and by how much Kappa?"
    )
    assert not ans.abstained
    assert [c.title for c in ans.citations] == [
        "DVPT: Dynamic Visual Prompt Tuning of Large Pre-trained Models for Medical Image Analysis"
    ]
    assert "0.5%" in ans.text and "Kappa" in ans.text


def test_what_each_part_of_one_thing_is_not_a_list_question(sample_pipeline: Pipeline) -> None:
    """ "… and what does each persona consist of?" asks about one dataset's parts; as a list
    it had cited a paper that only runs experiments on PERSONA-CHAT."""
    asked = "How was the PERSONA-CHAT dataset collected, and what does each persona consist of?"
    assert question_shape(asked) == "lookup"
    assert question_shape("Do MoE-Mamba and BlackMamba each use experts?") == "list"
    assert question_shape("Which papers do this, and what does each find?") == "list"
    ans = sample_pipeline.run(asked)
    assert ans.abstained and not ans.citations, ans.text


def test_a_name_written_with_its_version_joined_finds_the_paper_that_writes_it_apart(
    sample_pipeline: Pipeline,
) -> None:
    """ "MEALv2" for "MEAL V2" (as "DINOv2" for "DINO v2" on the spent v7 set): the version's
    pattern finds the paper; the joined word, which no abstract uses, is no missing name."""
    ans = sample_pipeline.run("What does MEALv2 do to boost a vanilla ResNet-50?")
    assert not ans.abstained, ans.text
    assert [c.title for c in ans.citations] == [
        "MEAL V2: Boosting Vanilla ResNet-50 to 80%+ Top-1 Accuracy on ImageNet without Tricks"
    ]
