"""The runner both processor steps share: one input topic, one group, state and an outbox.

Each step: poll a batch; in ONE state transaction record the decisions, the handled offsets
and the output events (an outbox); then publish the outbox, flush, and commit the consumer.
A record below the handled offset is a redelivery and is skipped, so a restart anywhere
neither loses an item nor emits a development twice; what a crash left in the outbox is
published at the next start.

A step that fails (a full disk, a bus that is down) rewinds its consumer, so that the next step
reads the same records again instead of committing past them. Outbox rows are published each
on its own: a row the bus refuses for good (too large) is dead-lettered with the reason and the
others go on; rows already handed to the producer by a failed step are not handed over twice.

Each step is a stage of its own, so the daemon gives it its own thread: a consumer that is
polled all the time gets its records within milliseconds, where two consumers polled in turn
on one thread each wait for the other's poll (measured: tens to hundreds of milliseconds).
"""

from __future__ import annotations

import json
import time
import uuid
from abc import abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar

from peacewatch.bus.events import Envelope, EventConsumer, EventPublisher
from peacewatch.clock import stage_clock
from peacewatch.errors import MessageRefused, PeacewatchError
from peacewatch.models import (
    CLASSIFIED_ITEMS,
    DEAD_LETTERS,
    DEVELOPMENTS,
    DeadLetter,
    Event,
    TopicSpec,
)
from peacewatch.settings import Settings
from peacewatch.stage import Stage, StageContext
from processors.state import OutboxRow, ProcessorState

_TOPICS: dict[str, TopicSpec[Any]] = {
    spec.base: spec for spec in (CLASSIFIED_ITEMS, DEVELOPMENTS, DEAD_LETTERS)
}
_RECOVERY_TIMEOUT_S = 60.0
_PRUNE_EVERY_S = 3600.0
D = TypeVar("D")


