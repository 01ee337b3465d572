"""Typed events over the raw bus: models in, models out, bad bytes to the dead-letter topic.

``EventConsumer.poll`` validates each message against its topic's model. A message that fails is
published to the dead-letter topic with the error and its origin (topic, partition, offset) and
is committed together with the next commit, so the consumer goes on and nothing is lost.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic

from pydantic import ValidationError

from peacewatch.bus.base import Bus, Consumer, Producer, Record, TopicConfig
from peacewatch.metrics import Metrics
from peacewatch.models import ALL_TOPICS, DEAD_LETTERS, DeadLetter, E, Event, TopicSpec, utcnow


@dataclass(frozen=True, slots=True)
class Envelope(Generic[E]):
    """A valid event and the record it came from."""

    event: E
    record: Record


class EventBus:
    """The bus as the stages see it: named topics with a prefix, typed publish and consume."""

    def __init__(
        self, bus: Bus, *, prefix: str, partitions: int, replication_factor: int,
        metrics: Metrics | None = None,
    ) -> None:
        self.bus = bus
        self.prefix = prefix
        self.partitions = partitions
        self.replication_factor = replication_factor
        self.metrics = metrics

    def topic(self, spec: TopicSpec[Any]) -> str:
        return spec.name(self.prefix)

    def ensure_topics(self) -> None:
        self.bus.ensure_topics([
            TopicConfig(self.topic(spec), self.partitions, self.replication_factor)
            for spec in ALL_TOPICS
        ])

    def publisher(self) -> EventPublisher:
        return EventPublisher(self, self.bus.producer())

    def consumer(self, group: str, specs: Sequence[TopicSpec[Any]]) -> EventConsumer:
        return EventConsumer(self, self.bus.consumer(group, [self.topic(s) for s in specs]),
                             group, specs)

    def close(self) -> None:
        self.bus.close()


class EventPublisher:
    def __init__(self, events: EventBus, producer: Producer) -> None:
        self.events = events
        self.producer = producer

    def publish(self, spec: TopicSpec[E], event: E) -> None:
        self.producer.publish(
            self.events.topic(spec), event.model_dump_json().encode("utf-8"), spec.key(event)
        )

    def flush(self, timeout_s: float = 30.0) -> None:
        self.producer.flush(timeout_s)

    def close(self) -> None:
        self.producer.close()


class EventConsumer:
    def __init__(
        self, events: EventBus, consumer: Consumer, group: str, specs: Sequence[TopicSpec[Any]]
    ) -> None:
        self.events = events
        self.consumer = consumer
        self.group = group
        self._models: dict[str, type[Event]] = {events.topic(s): s.model for s in specs}
        self._dead: list[Record] = []
        self._dlq: EventPublisher | None = None
        self._polled: list[Record] = []

    def poll(self, timeout_s: float = 1.0, max_records: int = 500) -> list[Envelope[Any]]:
        records = self.consumer.poll(timeout_s, max_records)
        self._polled = records
        out: list[Envelope[Any]] = []
        for record in records:
            try:
                event = self._models[record.topic].model_validate_json(record.value)
            except ValidationError as exc:
                self._dead_letter(record, exc)
                continue
            out.append(Envelope(event, record))
        return out

    def _dead_letter(self, record: Record, exc: ValidationError) -> None:
        if self._dlq is None:
            self._dlq = self.events.publisher()
        try:
            payload, encoding = record.value.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            payload, encoding = base64.b64encode(record.value).decode("ascii"), "base64"
        error = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(message)'}: {e['msg']}"
            for e in exc.errors()[:10]
        )
        letter = DeadLetter(
            origin_topic=record.topic, origin_partition=record.partition,
            origin_offset=record.offset, key=record.key, payload=payload,
            payload_encoding=encoding,
            error=error, consumer_group=self.group, failed_at=utcnow(),
        )
        self._dlq.publish(DEAD_LETTERS, letter)
        self._dlq.flush()
        self._dead.append(record)
        if self.events.metrics is not None:
            self.events.metrics.dead_letters.labels(topic=record.topic).inc()

    def commit(self, envelopes: Sequence[Envelope[Any]] | None = None) -> None:
        """Commit handled envelopes (default: everything from the last poll).

        Dead-lettered records ride along only up to the handled ones, so that committing them
        never skips a valid message that has not been handled yet.
        """
        if envelopes is None:
            records = list(self._polled)
        else:
            records = [e.record for e in envelopes]
            handled_upto = {(r.topic, r.partition): r.offset for r in records}
            records += [r for r in self._dead
                        if r.offset <= handled_upto.get((r.topic, r.partition), -1)]
        self.consumer.commit(records)
        committed = {(r.topic, r.partition, r.offset) for r in records}
        self._dead = [r for r in self._dead if (r.topic, r.partition, r.offset) not in committed]

    def close(self) -> None:
        if self._dlq is not None:
            self._dlq.close()
        self.consumer.close()
