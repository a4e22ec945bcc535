"""What a question names, and which retrieved papers are about it.

- The question's specific words (names such as RWKV or GPT-4, words the model's vocabulary
  lacks such as jailbreak) and the quantities it asks a number for ("how many tokens").
- `Names`, over the collection's term statistics: its rare names (capitalised words few
  chunks contain: ZeroI2V, Aya), the papers about what a lookup names (every rare or
  versioned name, more than in passing, and the kind of thing an advice question asks for),
  and the papers a comparison compares.

Functions take the question as the user asked it, without a follow-up's "(about: …)".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol, TypeVar

from rag_papers.qa.evidence import WORD, content_terms, stopwords
from rag_papers.qa.mentions import (
    COUNTED_NOUNS,
    asked_kind,
    mentioned_in_passing,
    named_as_kind,
    says_kind,
    spelled_out,
    subject_of,
    versioned_names,
    whole_word,
)

if TYPE_CHECKING:
    from rag_papers.qa.ports import TermStats
    from rag_papers.types import RetrievedPaper


class PaperTerms(Protocol):
    """What naming reads of a retrieved paper's evidence (paper_evidence.PaperEvidence has it): the
    paper and the stemmed terms of its title and abstract."""

    @property
    def paper(self) -> RetrievedPaper: ...

    @property
    def terms(self) -> set[str]: ...


P = TypeVar("P", bound=PaperTerms)  # the papers' own type, kept by the filters below

# "how many X", "what X rate": the question wants a number about X.
_QUANTITY = re.compile(
    r"\bhow many((?:\s+[\w-]+){1,2})"  # the noun phrase: "how many training tokens"
    r"|\bwhat\s+(?:(?:is|are|was|were)\s+the\s+)?((?:[\w-]+\s+){0,2}(?:rate|accuracy|percentage|score|speed-?up|size|number)s?)\b",
    re.IGNORECASE,
)


@lru_cache(maxsize=1)
def _common_words() -> frozenset[str]:
    """Whole words of the bundled model's WordPiece vocabulary: a list of common English words."""
    from rag_papers.errors import ConfigError
    from rag_papers.providers.embed import local_model_dir

    try:
        lines = (local_model_dir() / "vocab.txt").read_text(encoding="utf-8").split()
    except (ConfigError, OSError):  # no local model: fall back to the case and digit tests alone
        return frozenset()
    return frozenset(w for w in lines if w.isalpha())


def specific_terms(question: str) -> list[tuple[str, str]]:
    """The question's names of specific things, as (word, stemmed term) pairs.

    A word counts when it looks like a name (two or more capitals, as in RWKV or NatureLM,
    or a digit, as in GPT-4) or is a long word the model's general vocabulary lacks
    (jailbreak). If the collection never contains such a term it cannot answer the question.
    """
    common = _common_words()
    out: dict[str, str] = {}
    for word in WORD.findall(question):
        for part in word.split("-"):
            low = part.lower()
            if len(low) < 2 or low in stopwords() or low.isdigit():  # a year or count: no name
                continue
            named = sum(ch.isupper() for ch in part) >= 2 or any(ch.isdigit() for ch in part)
            rare = bool(common) and low.isalpha() and len(low) >= 6 and low not in common
            if named or rare:
                terms = content_terms(low)
                if terms:
                    out.setdefault(part, terms[0])
    return list(out.items())


def quantity_terms(question: str) -> list[str]:
    """For a question that asks for a number ("how many training tokens", "what word error
    rate"), the stemmed noun naming each quantity ("token", "error rate": a generic noun keeps
    the word before it); empty for other questions."""
    heads: list[str] = []
    for m in _QUANTITY.finditer(question):
        phrase = m.group(1) or m.group(2) or ""
        words: list[str] = []
        cut = ""
        for word in phrase.split():  # the noun phrase ends at the first stop word ("were", "does")
            if words and (word.lower() in stopwords() or word.lower() in COMPARATIVES):
                cut = word.lower()  # or at a comparison: "how many dB better" asks for decibels
                break
            words.append(word)
        if cut in COUNTED_NOUNS:  # "how many decoder-only models": models, whichever kind
            heads.append(COUNTED_NOUNS[cut])
            continue
        if words and not noun_of_quantity(words[-1]):
            continue  # "how many encoder-only and …": the noun is elided, the next phrase has it
        terms = content_terms(" ".join(words).replace("-", ""))  # "speed-ups" -> speedup
        if terms:  # a generic noun keeps the word before it: "batch size", "error rate"
            generic = terms[-1] in GENERIC_QUANTITIES and len(terms) > 1
            heads.append(" ".join(terms[-2:]) if generic else terms[-1])
    return list(dict.fromkeys(heads))


