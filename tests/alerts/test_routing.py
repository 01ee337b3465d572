"""Routing rules and silences: pure matching over developments."""

from __future__ import annotations

from datetime import timedelta

from alertkit import T0, make_dev

from alerts.routing import Router, group_label
from alerts.silencing import ActiveSilence, SilenceMatcher
from peacewatch.models import Severity
from peacewatch.settings.alerts import AlertsSettings, Grouping


def settings(**kw: object) -> AlertsSettings:
    base: dict[str, object] = {"receivers": {
        "ops": {"kind": "console"}, "chiefs": {"kind": "console"}, "log": {"kind": "console"}}}
    base.update(kw)
    return AlertsSettings.model_validate(base)


def receivers(router: Router, **dev_kw: object) -> list[tuple[str, str]]:
    return [(t.route, t.receiver) for t in router.route(make_dev(**dev_kw))]  # type: ignore[arg-type]


def test_first_matching_route_wins_and_default_catches_the_rest() -> None:
    router = Router(settings(
        routes=[
            {"name": "big", "receivers": ["chiefs"], "min_severity": "agreed"},
            {"name": "sea", "receivers": ["ops"], "issues": ["black-sea"]},
        ],
        default_route={"receivers": ["log"]},
    ))
    assert receivers(router, severity=Severity.SIGNED) == [("big", "chiefs")]
    assert receivers(router, severity=Severity.PROPOSED) == [("sea", "ops")]
    assert receivers(router, issue="energy") == [("default", "log")]


def test_continue_fans_out_and_a_receiver_gets_it_once() -> None:
    router = Router(settings(routes=[
        {"name": "a", "receivers": ["ops"], "keywords": ["navigation"], "continue": True},
        {"name": "b", "receivers": ["ops", "chiefs"], "sources": ["reuters"]},
    ]))
    assert receivers(router) == [("a", "ops"), ("b", "chiefs")]


def test_sources_and_keywords_match_case_insensitively() -> None:
    router = Router(settings(
        routes=[{"name": "k", "receivers": ["ops"], "keywords": ["SAFE NAVIGATION"],
                 "sources": ["REUTERS"]}],
        default_route={"receivers": []}))
    assert receivers(router) == [("k", "ops")]
    assert receivers(router, sources=("AP",)) == []
    assert receivers(router, evidence=("nothing here",)) == []


def test_default_route_without_receivers_sends_to_every_receiver() -> None:
    router = Router(settings())
    assert [r for _, r in receivers(router)] == ["ops", "chiefs", "log"]


def test_group_labels() -> None:
    dev = make_dev(3, issue="energy")
    assert group_label(Grouping(), dev) == "issue=energy"
    assert group_label(Grouping(group_by=["issue", "severity"]), dev) == \
        "issue=energy,severity=proposed"
    assert group_label(Grouping(group_by=[]), dev) == "all"


def test_silences_match_issue_source_keyword_within_their_window() -> None:
    s = ActiveSilence("s1", issue="black-sea", ends_at=T0 + timedelta(hours=1))
    matcher = SilenceMatcher([s, ActiveSilence("s2", keyword="Minerals"),
                              ActiveSilence("s3", source="tass", starts_at=T0)])
    assert matcher.match(make_dev(), T0) is s
    assert matcher.match(make_dev(), T0 + timedelta(hours=1)) is None  # expired
    assert matcher.match(make_dev(issue="x", headline="minerals deal"), T0).silence_id == "s2"  # type: ignore[union-attr]
    assert matcher.match(make_dev(issue="x", sources=("TASS",)), T0).silence_id == "s3"  # type: ignore[union-attr]
    assert matcher.match(make_dev(issue="x", sources=("TASS",)),
                         T0 - timedelta(seconds=1)) is None  # not started
