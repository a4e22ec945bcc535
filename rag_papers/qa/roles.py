"""The role of an abstract's sentence: what the paper does (a contribution: "we propose", "our
results show") or its setting and motivation (background: "Recent works have shown", "A major
drawback of …"). Answers quote contributions first; the priors here shift a sentence's support.
"""

from __future__ import annotations

import re

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
    r"|\bhas been (?:widely|extensively) (?:studied|used|adopted|explored)\b",
    re.IGNORECASE,
)


def sentence_prior(sentence: str, index: int = 1) -> float:
    """Contribution sentences up, background and motivation down (an abstract's first
    sentence is its setting unless it says what the paper does)."""
    prior = 0.0
    if _CONTRIBUTION.search(sentence):
        prior += CONTRIBUTION_BONUS
    elif index == 0:
        prior -= BACKGROUND_PENALTY
    if _BACKGROUND.search(sentence):
        prior -= BACKGROUND_PENALTY
    return prior


__all__ = ["BACKGROUND_PENALTY", "CONTRIBUTION_BONUS", "sentence_prior"]
