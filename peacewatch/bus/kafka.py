"""The Apache Kafka bus, through kafka-python 3.x.

Producers are idempotent with ``acks=all``; consumers never auto-commit, so an offset is committed
only after the caller has handled what it polled (at-least-once). kafka-python's errors are turned
into ``BusError`` subclasses here, where they enter peacewatch: ``BusUnavailable`` for those worth
retrying (no broker, no leader, a timeout), ``MessageRefused`` for a message the cluster will never
take. Every client reconnects with a backoff that grows to ``reconnect_backoff_max_s``, so that a
broker that is back is found within about that time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from typing import Any

import kafka.errors as kerr
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.structs import OffsetAndMetadata, TopicPartition

from peacewatch.bus.base import (
    Bus,
    Consumer,
    PartitionLog,
    Producer,
    Record,
    TopicConfig,
    next_offsets,
)
from peacewatch.errors import (
    BrokerUnavailable,
    BusError,
    BusUnavailable,
    CommitFailed,
    MessageRefused,
)
from peacewatch.settings.bus import KafkaSettings

log = logging.getLogger("peacewatch.bus")

# Refusals of the message itself: sending it again cannot succeed.
_REFUSALS = (kerr.MessageSizeTooLargeError, kerr.RecordListTooLargeError,
             kerr.InvalidRecordError, kerr.CorruptRecordError)


def _unavailable(settings: KafkaSettings, exc: BaseException,
                 timeout_s: float | None = None) -> BrokerUnavailable:
    servers = ",".join(settings.bootstrap_servers)
    waited = settings.connect_timeout_s if timeout_s is None else timeout_s
    return BrokerUnavailable(
        f"Kafka broker not reachable at {servers} within {waited:g}s "
        f"({type(exc).__name__}: {exc})"
    )


def _bus_error(what: str, exc: kerr.KafkaError) -> BusError:
    """kafka-python's error as ours: BusUnavailable when retrying later may succeed."""
    kind = BusUnavailable if exc.retriable else BusError
    return kind(f"Kafka: {what}: {exc}")


class KafkaBus(Bus):
    backend = "kafka"

    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings
        self._common: dict[str, Any] = {
            "bootstrap_servers": list(settings.bootstrap_servers),
            "client_id": settings.client_id,
            "request_timeout_ms": int(settings.request_timeout_s * 1000),
            "bootstrap_timeout_ms": int(settings.connect_timeout_s * 1000),
            # kafka-python's default grows to 30 s: a broker back after an outage would stay
            # unused for up to that long.
            "reconnect_backoff_ms": 50,
            "reconnect_backoff_max_ms": int(settings.reconnect_backoff_max_s * 1000),
        }
        self._admin: KafkaAdminClient | None = None

    def _admin_client(self, timeout_s: float | None = None) -> KafkaAdminClient:
        if self._admin is None:
            config = dict(self._common)
            if timeout_s is not None:
                config["bootstrap_timeout_ms"] = int(timeout_s * 1000)
            try:
                self._admin = KafkaAdminClient(**config)
            except kerr.KafkaError as exc:
                raise _unavailable(self.settings, exc, timeout_s) from exc
        return self._admin

    def check(self, timeout_s: float | None = None) -> None:
        try:
            self._admin_client(timeout_s).list_topics()
        except kerr.KafkaError as exc:
            raise _unavailable(self.settings, exc, timeout_s) from exc

    def ensure_topics(self, topics: Sequence[TopicConfig]) -> None:
        admin = self._admin_client()
        try:
            existing = set(admin.list_topics())
            new = [
                NewTopic(t.name, t.partitions, t.replication_factor,
                         topic_configs={"cleanup.policy": "compact"} if t.compact else {})
                for t in topics if t.name not in existing
            ]
            if new:
                admin.create_topics(new, validate_only=False)
        except kerr.TopicAlreadyExistsError:
            pass  # another process created it first: that is the outcome we wanted
        except kerr.KafkaError as exc:
            raise _bus_error("cannot create topics", exc) from exc
        self._wait_for_metadata({t.name for t in topics})

    def _wait_for_metadata(self, names: set[str]) -> None:
        deadline = time.monotonic() + self.settings.connect_timeout_s
        try:
            while not names <= set(self._admin_client().list_topics()):
                if time.monotonic() > deadline:
                    raise BusError(f"Kafka: topics {sorted(names)} not visible after creation")
                time.sleep(0.1)
        except kerr.KafkaError as exc:
            raise _bus_error("cannot list topics", exc) from exc

    def producer(self) -> KafkaBusProducer:
        return KafkaBusProducer(self.settings, self._common)

    def read_partitions(self, topic: str, partitions: Iterable[int], *,
                        latest_per_key: bool = False,
                        commit_key: str | None = None) -> dict[int, list[Record]]:
        """Read with one consumer of no group, assigned the partitions, up to their ends."""
        tps = [TopicPartition(topic, p) for p in partitions]
        out = {tp.partition: PartitionLog(latest_per_key=latest_per_key, commit_key=commit_key)
               for tp in tps}
        if not tps:
            return {}
        timeout_ms = int(self.settings.connect_timeout_s * 1000)
        try:
            reader = KafkaConsumer(**self._common, group_id=None, enable_auto_commit=False,
                                   auto_offset_reset="earliest")
        except kerr.KafkaError as exc:
            raise _unavailable(self.settings, exc) from exc
        try:
            reader.assign(tps)
            reader.seek_to_beginning(*tps)
            ends = reader.end_offsets(tps, timeout_ms=timeout_ms)
            self._read_to_ends(reader, ends, out)
        except kerr.KafkaError as exc:
            raise _bus_error(f"reading {topic} failed", exc) from exc
        finally:
            with suppress(kerr.KafkaError):
                reader.close(autocommit=False)
        return {part: log.records() for part, log in out.items()}

    def _read_to_ends(self, reader: KafkaConsumer, ends: dict[TopicPartition, int],
                      out: dict[int, PartitionLog]) -> None:
        timeout_ms = int(self.settings.connect_timeout_s * 1000)
        deadline = time.monotonic() + self.settings.connect_timeout_s
        left = {tp for tp, end in ends.items() if end > 0}
        while left:
            if time.monotonic() > deadline:
                raise BusUnavailable(f"Kafka: {sorted(tp.partition for tp in left)} not read "
                                     f"to their ends within {self.settings.connect_timeout_s:g}s")
            for tp, messages in reader.poll(timeout_ms=500, max_records=5000).items():
                for m in messages:
                    if m.offset < ends[tp]:
                        key = m.key.decode("utf-8", "replace") if m.key is not None else None
                        out[tp.partition].add(Record(tp.topic, tp.partition, m.offset, key,
                                                     m.value, m.timestamp))
                        deadline = time.monotonic() + self.settings.connect_timeout_s
            left = {tp for tp in left if reader.position(tp, timeout_ms=timeout_ms) < ends[tp]}

    def consumer(self, group: str, topics: Sequence[str]) -> KafkaBusConsumer:
        return KafkaBusConsumer(self.settings, self._common, group, list(topics))

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None


