"""The record stage: the topics analysts read, projected into the record.

Its own consumer group reads raw items (their text, for search), classified items (issues,
scores, evidence), developments and deliveries. A batch is written in one transaction, then the
bus is committed: a crash in between redelivers the batch, and every write is idempotent.

``rebuild`` empties the projection and reads the topics again from the start, in a group of
its own, up to their ends at the time it started.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from desk.store.open import open_record
from desk.store.record import Batch, RecordStore
from peacewatch.bus.events import Envelope, EventBus, EventConsumer
from peacewatch.errors import PeacewatchError
from peacewatch.metrics import Metrics
from peacewatch.models import (
    CLASSIFIED_ITEMS,
    DELIVERIES,
    DEVELOPMENTS,
    RAW_ITEMS,
    ClassifiedItem,
    DeliveryRecord,
    Development,
    RawItem,
    TopicSpec,
)
from peacewatch.settings import Settings
from peacewatch.stage import Stage, StageContext

RECORDED: tuple[TopicSpec[Any], ...] = (RAW_ITEMS, CLASSIFIED_ITEMS, DEVELOPMENTS, DELIVERIES)
_PRUNE_EVERY_S = 3600.0
log = logging.getLogger("peacewatch.record")


def batch_of(envelopes: list[Envelope[Any]]) -> Batch:
    batch = Batch()
    for env in envelopes:
        event = env.event
        if isinstance(event, ClassifiedItem):
            batch.classified.append(event)
        elif isinstance(event, RawItem):
            batch.raw.append(event)
        elif isinstance(event, Development):
            batch.developments.append(event)
        elif isinstance(event, DeliveryRecord):
            batch.deliveries.append(event)
    return batch


def count(metrics: Metrics, events: EventBus, batch: Batch) -> None:
    for spec, n in ((RAW_ITEMS, len(batch.raw)), (CLASSIFIED_ITEMS, len(batch.classified)),
                    (DEVELOPMENTS, len(batch.developments)),
                    (DELIVERIES, len(batch.deliveries))):
        if n:
            metrics.record_messages.labels(topic=events.topic(spec)).inc(n)


class RecordStage(Stage):
    name = "record"

    def __init__(self, ctx: StageContext) -> None:
        super().__init__(ctx)
        self.store: RecordStore | None = None
        self.consumer: EventConsumer | None = None
        self._last_prune: float | None = None
        self._latest_item_at: float | None = None

    def start(self) -> None:
        self.store = open_record(self.ctx.settings)
        if self.store.applied:
            self.log.info("record %s: migrations %s applied", self.store.db.describe(),
                          self.store.applied)
        self.consumer = self.ctx.events.consumer(self.ctx.settings.desk.record.consumer_group,
                                                 list(RECORDED))

    def stop(self) -> None:
        if self.consumer is not None:
            try:
                self.consumer.close()
            except PeacewatchError as exc:
                self.log.warning("closing: %s", exc)
            self.consumer = None
        if self.store is not None:
            self.store.close()
            self.store = None

    def lag(self) -> dict[tuple[str, int], int]:
        return self.consumer.consumer.lag() if self.consumer is not None else {}

    def step(self, timeout_s: float) -> int:
        if self.consumer is None:
            self.start()
        assert self.consumer is not None and self.store is not None
        envelopes = self.consumer.poll(timeout_s, self.ctx.settings.desk.record.batch_size)
        batch = batch_of(envelopes)
        if len(batch):
            self.store.write(batch)
            count(self.ctx.metrics, self.ctx.events, batch)
            self._note_time(batch)
        self.consumer.commit()
        self._prune()
        return len(envelopes)

    def _note_time(self, batch: Batch) -> None:
        for item in [*batch.raw, *(c.item for c in batch.classified)]:
            at = (item.published_at or item.fetched_at).timestamp()
            self._latest_item_at = max(self._latest_item_at or at, at)

    def _prune(self) -> None:
        """Retention by item time, capped by the wall clock (a replay of old news is not
        forgotten as it is read)."""
        days = self.ctx.settings.desk.record.retention_days
        now = time.monotonic()
        if days is None or self._latest_item_at is None or (
                self._last_prune is not None and now - self._last_prune < _PRUNE_EVERY_S):
            return
        assert self.store is not None
        self._last_prune = now
        horizon = min(time.time(), self._latest_item_at) - days * 86400
        forgotten = self.store.prune(horizon)
        if forgotten:
            self.log.info("record: %d item(s) past retention forgotten", forgotten)

    def reload(self, settings: Settings) -> None:
        self.ctx.settings = settings


def rebuild(settings: Settings, events: EventBus, metrics: Metrics, *,
            timeout_s: float = 600.0) -> int:
    """Empty the projection and read every recorded topic again from the start; return the
    messages written."""
    store = open_record(settings)
    reader = events.consumer(f"{settings.desk.record.consumer_group}-rebuild-"
                             f"{uuid.uuid4().hex[:12]}", list(RECORDED))
    written = 0
    try:
        store.reset_projection()
        ends: dict[tuple[str, int], int] | None = None
        positions: dict[tuple[str, int], int] = {}
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            envelopes = reader.poll(0.5, settings.desk.record.batch_size)
            for env in envelopes:
                positions[(env.record.topic, env.record.partition)] = env.record.offset + 1
            batch = batch_of(envelopes)
            if len(batch):
                store.write(batch)
                count(metrics, events, batch)
                written += len(batch)
            if ends is None and reader.consumer.assignment():
                ends = reader.consumer.lag()  # a new group has committed nothing: the ends
            if ends is not None and all(positions.get(tp, 0) >= end for tp, end in ends.items()):
                return written
        raise PeacewatchError(f"record rebuild: the topics were not read to their ends within "
                              f"{timeout_s:.0f} s ({written} messages written)")
    finally:
        reader.close()
        store.close()
