"""Finding what a question names in a paper's text: versioned names (Llama 3 is not
Llama 2), acronyms and their spelled-out forms (CTR, click-through rate; MoE, mixture of
experts), the two sides of "which papers combine A with B", the kind of thing an
advice question asks for ("Which optimizer would you recommend"), a name mentioned only in
passing ("models such as BERT, XLNet and so on"), and a number stated for a quantity. Plain text functions; the question given is what the user asked, without a
follow-up's "(about: ...)" context."""

from __future__ import annotations

import re

from rag_papers.qa.evidence import COUNT_WORDS, content_terms, states_number, stopwords

# The second side ends where the clause does: "…with B, and what does each …" asks more; the
# first never crosses a comma ("how does X combine open models, and what models did it …").
_COMBINE = re.compile(
    r"\bcombin\w*\s+([^,;:?.]+?)\s+(?:with|and)\s+(.+?)\s*"
    r"(?:[,;:?.]|\s(?:and|or)\s+(?:what|how|which|why|where|when|do|does|did|is|are)\b|$)",
    re.IGNORECASE,
)
# A name with its version, "Llama 3", "GPT-4", "ResNet-50": the family is not the version.
_VERSIONED = re.compile(r"\b([A-Z][A-Za-z]*[A-Za-z])[ -]?(\d{1,3}(?:\.\d)?)(?![\w.])")


def versioned_names(question: str) -> dict[str, re.Pattern[str]]:
    """Versioned names in the question, each with a pattern that finds it in a paper's text
    ("Llama 3" finds "Llama 3", "Llama-3" and "LLaMA3", not "Llama 2")."""
    found = {}
    for m in _VERSIONED.finditer(question):
        name, version = m.group(1), m.group(2)
        if name.lower() in stopwords():
            continue
        if len(name) > 2 and name[-1] in "vV" and name[-2].isupper():  # DINOv2: DINO v2
            name = name[:-1]
        found[m.group(0)] = re.compile(
            rf"\b{re.escape(name)}[ -]?(?:v[ -]?)?{re.escape(version)}(?!\d)", re.IGNORECASE
        )
    return found


def combined_sides(question: str) -> list[str]:
    """The two things a "which papers combine A with B" question joins, else []."""
    m = _COMBINE.search(question)
    return [m.group(1), m.group(2)] if m else []


_FUNCTION_WORDS = frozenset(["of", "and", "for", "the", "a", "an", "to", "in", "on", "with"])


def abbreviated(phrase: str, text: str) -> bool:
    """Does the text use the phrase's acronym ("state space models": SSM or SSMs; "mixture
    of experts": MoE or ME)?"""
    words = re.findall(r"[A-Za-z]+", phrase)
    if len([w for w in words if w.lower() not in _FUNCTION_WORDS]) < 2:
        return False
    letters = "".join(f"(?:{w[0]})?" if w.lower() in _FUNCTION_WORDS else w[0] for w in words)
    return re.search(rf"\b{letters}s?\b", text, re.IGNORECASE) is not None


def spelled_out(acronym: str, text: str) -> bool:
    """Does the text spell the acronym out ("CTR": "click-through rate", "ML": "machine
    learning")? Only for all-capital acronyms of two to six letters."""
    if not (2 <= len(acronym) <= 6 and acronym.isalpha() and acronym.isupper()):
        return False
    words = r"[\s-]+".join(rf"{ch}[a-z]*" for ch in acronym.lower())
    return re.search(rf"\b{words}\b", text, re.IGNORECASE) is not None


_TOKEN = re.compile(r"[\w.%×-]+")
QUANTITY_NEAR = 8  # a number states the quantity when it is within this many words of it
PHRASE_NEAR = 4  # "score (92.0%) on Reward-Bench": a generic noun's word may be this far


# Quantities abstracts state in other words: a speed-up "by a factor of 2.8", "3x faster",
# "400% lower latency"; points as "5.7% on exact match".
SAID_AS = {
    "speedup": re.compile(
        r"^(?:factor|faster|times|fold|\d[\d.]*(?:[x×]|times)|latency|accelerat\w*)$", re.IGNORECASE
    ),
    "point": re.compile(r"^[\d.]+%$|^pp$"),
    # "how many times the training length": a multiple, "2.5x the input length"
    "time": re.compile(r"^(?:\d[\d.]*[x×]|fold|\d[\d.]*-fold)$", re.IGNORECASE),
}
# Nouns the term statistics drop as too common, counted all the same: "how many encoder-decoder
# models" asks for a number of models (stated as "two T5-style models"), not of "encoder-decoder".
COUNTED_NOUNS = {"model": "model", "models": "model", "paper": "paper", "papers": "paper"}
SAID_AS |= {n: re.compile(rf"^{n}s?$", re.IGNORECASE) for n in set(COUNTED_NOUNS.values())}

