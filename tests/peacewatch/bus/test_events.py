"""The typed layer: events round-trip, and invalid messages are dead-lettered, not lost."""

from __future__ import annotations

import json

from prometheus_client import CollectorRegistry

from peacewatch.bus.base import Bus
from peacewatch.bus.events import EventBus
from peacewatch.metrics import Metrics
from peacewatch.models import DEAD_LETTERS, RAW_ITEMS, DeadLetter, RawItem, utcnow


def raw_item(i: int) -> RawItem:
    return RawItem(item_id=f"item-{i}", source="test", title=f"Title {i}",
                   fetched_at=utcnow(), content_hash=f"h{i}")


def test_invalid_messages_go_to_the_dead_letter_topic_and_the_consumer_goes_on(
    raw_bus: Bus, unique: str
) -> None:
    metrics = Metrics(CollectorRegistry())
    events = EventBus(raw_bus, prefix=unique, partitions=1, replication_factor=1,
                      metrics=metrics)
    events.ensure_topics()
    raw_topic = events.topic(RAW_ITEMS)
    publisher = events.publisher()
    publisher.publish(RAW_ITEMS, raw_item(1))
    publisher.producer.publish(raw_topic, b'{"schema_version": 1, "title": 5}', "bad-1")
    publisher.producer.publish(raw_topic, b"\xff\xfe not json", "bad-2")
    publisher.publish(RAW_ITEMS, raw_item(2))
    publisher.flush()

    consumer = events.consumer(f"g-{unique}", [RAW_ITEMS])
    got: list[RawItem] = []
    for _ in range(40):
        got += [e.event for e in consumer.poll(0.5)]
        consumer.commit()
        if len(got) == 2:
            break
    consumer.close()
    assert [i.item_id for i in got] == ["item-1", "item-2"]

    dlq = events.consumer(f"dlq-{unique}", [DEAD_LETTERS])
    letters: list[DeadLetter] = []
    for _ in range(40):
        letters += [e.event for e in dlq.poll(0.5)]
        if len(letters) == 2:
            break
    dlq.close()
    assert [(d.origin_topic, d.origin_offset, d.key) for d in letters] == [
        (raw_topic, 1, "bad-1"), (raw_topic, 2, "bad-2")]
    assert "item_id: Field required" in letters[0].error
    assert json.loads(letters[0].payload)["title"] == 5
    assert letters[1].payload_encoding == "base64"
    assert metrics.registry.get_sample_value(
        "peacewatch_dead_letters_total", {"topic": raw_topic}) == 2
    publisher.close()


def test_a_dead_letter_is_not_committed_past_an_unhandled_message(
    raw_bus: Bus, unique: str
) -> None:
    events = EventBus(raw_bus, prefix=unique, partitions=1, replication_factor=1)
    events.ensure_topics()
    with raw_bus.producer() as producer:
        producer.publish(events.topic(RAW_ITEMS), raw_item(1).model_dump_json().encode(), "a")
        producer.publish(events.topic(RAW_ITEMS), b"{}", "bad")
        producer.flush()
    group = f"g-{unique}"
    first = events.consumer(group, [RAW_ITEMS])
    envelopes = []
    for _ in range(40):
        envelopes += first.poll(0.5)
        if envelopes:
            break
    first.commit([])  # crashed before handling item-1: nothing may be committed
    first.close()
    second = events.consumer(group, [RAW_ITEMS])
    again = []
    for _ in range(40):
        again += second.poll(0.5)
        if again:
            break
    second.commit()
    second.close()
    assert [e.event.item_id for e in again] == ["item-1"]
