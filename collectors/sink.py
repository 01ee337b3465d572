"""Where candidate items go: checked against what was published, then onto the raw topic.

An item already published unchanged is dropped; an edited one goes out once with the next
revision (``RawItem.is_update``); a new one goes out with revision 0. The order is publish,
flush, record - at-least-once across crashes, exactly-once across clean restarts.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from collectors.state import CollectorState, Novelty, PublishedRecord, novelty
from peacewatch.bus.events import EventPublisher
from peacewatch.metrics import Metrics
from peacewatch.models import RAW_ITEMS, RawItem


@dataclass(frozen=True, slots=True)
class SinkReport:
    new: int = 0
    updates: int = 0
    known: int = 0

    @property
    def published(self) -> int:
        return self.new + self.updates

    def __add__(self, other: SinkReport) -> SinkReport:
        return SinkReport(self.new + other.new, self.updates + other.updates,
                          self.known + other.known)


def select_items(
    candidates: Sequence[RawItem], known: Mapping[str, PublishedRecord]
) -> tuple[list[RawItem], SinkReport]:
    """The items to publish (revision set) out of candidates, given the published records.

    Within one batch an id counts once: the first candidate wins (a feed listing one guid twice
    lists one item).
    """
    out: list[RawItem] = []
    seen: set[str] = set()
    new = updates = same = 0
    for item in candidates:
        if item.item_id in seen:
            same += 1
            continue
        seen.add(item.item_id)
        kind, revision = novelty(item, known.get(item.item_id))
        if kind is Novelty.KNOWN:
            same += 1
        elif kind is Novelty.UPDATE:
            updates += 1
            out.append(item.model_copy(update={"revision": revision}))
        else:
            new += 1
            out.append(item)
    return out, SinkReport(new, updates, same)


class ItemSink:
    def __init__(
        self, state: CollectorState, publisher: EventPublisher, metrics: Metrics | None = None
    ) -> None:
        self.state = state
        self.publisher = publisher
        self.metrics = metrics

    def publish(self, candidates: Sequence[RawItem]) -> SinkReport:
        if not candidates:
            return SinkReport()
        known = self.state.published(i.item_id for i in candidates)
        items, report = select_items(candidates, known)
        if not items:
            return report
        for item in items:
            self.publisher.publish(RAW_ITEMS, item)
        self.publisher.flush()
        self.state.record_published(items, time.time())
        if self.metrics is not None:
            for item in items:
                self.metrics.items_ingested.labels(kind=item.source_kind).inc()
        return report
