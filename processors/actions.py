"""What happened, according to an item's evidence: the action, its severity, who took it.

``ActionDetector.detect`` reads the evidence sentences of one issue match and returns the
strongest action reported (signed > agreed > rejected > proposed > discussed > mentioned) and
the parties named in the sentences that report a position. Negated or conditional reports
("has not signed", "if the deal is not signed", "failed to agree") count as discussion only:
a first report that something was *done* is what makes a development severe.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from peacewatch.models import Severity
from processors.patterns import TermSet, compile_terms
from processors.text import fold
from processors.watchlist import Watchlist

_ACTIONS: tuple[tuple[str, Severity, str], ...] = (
    ("signed", Severity.SIGNED,
     r"\b(?:signed|signing|inked|ratif(?:y|ies|ied|ying|ication)|"
     r"signs?\s+(?:off|onto|up|into|(?:[\w-]+\s+){0,3}(?:deal|agreement|accord|law|bill|"
     r"treaty|memorandum|decree|pact|declaration|communique|framework))|to\s+sign|will\s+sign)\b"),
    ("agreed", Severity.AGREED,
     r"\b(?:agree[sd]?|agreeing|accept(?:s|ed|ing)?|approv(?:e|es|ed|ing)|endorse[sd]?|"
     r"struck\s+(?:a\s+)?deal|clinch(?:es|ed)?|seal(?:s|ed)\s+(?:a\s+|the\s+)?deal|"
     r"(?:deal|agreement|truce|ceasefire|accord)\s+(?:was|has\s+been|is)\s+reached|"
     r"reach(?:es|ed)?\s+(?:an?\s+)?(?:deal|agreement|accord|truce|ceasefire)|"
     r"breakthrough|took\s+effect|takes\s+effect|came\s+into\s+force|comes\s+into\s+force)\b"),
    ("rejected", Severity.REJECTED,
     r"\b(?:reject(?:s|ed|ing)?|refus(?:e|es|ed|ing)|rul(?:e|es|ed|ing)\s+out|"
     r"dismiss(?:es|ed|ing)?|turn(?:s|ed)?\s+down|walk(?:s|ed)?\s+(?:out|away)|"
     r"vetoe?[sd]?|spurn(?:s|ed)?|rebuff(?:s|ed)?|pull(?:s|ed)?\s+out\s+of|"
     r"suspend(?:s|ed)?|collaps(?:e|es|ed)|broke\s+down|breaks\s+down)\b"),
    ("proposed", Severity.PROPOSED,
     r"\b(?:propos(?:e|es|ed|al|als|ing)|offer(?:s|ed|ing)?|put\s+forward|unveil(?:s|ed)?|"
     r"suggest(?:s|ed)?|float(?:s|ed)|demand(?:s|ed)?|call(?:s|ed)?\s+for|plan(?:s)?\s+(?:to|for)|"
     r"draft(?:s|ed)?|present(?:s|ed)|submit(?:s|ted)?|urg(?:e|es|ed)|push(?:es|ed)?\s+for|"
     r"threat(?:en|ens|ened)|ultimatum|condition(?:s)?\s+for|insist(?:s|ed)?)\b"),
    ("discussed", Severity.DISCUSSED,
     r"\b(?:discuss(?:es|ed|ing|ion|ions)?|talks?|negotiat\w*|meet(?:s|ing|ings)?|met|"
     r"summit|consider(?:s|ed|ing)?|weigh(?:s|ed|ing)?|debat\w+|envoy|mediat\w*|"
     r"consult\w*|call\s+with|phone\s+call)\b"),
)
_COMPILED = tuple((name, sev, re.compile(src, re.IGNORECASE)) for name, sev, src in _ACTIONS)
# A done-deed verb under one of these is not a first report that it was done.
_NEGATION = re.compile(
    r"(?:\b(?:not|never|no|yet|without|fail\w*|unless|if|whether|would|could|might|may|"
    r"hop\w*|expect\w*|ready|willing|before|plan\w*|want\w*|seek\w*|aim\w*|urg\w*|"
    r"press\w*|push\w*|refus\w*|reject\w*|declin\w*)|n't)\b(?:\W+\w+){0,4}\W*$",
    re.IGNORECASE,
)
# ... and under one of these it is a refusal.
_REFUSAL = re.compile(r"\b(?:refus\w*|reject\w*|declin\w*)(?:\W+\w+){0,4}\W*$", re.IGNORECASE)
_DONE = frozenset({Severity.SIGNED, Severity.AGREED})


@dataclass(frozen=True, slots=True)
class Action:
    """The strongest thing an item reports on an issue."""

    name: str
    severity: Severity
    parties: frozenset[str] = frozenset()
    sentence: str = ""


MENTIONED = Action("mentioned", Severity.MENTIONED)


def sentence_action(sentence: str) -> tuple[str, Severity] | None:
    """The strongest action one sentence reports, with negation taken into account."""
    text = fold(sentence)
    best: tuple[str, Severity] | None = None
    for name, severity, pattern in _COMPILED:
        if best is not None and best[1] >= severity:
            break
        for m in pattern.finditer(text):
            found = (name, severity)
            before = text[: m.start()]
            if severity in _DONE and _NEGATION.search(before):
                found = (("rejected", Severity.REJECTED) if _REFUSAL.search(before)
                         else ("discussed", Severity.DISCUSSED))
            if best is None or found[1] > best[1]:
                best = found
            if best[1] == severity:
                break
    return best


class ActionDetector:
    """Finds the action and the parties in evidence sentences; built once per watchlist."""

    def __init__(self, watchlist: Watchlist) -> None:
        self._parties: tuple[tuple[str, TermSet], ...] = tuple(
            (pid, compile_terms(p.terms, watchlist.groups))
            for pid, p in watchlist.parties.items()
        )

    def parties_in(self, sentence: str) -> frozenset[str]:
        text = fold(sentence)
        lowered = text.lower()
        return frozenset(pid for pid, terms in self._parties if terms.search(text, lowered))

    def detect(self, sentences: Iterable[str]) -> Action:
        best = MENTIONED
        for sentence in sentences:
            found = sentence_action(sentence)
            if found is None or found[1] <= best.severity:
                continue
            parties = (self.parties_in(sentence) if found[1] >= Severity.PROPOSED
                       else frozenset())
            best = Action(found[0], found[1], parties, sentence)
        return best
