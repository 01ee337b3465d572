"""The bus interface: publish; consume as a member of a named group; commit after handling.

Both backends (``EmbeddedBus`` on SQLite, ``KafkaBus`` on Apache Kafka) implement it with the same
semantics, checked by one contract test suite:

- a topic has a fixed number of partitions; a message's key picks its partition (Kafka's murmur2
  partitioner on both backends), so messages with one key are consumed in the order published;
- a consumer group shares a topic's partitions among its live members; every group reads every
  message (a new group starts at the earliest offset);
- delivery is at-least-once: a message is redelivered to the group until an offset past it has
  been committed, so a consumer commits only after it has handled what it polled; a member
  whose handling failed seeks back, so that its next poll reads those messages again.

Errors are ``BusError``: ``BusUnavailable`` when the bus does not answer or take writes now
(retry later), ``MessageRefused`` for messages the bus will never take.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from kafka.partitioner.default import murmur2


@dataclass(frozen=True, slots=True)
class Record:
    """One message as a consumer receives it."""

    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class TopicConfig:
    """What ``ensure_topics`` creates when a topic does not exist yet."""

    name: str
    partitions: int
    replication_factor: int = 1
    # A changelog: the bus keeps at least the latest message of each key (Kafka's log
    # compaction), so that reading it from the start restores a state of bounded size.
    compact: bool = False


def partition_for(key: str, partitions: int) -> int:
    """Kafka's default partitioner, so a key lands on the same partition on either backend."""
    hashed: int = murmur2(key.encode("utf-8"))
    return (hashed & 0x7FFFFFFF) % partitions


def next_offsets(records: Iterable[Record]) -> dict[tuple[str, int], int]:
    """The offsets to commit for handled records: one past the highest, per partition."""
    out: dict[tuple[str, int], int] = {}
    for r in records:
        tp = (r.topic, r.partition)
        out[tp] = max(out.get(tp, 0), r.offset + 1)
    return out


class PartitionLog:
    """What is read of one partition, in offset order. Read as compacted (``latest_per_key``),
    a later message of a key takes the place of the earlier ones as it arrives, as Kafka's
    cleaner would leave the topic: what a reader holds is bounded by the keys, not by how
    long the log has grown since its last compaction. Keyless messages are all kept.

    With a ``commit_key`` (a writer that ends each write of several messages with a message of
    that key), the messages after the last such marker are a write cut short: they are held
    apart and take no message's place. ``records()`` lists the committed messages, then those
    after the last marker (all of them when there is no marker)."""

    def __init__(self, *, latest_per_key: bool = False, commit_key: str | None = None) -> None:
        self._latest_per_key = latest_per_key
        self._commit_key = commit_key
        self._records: dict[object, Record] = {}
        self._uncommitted: dict[object, Record] = {}

    def add(self, record: Record) -> None:
        slot: object = (record.key if self._latest_per_key and record.key is not None
                        else (None, record.offset))
        if self._commit_key is None:
            _put_last(self._records, slot, record)
            return
        _put_last(self._uncommitted, slot, record)
        if record.key == self._commit_key:
            for held, r in self._uncommitted.items():
                _put_last(self._records, held, r)
            self._uncommitted.clear()

    def records(self) -> list[Record]:
        return [*self._records.values(), *self._uncommitted.values()]


def _put_last(records: dict[object, Record], slot: object, record: Record) -> None:
    records.pop(slot, None)  # re-inserted last: the dict stays in offset order
    records[slot] = record


class _Closing:
    def close(self) -> None:  # pragma: no cover - overridden
        """Release resources; idempotent."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Producer(_Closing, ABC):
    @abstractmethod
    def publish(self, topic: str, value: bytes, key: str | None = None,
                partition: int | None = None) -> None:
        """Queue one message (on ``partition`` when given, else the key's); it is durable once
        ``flush`` returns."""

    @abstractmethod
    def flush(self, timeout_s: float = 30.0) -> None:
        """Wait until every queued message is durable.

        Raise MessageRefused naming the messages the bus refused for good (they leave the
        queue); raise BusUnavailable when some are not durable yet: they stay queued, and a
        later flush tries again (never publish them twice).
        """


class Consumer(_Closing, ABC):
    @abstractmethod
    def poll(self, timeout_s: float = 1.0, max_records: int = 500) -> list[Record]:
        """Messages from this member's partitions, in offset order per partition."""

    @abstractmethod
    def commit(self, records: Sequence[Record], *, wait: bool = True) -> None:
        """Mark these records (and everything before them on their partitions) handled.

        ``wait=False`` may return before the bus has the offsets (a failure is then only
        logged): for a stage whose own ledger holds its handled offsets, so that a lost
        commit means records read again and skipped, never records skipped unread."""

    @abstractmethod
    def seek(self, positions: Mapping[tuple[str, int], int]) -> None:
        """Read these owned partitions again from these offsets at the next poll (partitions
        no longer owned are left to their new owner, which starts at the committed offset)."""

    @abstractmethod
    def assignment(self) -> set[tuple[str, int]]:
        """The (topic, partition) pairs this member currently owns."""

    @abstractmethod
    def lag(self) -> dict[tuple[str, int], int]:
        """Messages not yet committed by this group, per owned partition."""


class Bus(_Closing, ABC):
    """A factory of producers and consumers over one backend."""

    backend: str

    @abstractmethod
    def ensure_topics(self, topics: Sequence[TopicConfig]) -> None:
        """Create missing topics; existing ones are left as they are."""

    @abstractmethod
    def producer(self) -> Producer: ...

    @abstractmethod
    def consumer(self, group: str, topics: Sequence[str]) -> Consumer: ...

    @abstractmethod
    def read_partitions(self, topic: str, partitions: Iterable[int], *,
                        latest_per_key: bool = False,
                        commit_key: str | None = None) -> dict[int, list[Record]]:
        """Every message of these partitions, from their start to their end when called,
        outside any consumer group; with ``latest_per_key``, only the last message of each
        key (a changelog read back as compacted), and with ``commit_key`` the messages after
        the last marker last (see ``PartitionLog``)."""

    @abstractmethod
    def check(self, timeout_s: float | None = None) -> None:
        """Raise BusError (BrokerUnavailable for Kafka) unless the backend answers (within
        ``timeout_s`` when given, else within the backend's connect timeout)."""
