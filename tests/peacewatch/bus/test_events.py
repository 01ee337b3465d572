"""The typed layer: events round-trip, and invalid messages are dead-lettered, not lost."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable

import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType
from prometheus_client import CollectorRegistry

from peacewatch.bus.base import Bus
from peacewatch.bus.embedded import EmbeddedBus
from peacewatch.bus.events import EventBus
from peacewatch.errors import BusError
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


def drop_dead_letter_topic(raw_bus: Bus, events: EventBus) -> Callable[[], None]:
    """Remove the dead-letter topic, so that dead-lettering fails; return what puts it back."""
    topic = events.topic(DEAD_LETTERS)
    if isinstance(raw_bus, EmbeddedBus):
        raw_bus._conn.execute("DELETE FROM topics WHERE name = ?", (topic,))
        return events.ensure_topics
    admin = KafkaAdminClient(bootstrap_servers=raw_bus.settings.bootstrap_servers)
    admin.delete_topics([topic])
    deadline = time.monotonic() + 30
    while topic in admin.list_topics():
        assert time.monotonic() < deadline, "the dead-letter topic was not deleted"
        time.sleep(0.2)
    admin.close()
    return events.ensure_topics


def test_a_failed_dead_letter_leaves_the_whole_batch_to_be_read_again(
    raw_bus: Bus, unique: str
) -> None:
    """A dead letter that cannot be published must not cost the rest of the polled batch."""
    events = EventBus(raw_bus, prefix=unique, partitions=1, replication_factor=1)
    events.ensure_topics()
    restore = drop_dead_letter_topic(raw_bus, events)
    with raw_bus.producer() as producer:
        for value, key in [(raw_item(1).model_dump_json().encode(), "a"), (b"{}", "bad"),
                           (raw_item(2).model_dump_json().encode(), "b"),
                           (raw_item(3).model_dump_json().encode(), "c")]:
            producer.publish(events.topic(RAW_ITEMS), value, key)
        producer.flush()

    consumer = events.consumer(f"g-{unique}", [RAW_ITEMS])
    try:
        deadline = time.monotonic() + 60
        with pytest.raises(BusError):
            while time.monotonic() < deadline:
                consumer.poll(0.5)
        restore()
        got: list[str] = []
        while len(got) < 3 and time.monotonic() < deadline:
            got += [e.event.item_id for e in consumer.poll(0.5)]
            consumer.commit()
    finally:
        consumer.close()
    assert got == ["item-1", "item-2", "item-3"]
    assert [(d.origin_offset, d.key) for d in read_dead_letters(events, unique, 1)] == [
        (1, "bad")]


FIVE_MB = 5 * 1024 * 1024


def publish_large(raw_bus: Bus, topic: str, value: bytes, key: str) -> None:
    """Publish a message above Kafka's default 1 MB limit, on a topic whose limit is raised, as
    a producer other than peacewatch may."""
    if isinstance(raw_bus, EmbeddedBus):
        with raw_bus.producer() as producer:
            producer.publish(topic, value, key)
            producer.flush()
        return
    servers = raw_bus.settings.bootstrap_servers
    admin = KafkaAdminClient(bootstrap_servers=servers)
    admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                        configs={"max.message.bytes": str(2 * FIVE_MB)})])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=servers, max_request_size=2 * FIVE_MB)
    producer.send(topic, key=key.encode(), value=value).get(timeout=60)
    producer.close()


def read_dead_letters(events: EventBus, unique: str, n: int) -> list[DeadLetter]:
    dlq = events.consumer(f"dlq-{unique}", [DEAD_LETTERS])
    letters: list[DeadLetter] = []
    deadline = time.monotonic() + 30
    while len(letters) < n and time.monotonic() < deadline:
        letters += [e.event for e in dlq.poll(0.5)]
    dlq.close()
    return letters


def test_five_mb_of_junk_is_dead_lettered_with_an_excerpt_and_a_reference(
    raw_bus: Bus, unique: str
) -> None:
    metrics = Metrics(CollectorRegistry())
    events = EventBus(raw_bus, prefix=unique, partitions=1, replication_factor=1,
                      metrics=metrics)
    events.ensure_topics()
    raw_topic = events.topic(RAW_ITEMS)
    junk = bytes(range(256)) * (FIVE_MB // 256)
    publish_large(raw_bus, raw_topic, junk, "junk")
    with raw_bus.producer() as producer:
        producer.publish(raw_topic, raw_item(1).model_dump_json().encode(), "a")
        producer.flush()

    consumer = events.consumer(f"g-{unique}", [RAW_ITEMS])
    got: list[str] = []
    deadline = time.monotonic() + 60
    try:
        while not got and time.monotonic() < deadline:
            got += [e.event.item_id for e in consumer.poll(0.5)]
            consumer.commit()
    finally:
        consumer.close()
    assert got == ["item-1"]
    [letter] = read_dead_letters(events, unique, 1)
    assert (letter.origin_topic, letter.origin_partition, letter.origin_offset) == (
        raw_topic, 0, 0)
    assert letter.payload_bytes == len(junk)
    assert letter.payload_sha256 == hashlib.sha256(junk).hexdigest()
    assert letter.payload_encoding == "base64"
    assert base64.b64decode(letter.payload) == junk[:len(base64.b64decode(letter.payload))]
    assert len(letter.model_dump_json()) < 16 * 1024
    assert metrics.registry.get_sample_value(
        "peacewatch_dead_letters_total", {"topic": raw_topic}) == 1