# A hyphenated word ending so describes a noun, it is not one: "encoder-only", "BERT-style".
_MODIFIER = re.compile(
    r"-(?:only|style|based|like|level|free|aware|specific|scale|sized|shot|grained|wise|centric"
    r"|oriented|driven|related|type)$",
    re.IGNORECASE,
)


def noun_of_quantity(word: str) -> bool:
    """Can the last word of "how many …" name the quantity? Not a modifier whose noun is elided
    ("how many encoder-only and …"), nor a word with no content ("new")."""
    return not _MODIFIER.search(word) and bool(content_terms(word.replace("-", "")))


# Words that end a quantity's noun phrase: "how many dB better", "how many points higher".
COMPARATIVES = frozenset(
    ["better", "worse", "more", "fewer", "less", "faster", "slower", "higher", "lower", "larger"]
    + ["smaller", "bigger", "longer", "shorter", "cheaper"]
)

# Quantity nouns that say little alone: "what batch size" asks for a batch size, not any size.
GENERIC_QUANTITIES = frozenset(["size", "rate", "number", "score", "ratio", "count", "point"])


def looks_like_name(word: str) -> bool:
    """Two capitals or a digit: RWKV, NatureLM, GPT-4 (not a word that starts a sentence)."""
    return sum(ch.isupper() for ch in word) >= 2 or any(ch.isdigit() for ch in word)


def named_terms(question: str) -> list[str]:
    """Stemmed terms of names in the question (two capitals or a digit: RWKV, GPT-4, NatureLM)."""
    return [term for word, term in specific_terms(question) if looks_like_name(word)]


# A capitalised name in the question that few chunks contain names its papers: at most
# RARE_NAME_DF chunks, or this share of the collection's chunks when that is more (GAN is in 3
# of the sample's 992 chunks and in 11 of 2,407 once the 2024 papers are added).
RARE_NAME_DF = 8
RARE_NAME_SHARE = 0.008
TOPIC_TITLES = 2  # a name in more retrieved titles than this is a topic word, not a paper's name

_CAPITALISED = re.compile(r"\b[A-Z][\w-]*")
# A quoted example the question gives ("a two-step prompt such as 'the capital of …'") is
# not what it asks about: its names are not the paper's.
_QUOTED_EXAMPLE = re.compile(
    r"\b(?:such as|e\.g\.,?|for example,?|for instance,?|like)\s+['\"‘“][^'\"’”]*['\"’”]",
    re.IGNORECASE,
)
# Names the question gives as examples of a kind ("American, British, Indian and other
# dialects") or as the owner of what it asks about ("Microsoft's multilingual E5": the question
# is about E5; its paper need not say who made it). An owner is an ordinary capitalised word
# (one capital, no digit) before a name within two words.
_EXAMPLE_LIST = re.compile(r"(?:\b[A-Z][\w-]*,\s+)+[A-Z][\w-]*,?\s+(?:and|or)\s+other\b")
_OWNER = re.compile(r"\b[A-Z][a-z]+(?:'s|’s)\s+(?=(?:[a-z][\w-]*\s+){0,2}[\w-]*[A-Z0-9])")
_TITLE_PHRASE = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][\w-]*(?:\s+[A-Z][\w-]*)+")
_QUOTED = re.compile(r"(?<!\w)['\"‘“]([^'\"‘’“”]{3,}?)['\"’”](?!\w)")
_COMPARE = re.compile(r"^\s*compare\b|\bdiffer(?:ence)?s?\b", re.IGNORECASE)
# Two things named together and asked about each: "A and B both …", "RakutenAI-7B and CT-LLM
# each build …", "how do their … compare", "what does each propose".
BOTH_NAMED = (
    # "X and Y both / each …", not "and what does each persona consist of" (one thing's parts)
    r"\band\s+(?!(?:what|how|which|why|where|when|whether|does|do|did)\b)(?:[\w.-]+\s+){1,3}?(?:both|each)\b"
    r"|(?:^|[.;:?!]\s+)how do (?:they|their|the two|these|both)\b[^?]*\bcompare\b"
    r"|\b(?:what|how) does each\s+(?:one\s+|of (?:them|the two)\s+)?(?:propose|do|contribute|build"
    r"|use|take|obtain|get|add|address|predict|offer|introduce|report|find|achieve|handle|bring"
    r"|make|approach)\w*\b"
)
_BOTH_NAMED = re.compile(BOTH_NAMED, re.IGNORECASE)


