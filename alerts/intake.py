"""What the alerts stage decides about incoming developments: a pure function.

``decide`` takes a batch and what was loaded for it (the claims that exist, the stories each
receiver has been told about) and returns intents; the stage applies them in one delivery-log
transaction (``AlertStage._ingest``). Nothing here reads or writes storage, so a decision is the
same wherever it is made: on the worker that took a partition over as on the one that had it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from alerts.grouping import Timing
from alerts.routing import Router, Target, group_label
from alerts.schedule import release_at
from alerts.silencing import ActiveSilence, SilenceMatcher
from alerts.store import PendingItem
from peacewatch.bus.events import Envelope
from peacewatch.models import DeliveryRecord, Development
from peacewatch.settings.alerts import Grouping

ALL_RECEIVERS = "*"  # the claim's receiver for developments that go to nobody
FOLLOW_UP = "follow-up:story="
DIGEST = "digest"


def timing_of(policy: Grouping) -> Timing:
    return Timing.of_seconds(policy.group_wait_s, policy.group_interval_s,
                             policy.repeat_interval_s)


@dataclass(frozen=True, slots=True)
class Claim:
    """Take (receiver, development) in, once: the idempotency key of intake."""

    receiver: str
    development_id: str
    status: str
    part: int
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Group:
    """Put a development in a receiver's group (released at ``release`` for a digest)."""

    key: tuple[str, str, str]
    item: PendingItem
    timing: Timing
    release: datetime | None
    part: int


@dataclass(frozen=True, slots=True)
class Record:
    """A delivery record to publish (silenced, held), under the development's partition."""

    record: DeliveryRecord
    part: int


Intent = Claim | Group | Record


@dataclass(frozen=True, slots=True)
class Loaded:
    """What a batch's decisions depend on, read before deciding."""

    claimed: frozenset[tuple[str, str]]  # (receiver, development id)
    told: frozenset[tuple[str, str]]  # (receiver, story id) with a message already


@dataclass(frozen=True, slots=True)
class Rules:
    """What decisions are made with: routes, silences, each receiver's channel."""

    router: Router
    silences: SilenceMatcher
    channel_of: Callable[[str], str]


def wanted(envelopes: Iterable[Envelope[Development]],
           router: Router) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """The claims and stories to load for a batch."""
    claims: set[tuple[str, str]] = set()
    stories: set[tuple[str, str]] = set()
    for envelope in envelopes:
        dev = envelope.event
        claims.add((ALL_RECEIVERS, dev.development_id))
        for target in router.route(dev):
            claims.add((target.receiver, dev.development_id))
            stories.add((target.receiver, dev.story_id))
    return claims, stories


def decide(envelopes: Sequence[Envelope[Development]], loaded: Loaded, rules: Rules,
           now: datetime) -> list[Intent]:
    """The intents of a batch, in order (a development twice in it is taken once)."""
    claimed = set(loaded.claimed)
    intents: list[Intent] = []
    for envelope in envelopes:
        dev, part = envelope.event, envelope.record.partition
        targets = [] if dev.baseline else rules.router.route(dev)
        if not targets:
            status = "baseline" if dev.baseline else "unrouted"
            if (ALL_RECEIVERS, dev.development_id) not in claimed:
                claimed.add((ALL_RECEIVERS, dev.development_id))
                intents.append(Claim(ALL_RECEIVERS, dev.development_id, status, part))
            continue
        silence = rules.silences.match(dev, now)
        for target in targets:
            if (target.receiver, dev.development_id) in claimed:
                continue  # redelivered by the bus: already grouped, queued or sent
            claimed.add((target.receiver, dev.development_id))
            intents += _take(dev, target, silence, now, part=part, loaded=loaded, rules=rules)
    return intents


def _take(dev: Development, target: Target, silence: ActiveSilence | None, now: datetime, *,
          part: int, loaded: Loaded, rules: Rules) -> list[Intent]:
    receiver = target.receiver
    channel = rules.channel_of(receiver)
    if silence is not None:
        return [Claim(receiver, dev.development_id, "silenced", part, silence.silence_id),
                Record(DeliveryRecord(
                    delivery_id=f"{dev.development_id}-{receiver}-silenced",
                    development_ids=(dev.development_id,), receiver=receiver, channel=channel,
                    status="silenced", attempts=0, at=now,
                    error=f"silenced by {silence.silence_id} ({silence.describe()})"), part)]
    policy = target.policy
    release = release_at(policy, now)
    if release is not None:
        grp = DIGEST
    elif (receiver, dev.story_id) in loaded.told:
        grp = FOLLOW_UP + dev.story_id
    else:
        grp = group_label(policy, dev)
    out: list[Intent] = [
        Claim(receiver, dev.development_id, "taken", part),
        Group((receiver, target.route, grp), PendingItem(dev, target.route, receiver),
              timing_of(policy), release, part)]
    if release is not None:
        out.append(Record(DeliveryRecord(
            delivery_id=f"{dev.development_id}-{receiver}-held",
            development_ids=(dev.development_id,), receiver=receiver, channel=channel,
            status="held", attempts=0, at=now,
            error=f"held for the digest at {release.isoformat(timespec='minutes')}"), part))
    return out