class KafkaBusProducer(Producer):
    """Messages stay queued until the cluster took them: a flush that times out leaves them to
    the next flush, and one that expired in kafka-python is sent again, so a caller never has to
    publish anything twice. Only a message refused for good leaves the queue (MessageRefused)."""

    def __init__(self, settings: KafkaSettings, common: dict[str, Any]) -> None:
        self.settings = settings
        try:
            self._producer = KafkaProducer(
                **common,
                acks="all",
                enable_idempotence=True,
                linger_ms=5,
                compression_type=None,
                max_block_ms=int(settings.connect_timeout_s * 1000),
            )
        except kerr.KafkaError as exc:
            raise _unavailable(settings, exc) from exc
        # (future, topic, key, value) of each message sent and not yet known to be taken.
        self._sent: list[tuple[Any, str, str | None, bytes, int | None]] = []
        # (topic, key, value) of messages kafka-python gave up on: sent again by the next flush.
        self._again: list[tuple[str, str | None, bytes, int | None]] = []

    def publish(self, topic: str, value: bytes, key: str | None = None,
                partition: int | None = None) -> None:
        encoded = key.encode("utf-8") if key is not None else None
        try:
            future = self._producer.send(topic, value=value, key=encoded, partition=partition)
        except _REFUSALS as exc:
            raise MessageRefused(f"Kafka: {topic} refused a message of {len(value)} bytes: {exc}",
                                 [(topic, key, value, str(exc))]) from exc
        except kerr.KafkaError as exc:
            raise _bus_error(f"publish to {topic} failed", exc) from exc
        self._sent.append((future, topic, key, value, partition))

    def flush(self, timeout_s: float = 30.0) -> None:
        while self._again:
            topic, key, value, partition = self._again[0]
            self.publish(topic, value, key, partition)  # raises while the cluster cannot take it
            self._again.pop(0)
        try:
            self._producer.flush(timeout=timeout_s)
        except kerr.KafkaError as exc:
            self._sent = [s for s in self._sent if not s[0].succeeded()]
            raise BusUnavailable(
                f"Kafka: {len(self._sent)} message(s) not acknowledged within {timeout_s:g}s "
                f"(they stay queued): {exc}") from exc
        failed = [s for s in self._sent if s[0].failed()]
        self._sent = []
        refused = [s for s in failed if isinstance(s[0].exception, _REFUSALS)]
        expired = [s for s in failed if not isinstance(s[0].exception, _REFUSALS)]
        self._again += [(topic, key, value, part) for _f, topic, key, value, part in expired]
        if refused:
            raise MessageRefused(
                f"Kafka: {len(refused)} message(s) refused: {refused[0][0].exception}",
                [(topic, key, value, str(f.exception)) for f, topic, key, value, _ in refused])
        if expired:
            error = expired[0][0].exception
            kind = BusUnavailable if getattr(error, "retriable", False) else BusError
            raise kind(f"Kafka: {len(expired)} message(s) not acknowledged ({error}); the next "
                       "flush sends them again")

    def close(self) -> None:
        try:
            self.flush()
        finally:
            # What it still holds is lost with it; its callers publish that again from their
            # own state (outbox rows, items not recorded, delivery records not marked).
            with suppress(kerr.KafkaError):
                self._producer.close(timeout=5)


