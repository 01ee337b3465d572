"""The Apache Kafka bus, through kafka-python 3.x.

Producers are idempotent with ``acks=all``; consumers never auto-commit, so an offset is committed
only after the caller has handled what it polled (at-least-once). kafka-python's errors are turned
into ``BusError`` subclasses here, where they enter peacewatch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import kafka.errors as kerr
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.structs import OffsetAndMetadata, TopicPartition

from peacewatch.bus.base import Bus, Consumer, Producer, Record, TopicConfig, next_offsets
from peacewatch.errors import BrokerUnavailable, BusError, CommitFailed
from peacewatch.settings.bus import KafkaSettings


def _unavailable(settings: KafkaSettings, exc: BaseException) -> BrokerUnavailable:
    servers = ",".join(settings.bootstrap_servers)
    return BrokerUnavailable(
        f"Kafka broker not reachable at {servers} within {settings.connect_timeout_s:g}s "
        f"({type(exc).__name__}: {exc})"
    )


class KafkaBus(Bus):
    backend = "kafka"

    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings
        self._common: dict[str, Any] = {
            "bootstrap_servers": list(settings.bootstrap_servers),
            "client_id": settings.client_id,
            "request_timeout_ms": int(settings.request_timeout_s * 1000),
            "bootstrap_timeout_ms": int(settings.connect_timeout_s * 1000),
        }
        self._admin: KafkaAdminClient | None = None

    def _admin_client(self) -> KafkaAdminClient:
        if self._admin is None:
            try:
                self._admin = KafkaAdminClient(**self._common)
            except kerr.KafkaError as exc:
                raise _unavailable(self.settings, exc) from exc
        return self._admin

    def check(self) -> None:
        try:
            self._admin_client().list_topics()
        except kerr.KafkaError as exc:
            raise _unavailable(self.settings, exc) from exc

    def ensure_topics(self, topics: Sequence[TopicConfig]) -> None:
        admin = self._admin_client()
        try:
            existing = set(admin.list_topics())
            new = [
                NewTopic(t.name, t.partitions, t.replication_factor)
                for t in topics if t.name not in existing
            ]
            if new:
                admin.create_topics(new, validate_only=False)
        except kerr.TopicAlreadyExistsError:
            pass  # another process created it first: that is the outcome we wanted
        except kerr.KafkaError as exc:
            raise BusError(f"Kafka: cannot create topics: {exc}") from exc
        self._wait_for_metadata({t.name for t in topics})

    def _wait_for_metadata(self, names: set[str]) -> None:
        deadline = time.monotonic() + self.settings.connect_timeout_s
        while not names <= set(self._admin_client().list_topics()):
            if time.monotonic() > deadline:
                raise BusError(f"Kafka: topics {sorted(names)} not visible after creation")
            time.sleep(0.1)

    def producer(self) -> KafkaBusProducer:
        return KafkaBusProducer(self.settings, self._common)

    def consumer(self, group: str, topics: Sequence[str]) -> KafkaBusConsumer:
        return KafkaBusConsumer(self.settings, self._common, group, list(topics))

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None


class KafkaBusProducer(Producer):
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
        self._futures: list[Any] = []

    def publish(self, topic: str, value: bytes, key: str | None = None) -> None:
        try:
            encoded = key.encode("utf-8") if key is not None else None
            self._futures.append(self._producer.send(topic, value=value, key=encoded))
        except kerr.KafkaError as exc:
            raise BusError(f"Kafka: publish to {topic} failed: {exc}") from exc

    def flush(self, timeout_s: float = 30.0) -> None:
        try:
            self._producer.flush(timeout=timeout_s)
        except kerr.KafkaError as exc:
            raise BusError(f"Kafka: flush failed: {exc}") from exc
        failed = [f.exception for f in self._futures if f.failed()]
        self._futures.clear()
        if failed:
            raise BusError(f"Kafka: {len(failed)} message(s) not acknowledged: {failed[0]}")

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._producer.close(timeout=5)


class KafkaBusConsumer(Consumer):
    def __init__(
        self, settings: KafkaSettings, common: dict[str, Any], group: str, topics: list[str]
    ) -> None:
        try:
            self._consumer = KafkaConsumer(
                **common,
                group_id=group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                session_timeout_ms=int(settings.session_timeout_s * 1000),
                heartbeat_interval_ms=max(100, int(settings.session_timeout_s * 1000) // 3),
                max_poll_interval_ms=int(settings.max_poll_interval_s * 1000),
            )
            self._consumer.subscribe(topics)
            # kafka-python 3.0 race: a member that joins its group before its client has the
            # topics' partition metadata is assigned nothing and may never rejoin. Loading the
            # metadata before the first poll (where the join happens) avoids it.
            for topic in topics:
                self._consumer.partitions_for_topic(topic)
        except kerr.KafkaError as exc:
            raise _unavailable(settings, exc) from exc

    def poll(self, timeout_s: float = 1.0, max_records: int = 500) -> list[Record]:
        try:
            batches = self._consumer.poll(
                timeout_ms=int(timeout_s * 1000), max_records=max_records
            )
        except kerr.KafkaError as exc:
            raise BusError(f"Kafka: poll failed: {exc}") from exc
        out = []
        for tp, messages in batches.items():
            for m in messages:
                key = m.key.decode("utf-8", "replace") if m.key is not None else None
                out.append(Record(tp.topic, tp.partition, m.offset, key, m.value, m.timestamp))
        return out

    def commit(self, records: Sequence[Record]) -> None:
        offsets = {
            TopicPartition(topic, part): OffsetAndMetadata(off, "", -1)
            for (topic, part), off in next_offsets(records).items()
        }
        if not offsets:
            return
        try:
            self._consumer.commit(offsets)
        except kerr.CommitFailedError as exc:
            raise CommitFailed(f"Kafka: commit refused after a rebalance: {exc}") from exc
        except kerr.KafkaError as exc:
            raise BusError(f"Kafka: commit failed: {exc}") from exc

    def assignment(self) -> set[tuple[str, int]]:
        return {(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    def lag(self) -> dict[tuple[str, int], int]:
        parts = list(self._consumer.assignment())
        if not parts:
            return {}
        ends = self._consumer.end_offsets(parts)
        out = {}
        for tp in parts:
            committed = self._consumer.committed(tp) or 0
            out[(tp.topic, tp.partition)] = ends[tp] - committed
        return out

    def close(self) -> None:
        self._consumer.close(autocommit=False)
