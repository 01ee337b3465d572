"""Where items meet the bus: an item too large for it is cut to the limit and marked as cut;
a publish the bus cannot take waits, and goes out once when it can; an item recorded as
published is in the ledger's outbox or on the bus, through a crash too; an item the bus
refuses is dead-lettered without holding up the others."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from collectors_testkit import make_context, read_raw, run_once

from collectors.sink import DOCUMENTS_PART, ItemSink
from collectors.stage import CollectorStage
from collectors.state import CollectorState, collector_ledger
from peacewatch.bus import open_bus
from peacewatch.bus.base import Producer
from peacewatch.bus.events import EventBus, EventPublisher
from peacewatch.errors import BusUnavailable, MessageRefused
from peacewatch.metrics import Metrics
from peacewatch.models import DEAD_LETTERS, RAW_ITEMS, DeadLetter, RawItem, utcnow
from peacewatch.settings import Settings, load_settings

FIVE_MB = 5 * 1024 * 1024


@pytest.mark.kafka
def test_a_document_too_large_for_the_bus_is_cut_to_the_limit_and_marked(
    kafka_bootstrap: str, tmp_path: Path, unique: str
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    body = "Delegations met in Istanbul and agreed to meet again next week. " * (FIVE_MB // 64)
    text = f"Talks in Istanbul: the transcript\n{body}"
    (docs / "transcript.txt").write_text(text, "utf-8")
    settings = load_settings(
        None, data_dir=tmp_path / "data", metrics={"enabled": False},
        bus={"topic_prefix": f"sink-{unique}", "partitions": 1,
             "kafka": {"bootstrap_servers": [kafka_bootstrap], "connect_timeout_s": 10}},
        collectors={"documents": [docs], "baseline_documents": [], "feed_lists": [],
                    "max_document_bytes": 2 * FIVE_MB})
    events = open_bus(settings)
    try:
        assert run_once(CollectorStage(make_context(settings, events))) == 1
        [item] = read_raw(events)
    finally:
        events.close()
    assert item.truncated
    assert item.title == "Talks in Istanbul: the transcript"
    assert len(item.model_dump_json().encode()) <= settings.collectors.max_item_bytes
    assert len(item.content) > 400_000 and text.startswith(item.content)


def item(i: int) -> RawItem:
    return RawItem(item_id=f"item-{i}", source="wire", title=f"Talks, day {i}",
                   fetched_at=utcnow(), content_hash=f"h{i}")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(None, data_dir=tmp_path / "data", metrics={"enabled": False},
                         bus={"partitions": 1})


@pytest.fixture
def events(settings: Settings) -> Iterator[EventBus]:
    bus = open_bus(settings)
    yield bus
    bus.close()


def sink_on(path: Path, events: EventBus, publisher: EventPublisher,
            parts: Iterable[int] = (DOCUMENTS_PART,)) -> ItemSink:
    state = CollectorState(path, events.partitions)
    return ItemSink(state, collector_ledger(state, events, Metrics(), "collectors"), publisher,
                    parts=lambda: parts)


def test_a_publish_the_bus_cannot_take_is_delivered_once_when_it_can(
    tmp_path: Path, events: EventBus
) -> None:
    """The embedded bus's disk is full (SQLite's page limit stands for it): the items wait in
    the ledger's outbox, recorded, and once there is room they are published once each."""
    publisher = events.publisher()
    sink = sink_on(tmp_path / "collectors.sqlite3", events, publisher)
    state = sink.state
    bus_file = publisher.producer._db  # type: ignore[attr-defined]
    pages = bus_file.execute("PRAGMA page_count").fetchone()[0]
    bus_file.execute(f"PRAGMA max_page_count = {pages}")
    try:
        with pytest.raises(BusUnavailable, match="full"):
            sink.publish([item(i) for i in range(200)])
        assert state.published_count() == 200
        assert len(sink.ledger.outbox()) == 200
        with pytest.raises(BusUnavailable):
            sink.retry()  # still full
        bus_file.execute("PRAGMA max_page_count = 1000000")  # space freed
        sink.retry()
        assert sink.ledger.outbox() == []
        assert sink.publish([item(i) for i in range(200)]).known == 200
        published = [i.item_id for i in read_raw(events)]
    finally:
        publisher.close()
        state.close()
    assert sorted(published) == sorted(f"item-{i}" for i in range(200))