def own_names(names: dict[str, str], papers: Sequence[PaperTerms]) -> dict[str, str]:
    """The names (word -> stemmed term) at most TOPIC_TITLES of the papers carry in their title."""
    titled = {w: sum(t in content_terms(p.paper.title) for p in papers) for w, t in names.items()}
    return {w: t for w, t in names.items() if titled[w] <= TOPIC_TITLES}


def shouted_words(asked: str) -> dict[str, str]:
    """Common words the question writes in capitals as a name ("M3I and POINTS both …"), each
    with its stemmed term. The term statistics fold case, so they count every "points": such
    a name is found by how titles write it (`in_title`), not by how rare its term is."""
    common = _common_words()
    out = {}
    for word in re.findall(r"\b[A-Z]{4,}\b", asked):
        terms = content_terms(word.lower())
        if terms and word.lower() in common and not mentioned_in_passing(word, asked):
            out[word] = terms[0]  # not an example: "models such as CLIP"
    return out


def shouted_names(asked: str, names: dict[str, str]) -> dict[str, str]:
    """The common words the question writes in capitals as names (POINTS) that `names` lacks."""
    return {w: t for w, t in shouted_words(asked).items() if w not in names}


def number_forms(term: str) -> tuple[str, ...]:
    """A stemmed name and its other number: the stemmer keeps an acronym's plural apart
    ("PDFs" -> pdfs, "PDF" -> pdf), so a question's "PDF" is found in an abstract's "PDFs"."""
    return (term, term[:-1]) if term.endswith("s") else (term, term + "s")


def has_term(terms: set[str] | frozenset[str], term: str) -> bool:
    """Are a paper's stemmed terms carrying the name in either number (PDF or PDFs)?"""
    return any(form in terms for form in number_forms(term))


def in_title(word: str, term: str, title: str) -> bool:
    """Does the title carry the name? A name in capitals must be written so there: the data
    set MIMIC is not the verb "Mimic" of a title."""
    if term not in content_terms(title):
        return False
    return not word.isupper() or re.search(rf"(?<![\w-]){re.escape(word)}", title) is not None


_STATED_COUNT = re.compile(
    r"\b(two|three|four)\s+(?:[\w-]+\s+)?(?:papers|works|studies)\b",
    re.IGNORECASE,
)


def stated_count(asked: str) -> int | None:
    """The number of papers a question says it is about: "Two papers use hashtags …" -> 2 (not
    "the two approaches to …": the collection may hold more than the asker knows of)."""
    m = _STATED_COUNT.search(asked)
    return ["two", "three", "four"].index(m.group(1).lower()) + 2 if m else None


def _subject_position(name: str) -> re.Pattern[str]:
    """The name as what a question asks about: "How does (the) N …", "What is N", "N: what …"."""
    n = re.escape(name)
    return re.compile(
        rf"^(?:(?:how|what|why|where|when)\s+(?:does|do|did|is|was|are|were|can)\s+(?:the\s+)?{n}(?![\w-])"
        rf"|{n}\s*(?:[:—–-]|,\s*what\b))",
        re.IGNORECASE,
    )


