"""Where candidate items go: checked against what was published, then onto the raw topic.

An item already published unchanged is dropped; an edited one goes out once with the next
revision (``RawItem.is_update``); a new one goes out with revision 0. An item whose JSON is
larger than ``collectors.max_item_bytes`` has its text cut to fit and is marked ``truncated``.

The sink is exactly-once through the collectors' ledger (``peacewatch.ledger``): in ONE local
transaction it records the items as published and queues them in the ledger's outbox, each
under its feed's partition of the feeds topic (``DOCUMENTS_PART`` for documents); then
``Ledger.publish`` sends the outbox, flushes and forgets it. An item recorded as published is
in the outbox or on the bus, so a crash anywhere loses none: what the outbox still holds goes
out after a restart (an item the crash caught after its flush and before it was forgotten goes
out again, and the processors deduplicate by id).

A publish the bus could not take (it is down, its disk is full) leaves the items in the outbox:
``retry`` publishes them once the bus takes them, without publishing them twice, and the stage
polls nothing new meanwhile. An item the bus refuses for good is dead-lettered by the ledger
and stays recorded, so that it never blocks the others and is not offered again and again.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from collectors.state import CollectorState, Novelty, PublishedRecord, novelty
from peacewatch.bus.events import EventPublisher
from peacewatch.ledger import Ledger
from peacewatch.metrics import Metrics
from peacewatch.models import RAW_ITEMS, RawItem

# The ledger partition of items of no feed (documents): no partition of the feeds topic, so
# no restore ever drops them, and the collector that ingested them publishes them.
DOCUMENTS_PART = -1
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
    """Records items as published and publishes them, through the collectors' ledger.

    ``parts`` says which partitions' outbox rows (and feed health changes) this collector
    publishes now: ``DOCUMENTS_PART`` and the partitions of the feeds topic it owns. Rows of a
    partition that moved away stay for ``Ledger.restore`` to settle if it comes back (the new
    owner polls its feeds with the health of the changelog, and publishes what it finds new).
    """

    def __init__(
        self, state: CollectorState, ledger: Ledger, publisher: EventPublisher,
        metrics: Metrics | None = None, *, max_item_bytes: int = 512 * 1024,
        parts: Callable[[], Iterable[int]] = lambda: (DOCUMENTS_PART,),
    ) -> None:
        self.state = state
        self.ledger = ledger
        self.publisher = publisher
        self.metrics = metrics
        self.max_item_bytes = max_item_bytes
        self.parts = parts
        # Whether the outbox may hold items to publish: at first, what a crash left there.
        self._unsent = True
        # Items queued since the last publish that went through, by kind (for the metrics).
        self._uncounted: Counter[str] = Counter()

    def publish(self, candidates: Sequence[RawItem],
                parts: Sequence[int] | None = None) -> SinkReport:
        """Record and publish the new and edited ones among ``candidates``.

        ``parts`` are the candidates' partitions (their feeds' partitions of the feeds topic),
        one a candidate; none: all are documents (``DOCUMENTS_PART``).
        """
        self.retry()
        if not candidates:
            return SinkReport()
        known = self.state.published(i.item_id for i in candidates)
        items, report = select_items(candidates, known)
        if not items:
            return report
        part_of: dict[str, int] = {}
        for candidate, part in zip(candidates, parts or [DOCUMENTS_PART] * len(candidates),
                                   strict=True):
            part_of.setdefault(candidate.item_id, part)
        fitted = [fit_to_bus(item, self.max_item_bytes) for item in items]
        with self.ledger.transaction() as db:
            self.state.record_published(db, fitted, time.time())
            for item in fitted:
                self.ledger.add_outbox(part_of[item.item_id], RAW_ITEMS, item)
        self._unsent = True
        self._uncounted.update(item.source_kind for item in fitted)
        self._deliver()
        return report

    def retry(self) -> None:
        """Publish what the outbox holds; raises BusError while the bus cannot take it."""
        if self._unsent:
            self._deliver()

    def _deliver(self) -> None:
        self.ledger.publish(self.publisher, self.parts())
        self._unsent = False
        if self.metrics is not None:
            for kind, count in self._uncounted.items():
                self.metrics.items_ingested.labels(kind=kind).inc(count)
        self._uncounted.clear()
