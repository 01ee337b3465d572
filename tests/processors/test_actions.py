from __future__ import annotations

import pytest

from peacewatch.models import Severity
from processors.actions import ActionDetector, sentence_action
from processors.watchlist import Watchlist


@pytest.mark.parametrize(("sentence", "severity"), [
    ("Ukraine and the US sign minerals deal", Severity.SIGNED),
    ("The agreement was signed in Washington on Wednesday", Severity.SIGNED),
    ("Moscow and Kyiv agreed to a 30-day truce", Severity.AGREED),
    ("A deal was reached after twelve hours of talks", Severity.AGREED),
    ("Zelensky rejected the proposal outright", Severity.REJECTED),
    ("The Kremlin ruled out any foreign troops in Ukraine", Severity.REJECTED),
    ("Ukraine refused to sign the document", Severity.REJECTED),
    ("Putin proposed a three-day truce for the holiday", Severity.PROPOSED),
    ("France and Britain offered to lead a reassurance force", Severity.PROPOSED),
    ("Envoys will discuss the ceasefire in Riyadh", Severity.DISCUSSED),
    ("Kyiv has yet to sign the minerals deal", Severity.DISCUSSED),
    ("Trump warned of big problems if the deal is not signed", Severity.DISCUSSED),
    ("The ceasefire agreement was discussed at length", Severity.DISCUSSED),
])
def test_sentence_action_severity(sentence: str, severity: Severity) -> None:
    found = sentence_action(sentence)
    assert found is not None and found[1] == severity


def test_a_sentence_without_an_action() -> None:
    assert sentence_action("Shelling continued overnight in the east") is None


def test_detect_takes_the_strongest_action_and_its_parties(watchlist: Watchlist) -> None:
    detector = ActionDetector(watchlist)
    action = detector.detect([
        "Talks continued in Jeddah on Monday.",
        "The Kremlin rejected the US proposal for an unconditional ceasefire.",
        "Officials proposed a new round next week.",
    ])
    assert action.name == "rejected" and action.severity == Severity.REJECTED
    assert action.parties == {"russia", "united-states"}
    assert action.sentence.startswith("The Kremlin rejected")
    nothing = detector.detect(["Fighting went on."])
    assert (nothing.name, nothing.severity, nothing.parties) == (
        "mentioned", Severity.MENTIONED, frozenset())


def test_parties_only_for_positions_not_for_discussion(watchlist: Watchlist) -> None:
    detector = ActionDetector(watchlist)
    assert detector.detect(["Putin and Trump discussed the war by phone."]).parties == set()
