"""Sample messages for the desk's tests: a small, realistic record of two issues."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from desk.store.record import Batch
from peacewatch.models import (
    ClassifiedItem,
    DeliveryRecord,
    Development,
    IssueMatch,
    RawItem,
    Severity,
    SourceClass,
    SourceRef,
)

T0 = datetime(2022, 3, 1, 9, 0, tzinfo=UTC)


def raw(n: int, title: str, *, source: str = "BBC News - Europe",
        source_class: SourceClass | None = "broadcaster", language: str = "en",
        days: float = 0.0) -> RawItem:
    at = T0 + timedelta(days=days)
    return RawItem(item_id=f"item-{n}", source=source, source_class=source_class,
                   url=f"https://news.example/{n}", title=title,
                   summary=f"{title}. Summary of item {n}.", language=language,
                   published_at=at, fetched_at=at, content_hash=f"hash-{n}")


def classified(item: RawItem, issue: str, evidence: str, score: float = 0.9) -> ClassifiedItem:
    return ClassifiedItem(item=item, canonical_title=item.title, language=item.language,
                          issues=(IssueMatch(issue_id=issue, score=score, evidence=(evidence,)),),
                          classified_at=item.fetched_at)


def development(n: int, issue: str, items: list[RawItem], *, severity: Severity,
                action: str, parties: tuple[str, ...] = (), story: str | None = None,
                baseline: bool = False) -> Development:
    last = items[-1]
    return Development(
        development_id=f"dev-{n}", issue_id=issue, story_id=story or f"story-{n}",
        kind="new_story" if story is None else "change", headline=last.title,
        severity=severity, action=action, first_seen=last.published_at or last.fetched_at,
        detected_at=last.fetched_at,
        sources=tuple(SourceRef(source=i.source, url=i.url, title=i.title,
                                source_class=i.source_class) for i in items),
        evidence=(f"Evidence sentence of {last.title}.",), item_ids=tuple(i.item_id for i in items),
        baseline=baseline, parties=parties)


def sample_batch() -> Batch:
    """Two issues, five items (one Ukrainian, one from an official source), four developments,
    one alerted to Slack."""
    a = raw(1, "Turkey proposes grain corridor talks in Istanbul")
    b = raw(2, "Kremlin says Russia agreed to grain corridor", source="Kremlin - President's news",
            source_class="official", days=1)
    c = raw(3, "TASS: Black Sea grain deal signed", source="TASS - English",
            source_class="state_media", days=2)
    d = raw(4, "Україна відхилила умови перемир'я", source="Ukrinform - Latest",
            source_class="state_media", language="uk", days=3)
    e = raw(5, "Prisoner exchange discussed in Ankara", source="The Guardian - World",
            source_class="newspaper", days=4)
    batch = Batch(raw=[a, b, c, d, e])
    batch.classified = [classified(a, "black-sea", "Turkey proposed talks on a grain corridor."),
                        classified(b, "black-sea", "Russia agreed to the corridor."),
                        classified(c, "black-sea", "The grain deal was signed."),
                        classified(d, "ceasefire", "Україна відхилила умови перемир'я."),
                        classified(e, "prisoners", "An exchange of prisoners was discussed.")]
    batch.developments = [
        development(1, "black-sea", [a], severity=Severity.PROPOSED, action="proposed",
                    parties=("turkey",)),
        development(2, "black-sea", [a, b], severity=Severity.AGREED, action="agreed",
                    parties=("russia",), story="story-1"),
        development(3, "black-sea", [a, b, c], severity=Severity.SIGNED, action="signed",
                    parties=("russia", "ukraine"), story="story-1"),
        development(4, "ceasefire", [d], severity=Severity.REJECTED, action="rejected",
                    parties=("ukraine",)),
    ]
    batch.deliveries = [DeliveryRecord(
        delivery_id="del-1", development_ids=("dev-3",), receiver="ops", channel="slack",
        status="sent", at=c.fetched_at + timedelta(minutes=1))]
    return batch