def _commit_done(offsets: Mapping[TopicPartition, OffsetAndMetadata], result: object) -> None:
    if isinstance(result, BaseException):
        log.debug("an asynchronous commit of %d partition(s) failed: %s", len(offsets), result)


class KafkaBusConsumer(Consumer):
    def __init__(
        self, settings: KafkaSettings, common: dict[str, Any], group: str, topics: list[str]
    ) -> None:
        self._lookup_ms = int(settings.connect_timeout_s * 1000)
        try:
            self._consumer = KafkaConsumer(
                **common,
                group_id=group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                session_timeout_ms=int(settings.session_timeout_s * 1000),
                heartbeat_interval_ms=max(100, int(settings.session_timeout_s * 1000) // 3),
                max_poll_interval_ms=int(settings.max_poll_interval_s * 1000),
                # kafka-python leaves a partition with records still buffered out of the next
                # fetch; new records of it then wait for that fetch to end. 500 ms (the
                # default) gave a p99 of 330-740 ms at 100 items/s, 100 ms 340-440.
                fetch_max_wait_ms=int(settings.fetch_max_wait_s * 1000),
            )
            self._consumer.subscribe(topics)
            # kafka-python 3.0 race: a member that joins its group before its client has the
            # topics' partition metadata is assigned nothing and may never rejoin. Loading the
            # metadata before the first poll (where the join happens) avoids it.
            for topic in topics:
                self._lookup(topic, time.monotonic() + settings.connect_timeout_s)
        except kerr.KafkaError as exc:
            raise _unavailable(settings, exc) from exc

    def _lookup(self, topic: str, deadline: float) -> None:
        """Load a topic's metadata, asking again while the error is retriable: a broker just
        killed stays in the cluster's metadata until it is fenced, and a request sent to it
        fails at once (ECONNREFUSED) while the other brokers would answer."""
        while True:
            try:
                self._consumer.partitions_for_topic(topic)
                return
            except kerr.KafkaError as exc:
                if not exc.retriable or time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)

    def poll(self, timeout_s: float = 1.0, max_records: int = 500) -> list[Record]:
        try:
            batches = self._consumer.poll(
                timeout_ms=int(timeout_s * 1000), max_records=max_records
            )
        except kerr.KafkaError as exc:
            raise _bus_error("poll failed", exc) from exc
        out = []
        for tp, messages in batches.items():
            for m in messages:
                key = m.key.decode("utf-8", "replace") if m.key is not None else None
                out.append(Record(tp.topic, tp.partition, m.offset, key, m.value, m.timestamp))
        return out

    def commit(self, records: Sequence[Record], *, wait: bool = True) -> None:
        offsets = {
            TopicPartition(topic, part): OffsetAndMetadata(off, "", -1)
            for (topic, part), off in next_offsets(records).items()
        }
        if not offsets:
            return
        try:
            if not wait:
                # The answer is read by a later poll; a commit a rebalance refused is
                # superseded by the next one.
                self._consumer.commit_async(offsets, callback=_commit_done)
                return
            self._consumer.commit(offsets)
        except kerr.CommitFailedError as exc:
            raise CommitFailed(f"Kafka: commit refused after a rebalance: {exc}") from exc
        except kerr.KafkaError as exc:
            raise _bus_error("commit failed", exc) from exc

    def seek(self, positions: Mapping[tuple[str, int], int]) -> None:
        owned = self._consumer.assignment()
        try:
            for (topic, part), offset in positions.items():
                tp = TopicPartition(topic, part)
                if tp in owned:
                    self._consumer.seek(tp, offset)
        except kerr.KafkaError as exc:
            raise _bus_error("seek failed", exc) from exc

    def assignment(self) -> set[tuple[str, int]]:
        return {(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    def lag(self) -> dict[tuple[str, int], int]:
        """Per owned partition, end offset minus committed offset; the look-ups wait at most
        connect_timeout_s, so that a stage does not sit on a broker that is gone."""
        parts = list(self._consumer.assignment())
        if not parts:
            return {}
        try:
            ends = self._consumer.end_offsets(parts, timeout_ms=self._lookup_ms)
            out = {}
            for tp in parts:
                committed = self._consumer.committed(tp, timeout_ms=self._lookup_ms) or 0
                out[(tp.topic, tp.partition)] = ends[tp] - committed
        except kerr.KafkaError as exc:
            raise _bus_error("consumer lag unknown", exc) from exc
        return out

    def close(self) -> None:
        with suppress(kerr.KafkaError):  # leaving the group needs a broker; the session ends anyway
            self._consumer.close(autocommit=False)
