"""The alerts' intake decision: a pure function of a batch and what was loaded for it."""

from __future__ import annotations

from datetime import timedelta

from alertkit import T0, make_dev

from alerts.intake import FOLLOW_UP, Claim, Group, Loaded, Record, Rules, decide, wanted
from alerts.routing import Router
from alerts.silencing import ActiveSilence, SilenceMatcher
from peacewatch.bus.base import Record as BusRecord
from peacewatch.bus.events import Envelope
from peacewatch.models import Development
from peacewatch.settings.alerts import AlertsSettings

ROUTER = Router(AlertsSettings.model_validate({"receivers": {"ops": {"kind": "console"}}}))


def batch(*devs: Development) -> list[Envelope[Development]]:
    return [Envelope(d, BusRecord("t", 3, n, d.issue_id, b"", 0)) for n, d in enumerate(devs)]


def rules(*silences: ActiveSilence) -> Rules:
    return Rules(ROUTER, SilenceMatcher(list(silences)), lambda receiver: "console")


NOTHING = Loaded(frozenset(), frozenset())


def test_a_development_is_taken_once_into_its_group_on_its_partition() -> None:
    dev = make_dev(1)
    intents = decide(batch(dev, dev), NOTHING, rules(), T0)
    assert [type(i) for i in intents] == [Claim, Group]
    claim, group = intents
    assert isinstance(claim, Claim) and isinstance(group, Group)
    assert (claim.receiver, claim.status, claim.part, group.part) == ("ops", "taken", 3, 3)


def test_what_is_claimed_already_is_left_and_a_told_story_is_followed_up() -> None:
    old, new = make_dev(1), make_dev(2, story="s")
    claims, stories = wanted(batch(old, new), ROUTER)
    assert ("ops", old.development_id) in claims and ("ops", "s") in stories
    loaded = Loaded(frozenset({("ops", old.development_id)}), frozenset({("ops", "s")}))
    intents = decide(batch(old, new), loaded, rules(), T0)
    groups = [i for i in intents if isinstance(i, Group)]
    assert [g.item.development for g in groups] == [new]
    assert groups[0].key[2] == FOLLOW_UP + "s"


def test_baseline_and_silenced_developments_are_claimed_not_grouped() -> None:
    silence = ActiveSilence("s1", issue="black-sea", ends_at=T0 + timedelta(hours=1))
    intents = decide(batch(make_dev(1, baseline=True), make_dev(2)), NOTHING, rules(silence), T0)
    assert [(type(i).__name__, getattr(i, "status", None)) for i in intents] == [
        ("Claim", "baseline"), ("Claim", "silenced"), ("Record", None)]
    assert isinstance(intents[2], Record) and intents[2].record.status == "silenced"
