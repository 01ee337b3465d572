"""Typed events over the raw bus: models in, models out, bad bytes to the dead-letter topic.

``EventConsumer.poll`` validates each message against its topic's model. A message that fails is
published to the dead-letter topic (an excerpt, its size and digest, the error and its origin:
topic, partition, offset) and is committed together with the next commit, so the consumer goes
on and nothing is lost. A step that fails after a poll calls ``rewind`` (or polls inside
``rewinding()``), so that the next poll reads again what it had not committed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic

from pydantic import ValidationError

from peacewatch.bus.base import Bus, Consumer, Producer, Record, TopicConfig, next_offsets
from peacewatch.metrics import Metrics
from peacewatch.models import (
    ALL_TOPICS,
    DEAD_LETTERS,
    STATEFUL_STAGES,
    DeadLetter,
    E,
    Event,
    TopicSpec,
    changelog,
)


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
            *(TopicConfig(self.topic(spec), self.partitions, self.replication_factor)
              for spec in ALL_TOPICS),
            *(TopicConfig(self.topic(changelog(stage)), self.partitions,
                          self.replication_factor, compact=True)
              for stage in STATEFUL_STAGES),
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
        # Per partition, the first offset polled and not committed since (where ``rewind``
        # goes back to), and the offset after the last one polled.
        self._unhandled: dict[tuple[str, int], int] = {}
        self._polled_to: dict[tuple[str, int], int] = {}

    def poll(self, timeout_s: float = 1.0, max_records: int = 500) -> list[Envelope[Any]]:
        """The valid events of the next batch; invalid messages are dead-lettered. If a dead
        letter cannot be published, the whole batch is left to be read again (BusError)."""
        records = self.consumer.poll(timeout_s, max_records)
        self._polled = records
        for r in records:
            self._unhandled.setdefault((r.topic, r.partition), r.offset)
            self._polled_to[(r.topic, r.partition)] = r.offset + 1
        out: list[Envelope[Any]] = []
        for record in records:
            try:
                event = self._models[record.topic].model_validate_json(record.value)
            except ValidationError as exc:
                try:
                    self._dead_letter(record, exc)
                except BaseException:
                    self.rewind()
                    raise
                continue
            out.append(Envelope(event, record))
        return out

    def _dead_letter(self, record: Record, exc: ValidationError) -> None:
        if any(r.offset == record.offset and r.partition == record.partition
               and r.topic == record.topic for r in self._dead):
            return  # read again after a rewind: set aside already
        if self._dlq is None:
            self._dlq = self.events.publisher()
        error = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(message)'}: {e['msg']}"
            for e in exc.errors()[:10]
        )
        self._dlq.publish(DEAD_LETTERS, DeadLetter.of(
            topic=record.topic, partition=record.partition, offset=record.offset,
            key=record.key, value=record.value, error=error, group=self.group))
        self._dlq.flush()
        self._dead.append(record)
        if self.events.metrics is not None:
            self.events.metrics.dead_letters.labels(topic=record.topic).inc()

    def commit(self, envelopes: Sequence[Envelope[Any]] | None = None, *,
               wait: bool = True) -> None:
        """Commit handled envelopes (default: everything from the last poll); ``wait``: as
        ``Consumer.commit``.

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
        self.consumer.commit(records, wait=wait)
        committed = next_offsets(records)
        self._dead = [r for r in self._dead
                      if r.offset >= committed.get((r.topic, r.partition), 0)]
        for tp, offset in committed.items():
            if offset >= self._polled_to.get(tp, 0):
                self._unhandled.pop(tp, None)
            elif tp in self._unhandled:
                self._unhandled[tp] = max(self._unhandled[tp], offset)

    def rewind(self) -> None:
        """Go back to the first record polled and not committed on each partition: the next
        poll reads them again, instead of reading past records that were never handled."""
        if self._unhandled:
            self.consumer.seek(self._unhandled)
        self._unhandled, self._polled_to, self._polled = {}, {}, []

    @contextmanager
    def rewinding(self) -> Iterator[None]:
        """Rewind if the block fails: a failed step leaves its records to be handled again."""
        try:
            yield
        except BaseException:
            self.rewind()
            raise

    def close(self) -> None:
        if self._dlq is not None:
            self._dlq.close()
        self.consumer.close()
