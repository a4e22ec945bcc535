"""The role of an abstract's sentence: what the paper does (a contribution: "we propose", "our
results show") or its setting and motivation (background: "Recent works have shown", "A major
drawback of …"). Answers quote contributions first; the priors here shift a sentence's support.

A one-paper answer also says what the paper brings and how well it works (`completed`): its
best contribution sentence and its best result sentence ("outperforms", "experiments show",
"2.3x faster") join the quoted ones when none of them is one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

CONTRIBUTION_BONUS = 0.06
BACKGROUND_PENALTY = 0.08

_CONTRIBUTION = re.compile(
    r"\b(?:we|this (?:paper|work|study|(?:technical )?report|survey|article)|our (?:\w+ )?(?:method|approach|model|framework|results?|experiments?|analysis|evaluation|contributions?|research|findings))\b"
    r"|\b(?:propose|introduce|present|develop|demonstrate|outperform|achieve|surpass|reach|show that|find that|results? (?:show|indicate|demonstrate))",
    re.IGNORECASE,
)
_BACKGROUND = re.compile(
    r"^(?:however|recently|in recent years|despite|although|while|existing|current|prior|previous|traditional|"
    r"conventional|most|many|at the same time|nowadays|with the (?:rapid|recent|advent)|large language models \(llms\) have)\b"
    r"|\b(?:has|have) (?:significantly |recently |rapidly |greatly )?(?:improved|emerged|shown|become|attracted|gained|achieved remarkable)\b"
    r"|\bremains? (?:a |an )?(?:challenge|challenging|open|unclear|underexplored)"
    # what others did: "Several researchers published frameworks …", "Some works have …"
    r"|^(?:several|some|numerous|various|other) (?:\w+ )?(?:researchers|works|studies|papers|authors)\b"
    # the setting and its difficulties: "Another difficulty is …", "A CRS is usually composed
    # of …", "Motivated by …, the community is developing …", "Finally, it is difficult to …"
    r"|^(?:though|motivated by|unfortunately|typically|traditionally|another (?:difficulty|challenge|problem|issue|limitation))\b"
    r"|\b(?:is|are) (?:usually|typically|commonly|generally) (?:composed|used|adopted|based|trained|built|framed|done)\b"
    r"|\bthe (?:scientific |research )?community (?:is|has)\b"
    r"|\b(?:it is|it remains) (?:still )?(?:an? )?(?:difficult|challenging|hard|unclear|costly|expensive|non-trivial|interesting|open)\b"
    # "Recent works have shown …", "A major drawback of this approach …", "LLMs often struggle
    # …", "One powerful approach …", "CTR prediction is an important task …"
    r"|^(?:recent (?:works?|studies|advances|advancements|approaches|methods|progress)|common among|widely used|concurrently)\b"
    r"|^an? (?:major|key|common|main|critical|fundamental) (?:drawback|limitation|challenge|problem|issue|bottleneck)\b"
    r"|^one (?:powerful|convenient|common|popular|promising) (?:approach|way|method|solution)\b"
    r"|\b(?:often|usually|still) struggle\b|\bthere(?:'s| is) an? (?:pressing|growing|critical|urgent) need\b"
    r"|\bis an? (?:important|fundamental|crucial|critical|general|long-standing|promising) (?:task|problem|research problem|alternative|direction)\b"
    r"|\bhas been (?:widely|extensively) (?:studied|used|adopted|explored)\b"
    # a question the abstract asks is its motivation: "This leads us to ask: can we …?"
    r"|\?[\"'”’)]*$|\bleads? us to ask\b"
    # "There is a growing body of work …", "There has been increasing interest in …"
    r"|^there (?:is|are|has been|have been) (?:a |an )?(?:growing|increasing|rising|renewed|surging)\b",
    re.IGNORECASE,
)
# An enumeration's opening word hides how a sentence starts: "First, existing Arabic PLMs are …"
_OPENING = re.compile(
    r"^(?:first(?:ly)?|second(?:ly)?|third(?:ly)?|moreover|furthermore|additionally|also|in addition),\s*",
    re.IGNORECASE,
)


def is_background(sentence: str) -> bool:
    """It gives the setting or motivation: "Recent works have shown …", "However, existing …"."""
    return bool(_BACKGROUND.search(_OPENING.sub("", sentence)))


# How well the paper's own work does: a comparison won, a result reported, a gain measured.
_RESULT = re.compile(
    r"\b(?:outperform\w*|surpass\w*|state[- ]of[- ]the[- ]art|(?:sets?|establish\w*) (?:a )?new"
    r"|(?:experiments?|results?|evaluations?|analys[ie]s|studies|tests?)\b(?:\s+[\w-]+){0,4}?"
    r"\s+(?:show|demonstrate|indicate|reveal|confirm|suggest|verify|validate)\w*"
    r"|(?:we|our [\w-]+) (?:show|demonstrate|find|observe|confirm|verify)s? that"
    r"|improv(?:es|ed|ing|ements?)(?:\s+[\w-]+){0,5}?\s+(?:by|over)"
    r"|achiev(?:es|ed|ing)(?:\s+[\w-]+){0,3}?\s+(?:accuracy|performance|results?|scores?|speed-?ups?"
    r"|gains?|improvements?|state|comparable|competitive|better|higher|superior)"
    r"|\d(?:\.\d+)?\s?(?:%|x\b|×|times\b))",
    re.IGNORECASE,
)
# A goal is not a result: "The goal is to minimize … while achieving desired performance".
_GOAL = re.compile(r"^(?:the|our) (?:goal|aim|objective)\b|\b(?:we aim|aims?) to\b", re.IGNORECASE)


def is_contribution(sentence: str) -> bool:
    """It says what the paper does ("we propose", "this paper", "our results show")."""
    return bool(_CONTRIBUTION.search(sentence)) and not is_background(sentence)


def states_result(sentence: str) -> bool:
    """It reports how well the paper's own work does ("outperforms", "experiments show")."""
    return bool(_RESULT.search(sentence)) and not (
        is_background(sentence) or _GOAL.search(sentence)
    )


class HasSentence(Protocol):
    @property
    def sentence(self) -> str: ...


S = TypeVar("S", bound=HasSentence)


def completed(picks: Sequence[S], ranked: Sequence[S], cap: int) -> list[S]:
    """`picks` with the best-ranked contribution and result sentences of `ranked` added when
    no pick is one, while there are fewer than `cap`."""
    out = list(picks)
    role: Callable[[str], bool]
    for role in (is_contribution, states_result):
        if len(out) >= cap or any(role(s.sentence) for s in out):
            continue
        extra = next((s for s in ranked if s not in out and role(s.sentence)), None)
        if extra is not None:
            out.append(extra)
    return out


def sentence_prior(sentence: str, index: int = 1) -> float:
    """Contribution sentences up, background and motivation down (an abstract's first
    sentence is its setting unless it says what the paper does)."""
    prior = 0.0
    if _CONTRIBUTION.search(sentence):
        prior += CONTRIBUTION_BONUS
    elif index == 0:
        prior -= BACKGROUND_PENALTY
    if is_background(sentence):
        prior -= BACKGROUND_PENALTY
    return prior


__all__ = [
    "BACKGROUND_PENALTY",
    "CONTRIBUTION_BONUS",
    "completed",
    "is_background",
    "is_contribution",
    "sentence_prior",
    "states_result",
]