# A score is stated by its metric's name alone: "a Binary F1 of 93.4", "BLEU of 31.2".
NAMED_BY_METRIC = frozenset(["score", "point"])


def states_quantity(sentence: str, head: str, question: str) -> bool:
    """Does the sentence give a number for the quantity: the quantity named ("error rate":
    both words close together; "speedup" also as "speed-up") with a number of its own near
    it? "8 fragments ... a carefully selected learning rate" does not state a learning rate."""
    *mods, noun = head.split()
    words = _TOKEN.findall(sentence)
    stems = [{*content_terms(w), *content_terms(w.replace("-", ""))} for w in words]
    said_as = SAID_AS.get(noun)
    if noun in NAMED_BY_METRIC and mods:  # "F1 scores": "a Binary F1 of 93.4" states one
        noun, mods = mods[-1], mods[:-1]
    for i, found in enumerate(stems):
        if noun not in found and not (said_as and said_as.search(words[i].rstrip("."))):
            continue
        around = stems[max(0, i - PHRASE_NEAR) : i + PHRASE_NEAR + 1]
        if all(any(m in s for s in around) for m in mods) and states_number(
            " ".join(words[max(0, i - QUANTITY_NEAR) : i + QUANTITY_NEAR + 1]), question
        ):
            return True
    return False


# Words that make what follows them in a sentence an example, a baseline or a point of
# comparison: "such as BERT, XLNet", "outperforming 175B GPT-3", "like Flamingo".
_PASSING_CUE = re.compile(
    r"\b(?:than(?!\s+[\d$~])|such as|e\.\s?g\.?|like|including|compar\w* (?:to|with|against)|versus|vs\.?|unlike"
    r"|outperform\w*|surpass\w*|beat(?:s|ing)?|(?:improvements?|gains?|superiority|advantages?) over"
    r"|baselines?|prior works?|previous (?:works?|methods?|models?))\b",
    re.IGNORECASE,
)
PASSING_WINDOW = 12  # a cue makes a mention passing when it is this many words before it
_OWN_PLACE = re.compile(
    r"\b(?:on|in|at|for|across|using|with|by|from|to|of|under|when|where|which|that|we|our)\b",
    re.IGNORECASE,
)
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+)(?=[^.!?]*$)")


def whole_word(word: str, flags: int = re.IGNORECASE) -> re.Pattern[str]:
    """The word on its own: not inside a longer name ("Lightning" in "SDXL-Lightning")."""
    return re.compile(rf"(?<![\w-]){re.escape(word)}(?![\w-])", flags)


def opening_word(word: str, flags: int = re.IGNORECASE) -> re.Pattern[str]:
    """The word alone or opening a longer name ("Baidu" in "Baidu-ULTR"), not inside a word."""
    return re.compile(rf"(?<![\w-]){re.escape(word)}(?!\w)", flags)


def mentioned_in_passing(name: str, text: str) -> bool:
    """Is every mention of the name in the text an example or a point of comparison? False
    when the text never mentions it. `text` is an abstract (a title naming it is not
    passing)."""
    found = list(whole_word(name).finditer(text))
    if not found:
        return False
    for m in found:
        start = _SENTENCE_START.search(text, 0, m.start())
        before = " ".join(text[start.end() if start else 0 : m.start()].split()[-PASSING_WINDOW:])
        cues = list(_PASSING_CUE.finditer(before))
        # "outperform SimVP on Moving MNIST": the benchmark after "on" is where it is shown
        if not cues or _OWN_PLACE.search(before[cues[-1].end() :]):
            return False
    return True


# A name followed by one of these words describes a kind of thing, it is not what is asked
# about: "Bradley-Terry style reward models" are reward models of that kind.
_KIND_OF = re.compile(r"[\s-](?:style|like|based|type|family|inspired)\b", re.IGNORECASE)