# What a dataset or benchmark is made of, or how it was made: only the paper that brings it
# answers ("Which tasks make up the Continual-World benchmark?", not a paper evaluated on it).
_HOW_MADE = re.compile(
    r"\b(?:make|makes|made) up\b|\bconsists?\b|\bcomposed\b|\bcollected\b|\bconstructed\b"
    r"|\b(?:built|created|curated|annotated|recorded)\b|\b(?:cover|contain|include)s?\b",
    re.IGNORECASE,
)
_COLLECTION = r"(?:benchmark|dataset|data set|corpus|suite|leaderboard)s?"


def asks_how_made(name: str, asking: str) -> bool:
    """Does the question ask what the named dataset or benchmark is made of, or how?"""
    named = re.search(
        rf"(?<![\w-]){re.escape(name)}\s+(?:[\w-]+\s+)?{_COLLECTION}\b", asking, re.IGNORECASE
    )  # "the FLEURS speech benchmark"
    return named is not None and _HOW_MADE.search(asking) is not None


class Names:
    """What a question names, judged against the collection's term statistics."""

    def __init__(self, stats: TermStats) -> None:
        self.stats = stats

    def rare_words(self, asked: str) -> dict[str, str]:
        """Capitalised names in the question (its first word only when it looks like a name:
        LiRank, not Which) and names with two capitals
        (sDPO) that few chunks contain, each with its stemmed term: a paper with one in its
        title is what the question names."""
        asked = _QUOTED_EXAMPLE.sub(" ", asked)  # "a prompt such as '… the Eiffel Tower …'"
        asked = _OWNER.sub(" ", _EXAMPLE_LIST.sub(" ", asked))
        words = _CAPITALISED.findall(asked)
        if words and not looks_like_name(words[0]):  # "Which", not "LiRank and Wukong both…"
            words = words[1:]
        words += [w for w in re.findall(r"\b[a-z][\w-]*", asked) if looks_like_name(w)]  # sDPO
        rare = max(RARE_NAME_DF, round(RARE_NAME_SHARE * self.stats.size())) if words else 0
        names = {}
        for word in words:
            for term in content_terms(word):
                if 0 < self.stats.df(term) <= rare:
                    names[word] = term
        return names

    def about(self, asked: str, shape: str, papers: list[P]) -> list[P]:
        """The papers that name every rare or versioned name of the question (all papers when
        it names none): a lookup is answered by a paper about what it names."""
        versions = versioned_names(asked)  # DINOv2's pattern also finds "DINO v2"; its term not
        names = {w: t for w, t in self.rare_words(asked).items() if w not in versions}
        # "Which optimizer would you recommend…": a paper that never says optimizer is not it
        kind = asked_kind(asked) if shape == "lookup" else []
        papers = [
            pe
            for pe in papers
            if all(says_kind(w, f"{pe.paper.title} {pe.paper.abstract}") for w in kind)
        ]
        if not names and not versions:
            return papers
        # What the asking sentence names (a model's name: XLNet, GPT-3, not a term like SFT)
        # must be more than an example or a baseline in the paper; not a name the question
        # gives as an example ("augmentations such as RandAugment") or as background in a
        # sentence before ("engines built for BM25.").
        asking = re.split(r"(?<=[.!])\s+", asked.strip())[-1]
        subjects = [
            n
            for n in [*names, *versions]
            if any(c.islower() or c.isdigit() for c in n)
            and whole_word(n, flags=0).search(asking)
            and not (mentioned_in_passing(n, asking) or named_as_kind(n, asking))
        ]
        # "How does ZeRO-Infinity partition …": the name the question is about must be the
        # paper's subject, not a system it measures itself against.
        topics = [
            n
            for n in [*names, *versions]
            if _subject_position(n).search(asking) or asks_how_made(n, asking)
        ]
        found = []
        for pe in papers:
            title, abstract = pe.paper.title, pe.paper.abstract
            text = f"{title} {abstract}"
            if (
                all(has_term(pe.terms, t) or spelled_out(w, text) for w, t in names.items())
                and all(v.search(text) for v in versions.values())
                and not (
                    subjects
                    and all(
                        n.lower() not in title.lower() and mentioned_in_passing(n, abstract)
                        for n in subjects
                    )
                )
                and all(subject_of(n, title, abstract) for n in topics)
            ):
                found.append(pe)
        return found

    def titled(self, asked: str, papers: list[P]) -> list[P]:
        """The papers whose title opens with a one-word name the question uses, as in
        "torchdistill — what is it?" for "torchdistill: A Modular, Configuration-Driven
        Framework …": the question asks about that paper."""
        out = []
        for pe in papers:
            head, sep, _ = pe.paper.title.partition(":")
            head = head.strip()
            if not sep or len(head) < 4 or not re.fullmatch(r"[\w-]+", head):
                continue
            # "Scaling: …" names no paper; "ReGAL: …" does, though "regal" is a word
            common = head.lower() in _common_words()
            if common and not looks_like_name(head):
                continue
            flags = 0 if common else re.IGNORECASE  # a name that is also a word: as written
            if whole_word(head, flags).search(asked):
                out.append(pe)
        return out

    @staticmethod
    def title_phrase(asked: str, papers: list[P]) -> P | None:
        """The one paper whose title holds a phrase of two or more capitalised words the
        question uses ("how do SDXL-Lightning and Latent Adversarial Diffusion Distillation
        differ": "Fast High-Resolution Image Synthesis with Latent Adversarial Diffusion …")."""
        for phrase in _TITLE_PHRASE.findall(asked):
            found = [pe for pe in papers if whole_word(phrase).search(pe.paper.title)]
            if len(found) == 1:
                return found[0]
        return None

    def compared(self, asked: str, usable: list[P]) -> list[P]:
        """ "Compare how Medusa and EAGLE…", "Compare what 'Repeat After Me' and …": the papers
        of the compared names or quoted titles when each has one, else []. A paper is a
        name's when its title carries it, or, when no title does, its abstract uses it twice
        and not in passing (ArmoRM); a benchmark a result is reported on ("on RewardBench")
        is not compared."""
        both = bool(_BOTH_NAMED.search(asked))
        if not _COMPARE.search(asked) and not both:
            return []
        quoted = [q.lower() for q in _QUOTED.findall(asked)]
        rare = self.rare_words(asked)
        shouted = {  # POINTS: a common word in capitals, titled so in one or two papers
            w: t
            for w, t in shouted_names(asked, rare).items()
            if 0 < sum(in_title(w, t, p.paper.title) for p in usable) <= 2
        }
        names = {
            w: t
            for w, t in (own_names(rare, usable) | shouted).items()
            if not re.search(rf"\b(?:on|in|at)\s+(?:the\s+)?{re.escape(w)}\b", asked)
        }
        keys = [(q, q) for q in quoted] if quoted else list(names.items())
        if both and not _COMPARE.search(asked) and len(keys) < 2:
            return []  # "which papers …, and what does each add?" names no two papers
        titles = {t for p in usable for t in content_terms(p.paper.title)}
        # "SDXL-Lightning" is SDXL-Lightning's paper, not AnimateDiff-Lightning's, when a
        # retrieved title carries it whole
        whole = {w for w, _ in keys if any(whole_word(w).search(p.paper.title) for p in usable)}

        def has(p: P, word: str, term: str) -> bool:
            title, abstract = p.paper.title, p.paper.abstract
            if quoted:
                return word in title.lower()
            if word in shouted:  # POINTS, as the title writes it
                return in_title(word, term, title)
            if word in whole:
                return bool(whole_word(word).search(title))
            if term in titles:  # a paper titled with the name is the name's paper
                return term in content_terms(title)
            own = len(re.findall(rf"(?<![\w-]){re.escape(word)}", abstract)) >= 2
            return own and not mentioned_in_passing(word, abstract)

        own = [p for p in usable if any(has(p, w, t) for w, t in keys)]
        if keys and all(any(has(p, w, t) for p in own) for w, t in keys):
            return own
        return []


__all__ = [
    "BOTH_NAMED",
    "in_title",
    "stated_count",
    "GENERIC_QUANTITIES",
    "Names",
    "looks_like_name",
    "has_term",
    "named_terms",
    "number_forms",
    "own_names",
    "quantity_terms",
    "shouted_names",
    "shouted_words",
    "specific_terms",
]
