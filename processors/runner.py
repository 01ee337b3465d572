"""The runner both processor steps share: one input topic, one group, state and a ledger.

Each step: poll a batch; restore the state of partitions just taken over from their changelog;
in ONE state transaction record the decisions, the handled offsets and the output events;
then publish the outputs and the state changes, and commit the consumer
(``peacewatch.ledger``). A record below the handled offset is a redelivery and is skipped, so
a restart anywhere, on this host or another, neither loses an item nor emits a development
twice.

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
from abc import abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar

from peacewatch.bus.base import partition_for
from peacewatch.bus.events import Envelope, EventConsumer, EventPublisher
from peacewatch.clock import stage_clock
from peacewatch.errors import PeacewatchError, ProcessorError
from peacewatch.ledger import Ledger, OutboxRow, Store
from peacewatch.models import DEAD_LETTERS, DEVELOPMENTS, DeadLetter, Development, Event, TopicSpec
from peacewatch.settings import Settings
from peacewatch.stage import Stage, StageContext
from processors.state import ProcessorState

_PRUNE_EVERY_S = 3600.0
D = TypeVar("D")


class OutboxStage(Stage, Generic[D]):
    """A processor step over ``input``; subclasses implement ``group``, ``decide`` (what the
    step builds from settings and seeds, replaced as a whole on reload) and ``handle``."""

    input: ClassVar[TopicSpec[Any]]
    # The state tables this step logs to its changelog (peacewatch.ledger).
    stores: ClassVar[tuple[Store, ...]]

    def __init__(self, ctx: StageContext) -> None:
        super().__init__(ctx)
        self.decisions: D = self.decide(ctx.settings)
        settings = ctx.settings
        self.state = ProcessorState(settings.path(settings.processors.state_path))
        self.ledger = Ledger(self.state.db, self.state.lock, name=self.name, stores=self.stores,
                             events=ctx.events, metrics=ctx.metrics, error=ProcessorError,
                             group=self.group)
        self.publisher: EventPublisher = ctx.events.publisher()
        self.consumer: EventConsumer = ctx.events.consumer(self.group, [self.input])
        # Story windows and timestamps run on this (item time in a replay: peacewatch.clock).
        self.clock = stage_clock(ctx.settings.daemon.clock)
        # Partitions owned after the last poll: new ones are checked for left-overs.
        self._owned: set[int] = set()
        self._last_prune: float | None = None

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

    def rolled_back(self) -> None:
        """Hook: a batch's transaction failed; drop what was cached from its decisions (its
        records are handled again, and must find the state as it was before them)."""

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

    def stop(self) -> None:
        for closing in (self.consumer, self.publisher):
            try:
                closing.close()
            except PeacewatchError as exc:
                self.log.warning("closing: %s", exc)
        self.state.close()

    def lag(self) -> dict[tuple[str, int], int]:
        """Uncommitted messages of the owned partitions (reported by the daemon)."""
        return self.consumer.consumer.lag()

    def step(self, timeout_s: float) -> int:
        batch = self.consumer.poll(timeout_s, self.ctx.settings.processors.batch_size)
        with self.consumer.rewinding():
            self._take_over()
            handled = self._handle_batch(batch)
            self.ledger.publish(self.publisher, self._assigned())
            # The ledger holds the handled offsets: the group's commit only says where a
            # restarted member starts reading, so the step does not wait for it.
            self.consumer.commit(wait=False)
        now = time.monotonic()
        if (self._last_prune is None or now - self._last_prune >= _PRUNE_EVERY_S) and self.prune():
            self._last_prune = now
        return handled

    def _handle_batch(self, batch: list[Envelope[Any]]) -> int:
        """Decisions, output and handled offsets of a batch, in one state transaction; when it
        fails, nothing of the batch stays, in the state file or in memory."""
        try:
            return self._decide_batch(batch)
        except BaseException:
            self.rolled_back()
            raise

    def _decide_batch(self, batch: list[Envelope[Any]]) -> int:
        handled = 0
        with self.state.transaction():
            next_offsets: dict[tuple[str, int], int] = {}
            for env in batch:
                r = env.record
                tp = (r.topic, r.partition)
                if tp not in next_offsets:
                    next_offsets[tp] = self.ledger.next_offset(*tp)
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
                self.ledger.advance(topic, part, offset)
        return handled

    # -- output ------------------------------------------------------------------------------

    def queue(self, part: int, spec: TopicSpec[Any], event: Event) -> None:
        """Put an output event in the outbox (inside the batch's transaction)."""
        self.ledger.add_outbox(part, spec, event)

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
        return {part for _, part in self.consumer.consumer.assignment()}

    # -- partitions that move ----------------------------------------------------------------

    def _take_over(self) -> None:
        """Right after a poll (where partitions change hands): restore the state of the
        partitions just taken from their changelog, before any of their records is handled."""
        owned = self._assigned()
        previous, self._owned = self._owned, owned
        if owned != previous:
            self.partitions_changed()
        taken_over = owned - previous
        if taken_over:
            try:
                self.ledger.restore(taken_over, self.rebuild, self._published_already)
            except BaseException:
                self._owned = previous  # restored again at the next step
                raise

    def _published_already(self, rows: list[OutboxRow]) -> set[int]:
        """The left-over development rows whose development the topic holds: this host
        stopped between publishing them and forgetting them."""
        wanted = {json.loads(r.payload)["development_id"]: r for r in rows
                  if r.topic == DEVELOPMENTS.base and r.key is not None}
        if not wanted:
            return set()
        events = self.ctx.events
        parts = {partition_for(r.key, events.partitions) for r in wanted.values() if r.key}
        logs = events.bus.read_partitions(events.topic(DEVELOPMENTS), parts)
        found = {Development.model_validate_json(record.value).development_id
                 for records in logs.values() for record in records} & set(wanted)
        if found:
            self.log.info("recovery: %d development(s) already published, not sent again",
                          len(found))
        return {wanted[i].id for i in found}

    def rebuild(self, part: int) -> None:
        """Hook: derive what is not logged, for a partition just restored (inside its
        transaction)."""


__all__ = ["OutboxStage"]