def named_as_kind(name: str, text: str) -> bool:
    """Does every mention of the name in the text describe a kind of thing ("BERT-style
    encoders", "Bradley-Terry style models")? False when the text never mentions it."""
    found = list(opening_word(name).finditer(text))
    return bool(found) and all(_KIND_OF.match(text, m.end()) for m in found)


# A sentence that says what the paper itself brings: "we propose Fuyou", "This paper presents
# X", "a method called Y".
_DECLARES = re.compile(
    r"\b(?:we|this (?:paper|work|study|report)|our (?:paper|work))\s+(?:\w+\s+){0,2}?"
    r"(?:propose|introduce|present|develop|design|build|release|describe|contribute|call|name|dub)\w*\b"
    r"|\b(?:called|named|dubbed|termed|coined)\b",
    re.IGNORECASE,
)
_NAMEISH = re.compile(r"(?<![\w-])(?:[A-Z][\w-]*|[a-z][\w-]*[A-Z0-9][\w-]*)")


def _declaring(text: str) -> list[str]:
    """What the sentences that say what the paper brings say after their verb."""
    out = []
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        m = _DECLARES.search(sentence)
        if m:
            out.append(sentence[m.end() :])
    return out


def declares(name: str, abstract: str) -> bool:
    """Does the abstract bring the name as its own ("a training-free method called TGATE",
    "we propose Fuyou"), in a sentence that says what the paper brings?"""
    pattern = whole_word(name)
    return any(pattern.search(s) for s in _declaring(abstract))


NAMED_OFTEN = 2  # an abstract that brings a name and uses it this often is about it


def brings_name(name: str, abstract: str) -> bool:
    """Does the abstract bring the name, alone or opening a longer one ("we introduce the
    Baidu-ULTR dataset" for Baidu), and use it NAMED_OFTEN times? A list about that name cites
    the paper though its title does not carry it."""
    pattern = opening_word(name, flags=0)
    return len(pattern.findall(abstract)) >= NAMED_OFTEN and any(
        pattern.search(s) for s in _declaring(abstract)
    )


def subject_of(name: str, title: str, abstract: str) -> bool:
    """Is the paper about `name` rather than naming it beside its own contribution? True when
    its title carries the name, or the abstract names it where it says what it brings ("we
    propose Fuyou"), or uses it twice, not in passing, without bringing a name of its own.
    False for "… outperforms DeepSpeed-MoE and Tutel" or "the state-of-the-art work
    ZeRO-Infinity suffers …" in a paper that presents FSMoE or Fuyou."""
    pattern = whole_word(name)
    if pattern.search(title):
        return True
    mentions = len(pattern.findall(abstract))
    if not mentions:
        return True  # named in other words (spelled out): judged elsewhere
    if mentioned_in_passing(name, abstract):
        return False
    if declares(name, abstract):
        return True
    declaring = _declaring(abstract)
    own = ":" in title and len(title.partition(":")[0].split()) <= 3
    if own or any(_NAMEISH.search(s) for s in declaring):
        return False  # the paper brings something else by name: this one is beside it
    return mentions >= 2


_ASKED_KIND = re.compile(
    r"^\s*(?:which|what)\s+((?:[\w-]+\s+){1,3}?)(?:should|would|could|can)\b",
    re.IGNORECASE,
)


def asked_kind(question: str) -> list[str]:
    """The words of the kind of thing a "which X should I use / would you recommend" question
    asks for (["optimizer"] for "Which optimizer would you recommend…"), else []. Only for
    should/would/could/can: "what two changes does X make" need not say "changes"."""
    m = _ASKED_KIND.match(question)
    if not m:
        return []
    words = [w.lower() for w in m.group(1).split()]
    return [w for w in words if w not in stopwords() and w not in COUNT_WORDS and not w.isdigit()]


def says_kind(word: str, text: str) -> bool:
    """Does the text use the word as written, or its plural ("optimizer", not "optimization")?"""
    stem = word[:-1] if word.endswith("s") and len(word) > 3 else word
    forms = (
        rf"{re.escape(stem[:-1])}(?:y|ies)"
        if stem.endswith("y")
        else rf"{re.escape(stem)}(?:s|es)?"
    )
    return re.search(rf"\b{forms}\b", text, re.IGNORECASE) is not None