class OutboxStage(Stage, Generic[D]):
    """A processor step over ``input``; subclasses implement ``group``, ``decide`` (what the
    step builds from settings and seeds, replaced as a whole on reload) and ``handle``."""

    input: ClassVar[TopicSpec[Any]]

    def __init__(self, ctx: StageContext) -> None:
        super().__init__(ctx)
        self.decisions: D = self.decide(ctx.settings)
        self.state: ProcessorState | None = None
        self.consumer: EventConsumer | None = None
        self.publisher: EventPublisher | None = None
        # Story windows and timestamps run on this (item time in a replay: peacewatch.clock).
        self.clock = stage_clock(ctx.settings.daemon.clock)
        # Partitions owned after the last poll: new ones are checked for left-overs.
        self._owned: set[int] = set()
        self._last_prune: float | None = None
        # Outbox rows handed to the producer and not yet known to be published, by id.
        self._in_flight: dict[int, OutboxRow] = {}

    @property
    @abstractmethod
    def group(self) -> str:
        """The consumer group of this step."""

    @abstractmethod
    def decide(self, settings: Settings) -> D:
        """Build this step's decisions; raise ConfigError when the files are invalid."""

    @abstractmethod
    def handle(self, env: Envelope[Any]) -> None:
        """Decide about one record, inside the batch's state transaction (``queue`` output)."""

    def partitions_changed(self) -> None:
        """Hook: partitions were taken or handed over; drop what was cached about them."""

    def prune(self) -> bool:
        """Hook: forget what is past its retention; False when there is nothing to go by yet.
        Called at the first batch, then hourly."""
        return True

    def reloaded(self) -> None:
        """Hook: new decisions are in place (called on the step's own thread)."""

    # -- lifecycle ---------------------------------------------------------------------------

    def prepare_reload(self, settings: Settings) -> Callable[[], None]:
        """New watchlist and baseline without a restart; a bad file keeps the old ones."""
        decisions = self.decide(settings)  # ConfigError: the daemon keeps the old ones

        def apply() -> None:
            self.decisions = decisions
            Stage.reload(self, settings)
            self.reloaded()

        return apply

    def reload(self, settings: Settings) -> None:
        self.prepare_reload(settings)()

    def start(self) -> None:
        settings = self.ctx.settings
        self.state = ProcessorState(settings.path(settings.processors.state_path))
        self.publisher = self.ctx.events.publisher()
        self.consumer = self.ctx.events.consumer(self.group, [self.input])

    def stop(self) -> None:
        for closing in (self.consumer, self.publisher):
            if closing is not None:
                try:
                    closing.close()
                except PeacewatchError as exc:
                    self.log.warning("closing: %s", exc)
        self.consumer = self.publisher = None
        if self.state is not None:
            self.state.close()
            self.state = None

    def lag(self) -> dict[tuple[str, int], int]:
        """Uncommitted messages of the owned partitions (reported by the daemon)."""
        return self.consumer.consumer.lag() if self.consumer is not None else {}

    def step(self, timeout_s: float) -> int:
        if self.consumer is None:
            self.start()
        assert self.state is not None and self.consumer is not None
        batch = self.consumer.poll(timeout_s, self.ctx.settings.processors.batch_size)
        with self.consumer.rewinding():
            self._recover()
            handled = self._handle_batch(batch)
            self._publish(self.state.outbox(self.group, self._assigned()))
            self.consumer.commit()
        now = time.monotonic()
        if (self._last_prune is None or now - self._last_prune >= _PRUNE_EVERY_S) and self.prune():
            self._last_prune = now
        return handled

    def _handle_batch(self, batch: list[Envelope[Any]]) -> int:
        """Decisions, output and handled offsets of a batch, in one state transaction."""
        assert self.state is not None
        handled = 0
        with self.state.transaction():
            next_offsets: dict[tuple[str, int], int] = {}
            for env in batch:
                r = env.record
                tp = (r.topic, r.partition)
                if tp not in next_offsets:
                    next_offsets[tp] = self.state.next_offset(self.group, *tp)
                if r.offset < next_offsets[tp]:
                    continue  # handled before a restart or a rebalance: a redelivery
                try:
                    self.handle(env)
                except PeacewatchError:
                    raise
                except Exception as exc:  # one bad item never stops a batch
                    self._dead_letter(env, exc)
                next_offsets[tp] = r.offset + 1
                handled += 1
            for (topic, part), offset in next_offsets.items():
                self.state.advance(self.group, topic, part, offset - 1)
        return handled

    # -- output ------------------------------------------------------------------------------

    def queue(self, part: int, spec: TopicSpec[Any], event: Event) -> None:
        """Put an output event in the outbox (inside the batch's transaction)."""
        assert self.state is not None
        self.state.add_outbox(self.group, part, spec.base, spec.key(event),
                              event.model_dump_json())

    def _dead_letter(self, env: Envelope[Any], exc: Exception) -> None:
        r = env.record
        self.log.error("%s[%d]@%d: %s: %s", r.topic, r.partition, r.offset,
                       type(exc).__name__, exc)
        letter = DeadLetter.of(
            topic=r.topic, partition=r.partition, offset=r.offset, key=r.key, value=r.value,
            error=f"processing failed: {type(exc).__name__}: {exc}", group=self.group)
        self.queue(r.partition, DEAD_LETTERS, letter)
        self.ctx.metrics.dead_letters.labels(topic=r.topic).inc()

    def _assigned(self) -> set[int]:
        assert self.consumer is not None
        return {part for _, part in self.consumer.consumer.assignment()}

    def _publish(self, rows: list[OutboxRow]) -> None:
        """Publish outbox rows and forget them; a row the bus refuses is set aside."""
        assert self.state is not None and self.publisher is not None
        if not rows:
            return
        producer, events = self.publisher.producer, self.ctx.events
        refused: dict[int, tuple[OutboxRow, str]] = {}
        for row in rows:
            if row.id in self._in_flight:
                continue  # handed over by a step that failed: the producer still holds it
            try:
                producer.publish(events.topic(_TOPICS[row.topic]), row.payload.encode("utf-8"),
                                 row.key)
            except MessageRefused as exc:
                refused[row.id] = (row, str(exc))
                continue
            self._in_flight[row.id] = row
        try:
            self.publisher.flush()
        except MessageRefused as exc:
            refused |= self._refused_rows(exc)
            self.publisher.flush()  # what was not refused: it may still be on its way
        self._set_aside(list(refused.values()))
        self.state.sent([*self._in_flight, *refused])
        self._in_flight.clear()

    def _refused_rows(self, exc: MessageRefused) -> dict[int, tuple[OutboxRow, str]]:
        """The in-flight rows among the messages the bus refused, out of flight."""
        topics = self.ctx.events.topic
        by_message = {(topics(_TOPICS[r.topic]), r.key, r.payload.encode("utf-8")): r
                      for r in self._in_flight.values()}
        out = {}
        for topic, key, value, reason in exc.messages:
            row = by_message.get((topic, key, value))
            if row is not None:
                out[row.id] = (row, reason)
                del self._in_flight[row.id]
        return out

    def _set_aside(self, refused: list[tuple[OutboxRow, str]]) -> None:
        """Dead-letter outputs the bus refused for good (an excerpt, size and digest)."""
        assert self.publisher is not None
        if not refused:
            return
        for row, reason in refused:
            topic = self.ctx.events.topic(_TOPICS[row.topic])
            value = row.payload.encode("utf-8")
            self.log.error("output to %s (%d bytes, from partition %d) refused by the bus; "
                           "dead-lettered: %s", topic, len(value), row.part, reason)
            self.publisher.publish(DEAD_LETTERS, DeadLetter.of(
                topic=topic, partition=-1, offset=-1, key=row.key, value=value,
                error=f"refused by the bus: {reason}", group=self.group))
            self.ctx.metrics.dead_letters.labels(topic=topic).inc()
        self.publisher.flush()

    # -- recovery ----------------------------------------------------------------------------

    def _recover(self) -> None:
        """Publish the left-overs of partitions this consumer has just taken over.

        Right after a poll (which is where partitions change hands), rows already in the
        outbox for a newly owned partition were left by an owner that stopped between its
        state commit and its publish -- or between its publish and forgetting the rows (this
        process before a restart, or another one sharing the state file). Developments among
        them are checked against the developments topic first, so none is published twice.
        """
        assert self.state is not None
        owned = self._assigned()
        previous, self._owned = self._owned, owned
        if owned != previous:
            self.partitions_changed()
        taken_over = owned - previous
        if not taken_over:
            return
        rows = self.state.outbox(self.group, taken_over)
        if rows:
            self.log.info("recovery: %d left-over output event(s) of partitions %s",
                          len(rows), sorted(taken_over))
            self._publish(self._not_yet_published(rows))

    def _not_yet_published(self, rows: list[OutboxRow]) -> list[OutboxRow]:
        """Drop left-over development rows whose development is already on the topic."""
        assert self.state is not None
        wanted = {json.loads(r.payload)["development_id"]: r for r in rows
                  if r.topic == DEVELOPMENTS.base}
        if not wanted:
            return rows
        found = self._published_development_ids(set(wanted))
        if found:
            self.log.info("recovery: %d development(s) already published, not sent again",
                          len(found))
            self.state.sent(wanted[i].id for i in found)
        return [r for r in rows if r.topic != DEVELOPMENTS.base
                or json.loads(r.payload)["development_id"] not in found]

    def _published_development_ids(self, ids: set[str]) -> set[str]:
        """Which of ``ids`` the developments topic holds (read once, from the start)."""
        reader = self.ctx.events.consumer(f"{self.group}-recovery-{uuid.uuid4().hex[:12]}",
                                          [DEVELOPMENTS])
        found: set[str] = set()
        deadline = time.monotonic() + _RECOVERY_TIMEOUT_S
        try:
            ends: dict[tuple[str, int], int] | None = None
            positions: dict[tuple[str, int], int] = {}
            while time.monotonic() < deadline:
                batch = reader.poll(0.5, 1000)
                for env in batch:
                    r = env.record
                    positions[(r.topic, r.partition)] = r.offset + 1
                    if env.event.development_id in ids:
                        found.add(env.event.development_id)
                if ends is None and reader.consumer.assignment():
                    ends = reader.consumer.lag()  # a new group has committed nothing: the ends
                if ends is not None and all(positions.get(tp, 0) >= end
                                            for tp, end in ends.items()):
                    break
            else:
                self.log.warning("recovery: could not read the developments topic in time; "
                                 "left-over developments are published (duplicates possible)")
        finally:
            reader.close()
        return found


__all__ = ["OutboxStage"]