class FailingFlush(Producer):
    """A producer that queues and never delivers: its flush fails, as a bus going down."""

    def __init__(self) -> None:
        self.queued: list[bytes] = []

    def publish(self, topic: str, value: bytes, key: str | None = None,
                partition: int | None = None) -> None:
        self.queued.append(value)

    def flush(self, timeout_s: float = 30.0) -> None:
        raise BusUnavailable("the bus went down")

    def close(self) -> None:
        pass


def test_an_item_recorded_before_a_crash_is_published_once_after_it(
    tmp_path: Path, events: EventBus
) -> None:
    """The bus fails the flush and the process dies before it comes back: the items are
    recorded, so the feed will not offer them again as new, and still reach the bus - once -
    from the outbox after the restart."""
    path = tmp_path / "collectors.sqlite3"
    dying = FailingFlush()
    sink = sink_on(path, events, EventPublisher(events, dying))
    with pytest.raises(BusUnavailable):
        sink.publish([item(i) for i in range(3)])
    assert len(dying.queued) == 3
    sink.state.close()  # the crash: what the producer held is gone with it

    publisher = events.publisher()
    sink = sink_on(path, events, publisher)
    try:
        assert sink.publish([item(i) for i in range(3)]).known == 3
        sink.retry()
        assert sink.ledger.outbox() == []
    finally:
        publisher.close()
        sink.state.close()
    assert sorted(i.item_id for i in read_raw(events)) == ["item-0", "item-1", "item-2"]


def test_items_wait_under_their_feeds_partition_and_nothing_new_is_taken_meanwhile(
    tmp_path: Path, events: EventBus
) -> None:
    """Feed items wait under their feed's partition of the feeds topic, documents under none;
    while the outbox cannot go out, new items are neither recorded nor queued."""
    path = tmp_path / "collectors.sqlite3"
    sink = sink_on(path, events, EventPublisher(events, FailingFlush()),
                   parts=(DOCUMENTS_PART, 0))
    try:
        with pytest.raises(BusUnavailable):
            sink.publish([item(1), item(2), item(1)], [0, 0, 0])
        with pytest.raises(BusUnavailable):
            sink.publish([item(3)])
        assert [(r.part, r.topic, r.key) for r in sink.ledger.outbox()] == [
            (0, RAW_ITEMS.base, "item-1"), (0, RAW_ITEMS.base, "item-2")]
        assert sink.state.published_count() == 2
    finally:
        sink.state.close()
    sink = sink_on(path, events, EventPublisher(events, FailingFlush()))
    try:
        with pytest.raises(BusUnavailable):
            sink.publish([item(3)])
        assert [(r.part, r.key) for r in sink.ledger.outbox()][-1] == (DOCUMENTS_PART, "item-3")
    finally:
        sink.state.close()


class RefusingOne(Producer):
    """The real producer, except that the bus refuses one key's message at the flush."""

    def __init__(self, inner: Producer, key: str) -> None:
        self.inner, self.key = inner, key
        self.refused: list[tuple[str, str | None, bytes, str]] = []

    def publish(self, topic: str, value: bytes, key: str | None = None,
                partition: int | None = None) -> None:
        if key == self.key:
            self.refused.append((topic, key, value, "message too large"))
            return
        self.inner.publish(topic, value, key, partition)

    def flush(self, timeout_s: float = 30.0) -> None:
        refused, self.refused = self.refused, []
        if refused:
            raise MessageRefused("refused", refused)
        self.inner.flush(timeout_s)

    def close(self) -> None:
        self.inner.close()


def test_an_item_the_bus_refuses_is_dead_lettered_and_the_others_go_out(
    tmp_path: Path, events: EventBus
) -> None:
    publisher = EventPublisher(events, RefusingOne(events.bus.producer(), "item-1"))
    sink = sink_on(tmp_path / "collectors.sqlite3", events, publisher)
    try:
        assert sink.publish([item(i) for i in range(3)]).new == 3
        assert sink.ledger.outbox() == []
        assert sink.publish([item(i) for i in range(3)]).known == 3  # recorded, refused too
    finally:
        publisher.close()
        sink.state.close()
    assert sorted(i.item_id for i in read_raw(events)) == ["item-0", "item-2"]
    consumer = events.consumer("dlq-reader", [DEAD_LETTERS])
    try:
        letters: list[DeadLetter] = [e.event for e in consumer.poll(0.5, 100)]
    finally:
        consumer.close()
    assert [(d.key, d.origin_topic) for d in letters] == [("item-1", events.topic(RAW_ITEMS))]
