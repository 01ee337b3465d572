"""One contract, two backends: every test here runs on the embedded bus and on real Kafka."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

import pytest

from peacewatch.bus.base import Bus, Consumer, Record, TopicConfig


def publish(bus: Bus, topic: str, messages: list[tuple[str, bytes]]) -> None:
    with bus.producer() as producer:
        for key, value in messages:
            producer.publish(topic, value, key)
        producer.flush()


def drain(consumer: Consumer, expected: int, *, commit: bool = True, limit_s: float = 60) -> list[
        Record]:
    """Poll until ``expected`` records arrived (or the time limit); commit each batch."""
    got: list[Record] = []
    deadline = time.monotonic() + limit_s
    while len(got) < expected and time.monotonic() < deadline:
        batch = consumer.poll(0.5)
        got.extend(batch)
        if commit:
            consumer.commit(batch)
    return got


def test_messages_with_one_key_arrive_in_publish_order(raw_bus: Bus, unique: str) -> None:
    topic = f"order-{unique}"
    raw_bus.ensure_topics([TopicConfig(topic, 3)])
    messages = [(f"key-{i % 7}", f"{i % 7}:{i}".encode()) for i in range(210)]
    publish(raw_bus, topic, messages)

    with raw_bus.consumer(f"g-{unique}", [topic]) as consumer:
        got = drain(consumer, len(messages))

    assert len(got) == len(messages)
    per_key: dict[str | None, list[int]] = defaultdict(list)
    partitions: dict[str | None, set[int]] = defaultdict(set)
    for r in got:
        per_key[r.key].append(int(r.value.decode().split(":")[1]))
        partitions[r.key].add(r.partition)
    for key, seq in per_key.items():
        assert seq == sorted(seq), f"{key} out of order"
        assert len(partitions[key]) == 1
    assert len({p for ps in partitions.values() for p in ps}) > 1, "keys should spread"


@pytest.mark.parametrize("wait", [True, False], ids=["commit", "commit-not-waited-for"])
def test_uncommitted_messages_are_redelivered_to_the_group(raw_bus: Bus, unique: str,
                                                           wait: bool) -> None:
    topic, group = f"redeliver-{unique}", f"g-{unique}"
    raw_bus.ensure_topics([TopicConfig(topic, 1)])
    publish(raw_bus, topic, [("k", f"m{i}".encode()) for i in range(10)])

    with raw_bus.consumer(group, [topic]) as first:
        got = drain(first, 10, commit=False)
        assert len(got) == 10
        first.commit(got[:4], wait=wait)  # handled four, then "crashed" without the rest
        deadline = time.monotonic() + 30
        while first.lag() != {(topic, 0): 6} and time.monotonic() < deadline:
            first.poll(0.1)  # Kafka reads the answer to a commit not waited for in a poll
        assert first.lag() == {(topic, 0): 6}

    with raw_bus.consumer(group, [topic]) as second:
        again = drain(second, 6)
    assert [r.value for r in again] == [f"m{i}".encode() for i in range(4, 10)]


def test_two_members_of_a_group_share_the_work_exactly_once(raw_bus: Bus, unique: str) -> None:
    topic, group = f"share-{unique}", f"g-{unique}"
    raw_bus.ensure_topics([TopicConfig(topic, 4)])
    total = 400
    seen: dict[str, list[bytes]] = {"a": [], "b": []}
    stop = threading.Event()
    joined = threading.Barrier(2)

    def member(name: str) -> None:
        with raw_bus.consumer(group, [topic]) as consumer:
            joined.wait()
            # Both members are in the group before anything is published (stable membership).
            while not stop.is_set():
                batch = consumer.poll(0.3)
                seen[name].extend(r.value for r in batch)
                consumer.commit(batch)

    threads = [threading.Thread(target=member, args=(n,)) for n in seen]
    for t in threads:
        t.start()
    time.sleep(8)  # let the group settle: Kafka rebalances, embedded leases
    publish(raw_bus, topic, [(f"k{i}", f"m{i}".encode()) for i in range(total)])
    deadline = time.monotonic() + 60
    while len(seen["a"]) + len(seen["b"]) < total and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)
    stop.set()
    for t in threads:
        t.join()

    everything = seen["a"] + seen["b"]
    assert sorted(everything) == sorted(f"m{i}".encode() for i in range(total))
    assert seen["a"] and seen["b"], "both members should have owned partitions"


def test_independent_groups_each_see_every_message(raw_bus: Bus, unique: str) -> None:
    topic = f"groups-{unique}"
    raw_bus.ensure_topics([TopicConfig(topic, 2)])
    publish(raw_bus, topic, [(f"k{i}", f"m{i}".encode()) for i in range(50)])

    for group in ("one", "two"):
        with raw_bus.consumer(f"{group}-{unique}", [topic]) as consumer:
            got = drain(consumer, 50)
        assert sorted(r.value for r in got) == sorted(f"m{i}".encode() for i in range(50))


def test_committed_messages_are_not_delivered_again(raw_bus: Bus, unique: str) -> None:
    topic, group = f"committed-{unique}", f"g-{unique}"
    raw_bus.ensure_topics([TopicConfig(topic, 2)])
    publish(raw_bus, topic, [(f"k{i}", b"x") for i in range(20)])
    with raw_bus.consumer(group, [topic]) as consumer:
        assert len(drain(consumer, 20)) == 20
    publish(raw_bus, topic, [("late", b"y")])
    with raw_bus.consumer(group, [topic]) as consumer:
        got = drain(consumer, 1)
        time.sleep(0.5)
        got += consumer.poll(1.0)
    assert [r.value for r in got] == [b"y"]


def test_seek_reads_again_what_was_polled_and_not_committed(raw_bus: Bus, unique: str) -> None:
    topic, group = f"seek-{unique}", f"g-{unique}"
    raw_bus.ensure_topics([TopicConfig(topic, 1)])
    publish(raw_bus, topic, [("k", f"m{i}".encode()) for i in range(6)])

    with raw_bus.consumer(group, [topic]) as consumer:
        got = drain(consumer, 6, commit=False)
        consumer.commit(got[:2])
        # The step that handled the rest failed: it must be read again, not skipped.
        consumer.seek({(topic, 0): 2})
        again = drain(consumer, 4)
    assert [r.value for r in again] == [f"m{i}".encode() for i in range(2, 6)]


def test_a_log_read_as_compacted_keeps_the_last_message_of_each_key(
        raw_bus: Bus, unique: str) -> None:
    topic = f"compacted-{unique}"
    raw_bus.ensure_topics([TopicConfig(topic, 1)])
    with raw_bus.producer() as producer:
        for i in range(30):
            producer.publish(topic, str(i).encode(), f"k{i % 3}", partition=0)
        producer.publish(topic, b"keyless-a", None, partition=0)
        producer.publish(topic, b"keyless-b", None, partition=0)
        producer.publish(topic, b"last", "k0", partition=0)
        producer.flush()

    full = raw_bus.read_partitions(topic, [0])[0]
    latest = raw_bus.read_partitions(topic, [0], latest_per_key=True)[0]

    assert len(full) == 33
    assert [(r.key, r.value) for r in latest] == [
        ("k1", b"28"), ("k2", b"29"), (None, b"keyless-a"), (None, b"keyless-b"), ("k0", b"last")]
    assert [r.offset for r in latest] == [28, 29, 30, 31, 32]


def test_messages_after_the_last_commit_marker_are_listed_apart(raw_bus: Bus, unique: str) -> None:
    topic = f"committed-{unique}"
    raw_bus.ensure_topics([TopicConfig(topic, 1)])
    with raw_bus.producer() as producer:
        for key, value in [("a", b"1"), ("b", b"1"), ("end", b""), ("a", b"2"), ("end", b""),
                           ("a", b"3"), ("c", b"1")]:  # a write cut short after "c"
            producer.publish(topic, value, key, partition=0)
        producer.flush()

    read = raw_bus.read_partitions(topic, [0], latest_per_key=True, commit_key="end")[0]

    assert [(r.key, r.value, r.offset) for r in read] == [
        ("b", b"1", 1), ("a", b"2", 3), ("end", b"", 4), ("a", b"3", 5), ("c", b"1", 6)]
