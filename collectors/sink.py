"""Where candidate items go: checked against what was published, then onto the raw topic.

An item already published unchanged is dropped; an edited one goes out once with the next
revision (``RawItem.is_update``); a new one goes out with revision 0. An item whose JSON is
larger than ``collectors.max_item_bytes`` has its text cut to fit and is marked ``truncated``.
The order is publish, flush, record - at-least-once across crashes, exactly-once across clean
restarts.

A publish the bus could not take (it is down, its disk is full) leaves the items pending:
``retry`` flushes them and records them once the bus takes them, without publishing them twice,
and the stage polls nothing new meanwhile. An item the bus refuses for good is dead-lettered
and recorded, so that it never blocks the others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from collectors.state import CollectorState, Novelty, PublishedRecord, novelty
from peacewatch.bus.events import EventPublisher
from peacewatch.errors import MessageRefused
from peacewatch.metrics import Metrics
from peacewatch.models import DEAD_LETTERS, RAW_ITEMS, DeadLetter, RawItem

log = logging.getLogger("peacewatch.collectors.sink")
# Room kept under the limit for what cutting cannot measure exactly (the ``truncated`` field).
_CUT_MARGIN_BYTES = 256


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


def fit_to_bus(item: RawItem, max_bytes: int) -> RawItem:
    """The item whole when its JSON fits in ``max_bytes``; else with its text cut (the content
    first, then the summary, then the title) and marked ``truncated``."""
    size = len(item.model_dump_json().encode("utf-8"))
    for field in ("content", "summary", "title"):
        if size <= max_bytes:
            break
        text: str = getattr(item, field)
        # A character removed shrinks the JSON by at least its UTF-8 length.
        keep = max(0, len(text.encode("utf-8")) - (size - max_bytes) - _CUT_MARGIN_BYTES)
        cut = text.encode("utf-8")[:keep].decode("utf-8", "ignore")
        item = item.model_copy(update={field: cut, "truncated": True})
        size = len(item.model_dump_json().encode("utf-8"))
    return item


class ItemSink:
    def __init__(
        self, state: CollectorState, publisher: EventPublisher, metrics: Metrics | None = None,
        *, max_item_bytes: int = 512 * 1024, group: str = "collectors",
    ) -> None:
        self.state = state
        self.publisher = publisher
        self.metrics = metrics
        self.max_item_bytes = max_item_bytes
        self.group = group
        # Items selected for publishing and not yet recorded; the first ``_queued`` of them
        # are with the producer (queued, or refused and in ``_refused``).
        self._pending: list[RawItem] = []
        self._queued = 0
        self._refused: dict[str, str] = {}  # item id -> why the bus refused it

    def publish(self, candidates: Sequence[RawItem]) -> SinkReport:
        self.retry()
        if not candidates:
            return SinkReport()
        known = self.state.published(i.item_id for i in candidates)
        items, report = select_items(candidates, known)
        if not items:
            return report
        self._pending = [fit_to_bus(item, self.max_item_bytes) for item in items]
        self._queued = 0
        self._deliver()
        return report

    def retry(self) -> None:
        """Deliver what a failed publish left; raises BusError while the bus cannot take it."""
        if self._pending:
            self._deliver()

    def _deliver(self) -> None:
        while self._queued < len(self._pending):
            item = self._pending[self._queued]
            try:
                self.publisher.publish(RAW_ITEMS, item)
            except MessageRefused as exc:
                self._refused[item.item_id] = str(exc)
            self._queued += 1
        try:
            self.publisher.flush()
        except MessageRefused as exc:
            self._refused |= {key: reason for _t, key, _v, reason in exc.messages
                              if key is not None}
            self.publisher.flush()
        self._set_aside()
        self.state.record_published(self._pending, time.time())
        if self.metrics is not None:
            for item in self._pending:
                if item.item_id not in self._refused:
                    self.metrics.items_ingested.labels(kind=item.source_kind).inc()
        self._pending, self._queued, self._refused = [], 0, {}

    def _set_aside(self) -> None:
        """Dead-letter the items the bus refused; they are recorded like the others, so that
        an unchanged item is not offered again and again."""
        if not self._refused:
            return
        topic = self.publisher.events.topic(RAW_ITEMS)
        for item in self._pending:
            reason = self._refused.get(item.item_id)
            if reason is None:
                continue
            value = item.model_dump_json().encode("utf-8")
            log.error("item %s (%d bytes) refused by the bus; dead-lettered: %s",
                      item.item_id, len(value), reason)
            self.publisher.publish(DEAD_LETTERS, DeadLetter.of(
                topic=topic, partition=-1, offset=-1, key=item.item_id, value=value,
                error=f"refused by the bus: {reason}", group=self.group))
            if self.metrics is not None:
                self.metrics.dead_letters.labels(topic=topic).inc()
        self.publisher.flush()
