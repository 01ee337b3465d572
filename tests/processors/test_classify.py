"""Rules and the learned model as one judgement: issues, evidence, kind."""

from __future__ import annotations

from processors.classify import IssueClassifier
from processors.model import KIND_HEAD, Head, LearnedModel
from processors.watchlist import Watchlist, parse_watchlist

TITLE = "Kremlin hints at a pause in strikes"  # no truce word: the rules see no ceasefire


def learned(threshold: float = 0.5) -> LearnedModel:
    """A hand-made model: "pause" and "strikes" mean ceasefire; "explainer" means background."""
    return LearnedModel(
        [Head("ceasefire", -3.0, threshold), Head("prisoners", -3.0, 0.5),
         Head(KIND_HEAD, -3.0, 0.5)],
        {"w:pause": [(0, 2.0)], "w:strikes": [(0, 2.0)], "w:explainer": [(2, 6.0)]})


def test_the_model_decides_the_issues_it_learned(watchlist: Watchlist) -> None:
    rules_only = IssueClassifier(watchlist)
    assert "ceasefire" not in {m.issue_id for m in rules_only.classify(TITLE)}
    with_model = IssueClassifier(watchlist, learned())
    (match,) = [m for m in with_model.classify(TITLE) if m.issue_id == "ceasefire"]
    assert match.score > 0.5
    # No rule fired: the evidence is the sentence whose words weigh most in the model.
    assert match.evidence == (TITLE,)
    # The model also takes away what it learned is not the issue.
    swap = "Ukraine and Russia swap prisoners of war"
    assert "prisoners" in {m.issue_id for m in rules_only.classify(swap)}
    assert "prisoners" not in {m.issue_id for m in with_model.classify(swap)}


def test_issues_the_model_does_not_know_are_the_rules(watchlist: Watchlist) -> None:
    with_model = IssueClassifier(watchlist, learned())
    issues = {m.issue_id for m in with_model.classify("Russian warship sunk in the Black Sea")}
    assert issues == {"black-sea"}


def test_a_users_own_issue_works_by_its_rules_alone(watchlist_text: str) -> None:
    text = watchlist_text + """
[[issues]]
id = "energy-grid"
name = "Ukraine's power grid"
  [[issues.signals]]
  terms = ["power grid", "blackout*"]
"""
    classifier = IssueClassifier(parse_watchlist(text), learned())
    issues = {m.issue_id for m in classifier.classify("Blackouts across Kyiv after strikes")}
    assert "energy-grid" in issues


def test_the_kind_comes_from_the_model_or_the_title(watchlist: Watchlist) -> None:
    with_model = IssueClassifier(watchlist, learned())
    assert with_model.judge("Explainer: what a pause in strikes would mean").kind == \
        "background"
    assert with_model.judge(TITLE).kind == "report"
    rules_only = IssueClassifier(watchlist)
    assert rules_only.judge("Analysis: Kyiv weighs a truce").kind == "background"
    assert rules_only.judge("Kyiv weighs a truce").kind == "report"


def test_items_that_do_not_name_the_war_are_not_read_further(watchlist: Watchlist) -> None:
    classifier = IssueClassifier(watchlist, learned(threshold=0.01))
    assert classifier.classify("A pause in strikes at the car plant") == ()
    assert classifier.probabilities("A pause in strikes at the car plant") == {
        "ceasefire": 0.0, "prisoners": 0.0}
