"""The collectors stage: ingest document folders, then poll the feeds this collector owns.

The stage is built whole: the state, the publisher and, unless ``poll_feeds`` is off, what polling
feeds takes (``FeedPolling``: the feeds topic's reader, the group membership, the scheduler, the
poller and its event loop). ``start`` reads the feeds topic to its end, publishes the configured
feed lists to it (only what changed; feeds removed from a list are published as disabled), reads
it to its end again, joins the collectors' consumer group and starts the scheduler. Each ``step``
then:

1. rescans the document folders when due (the first step always does: seed documents first);
2. reads new feed specs and the group's partition assignment, and (un)schedules feeds;
3. takes a batch of due feeds from the scheduler, polls them concurrently on the stage's event
   loop, records and queues new and edited items in one transaction of the ledger and publishes
   them (``collectors.sink``), saves feed health and schedules each feed's next poll.

A step returns how many documents/items it published plus feeds it polled, so burst mode
(``--once``) ends when nothing is due.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from collectors.directory import FeedDirectory, FeedOwnership
from collectors.documents import DocumentError, DocumentSource
from collectors.feedlist import configured_feeds
from collectors.fetch import FeedFetcher
from collectors.health import FeedHealth, after_poll
from collectors.poller import FeedPoller, PollResult
from collectors.safety import AddressPolicy
from collectors.scheduler import FeedScheduler
from collectors.sink import DOCUMENTS_PART, ItemSink, SinkReport
from collectors.state import CollectorState, collector_ledger
from peacewatch.bus.events import EventPublisher
from peacewatch.errors import ConfigError, PeacewatchError
from peacewatch.models import FEEDS, FeedSpec, RawItem, stable_hash, utcnow
from peacewatch.settings import Settings
from peacewatch.stage import Stage, StageContext

# How long start-up waits to read the feeds topic to its end.
_CATCH_UP_S = 15.0
# How often a step looks at the feeds topic and the group assignment, and how long each poll
# may wait for the consumer to make progress.
_SYNC_INTERVAL_S = 1.0
_SYNC_POLL_S = 0.05


def document_sources(settings: Settings) -> list[DocumentSource]:
    """The configured document folders, baseline ones marked; each folder once."""
    cfg = settings.collectors
    baseline = {p.resolve() for p in cfg.baseline_documents}
    folders: list[Path] = []
    for folder in [*cfg.documents, *cfg.baseline_documents]:
        if folder.resolve() not in {f.resolve() for f in folders}:
            folders.append(folder)
    return [
        DocumentSource(f, baseline=f.resolve() in baseline, max_bytes=cfg.max_document_bytes)
        for f in folders
    ]


def feeds_to_announce(
    configured: Sequence[FeedSpec], current: dict[str, FeedSpec], announced: set[str]
) -> list[FeedSpec]:
    """What to publish to the feeds topic: configured specs it does not have yet, and a
    disabled spec for each feed this collector announced before that the lists no longer have."""
    out = [spec for spec in configured if current.get(spec.feed_id) != spec]
    names = {spec.feed_id for spec in configured}
    for feed_id in sorted(announced - names):
        if feed_id in current:
            out.append(current[feed_id].model_copy(update={"enabled": False}))
    return out


@dataclass
class FeedPolling:
    """What polling feeds takes; a collector with ``poll_feeds = false`` has none."""

    directory: FeedDirectory
    ownership: FeedOwnership
    scheduler: FeedScheduler
    poller: FeedPoller
    loop: asyncio.AbstractEventLoop

    @classmethod
    def open(cls, ctx: StageContext) -> FeedPolling:
        cfg = ctx.settings.collectors
        fetcher = FeedFetcher(
            cfg.http, AddressPolicy(cfg.allow_networks), file_roots=tuple(cfg.feed_folders),
            allow_any_file=cfg.allow_file_urls)
        # apscheduler and httpx log every job and request at INFO: thousands of lines a cycle.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        logging.getLogger("httpx").setLevel(logging.WARNING)
        return cls(directory=FeedDirectory(ctx.events, cfg.group),
                   ownership=FeedOwnership(ctx.events, cfg.group), scheduler=FeedScheduler(),
                   poller=FeedPoller(fetcher), loop=asyncio.new_event_loop())

    def close(self) -> None:
        self.scheduler.shutdown()
        self.loop.run_until_complete(self.poller.fetcher.aclose())
        self.loop.close()
        self.ownership.close()
        self.directory.close()


class CollectorStage(Stage):
    name = "collectors"

    def __init__(self, ctx: StageContext) -> None:
        super().__init__(ctx)
        cfg = ctx.settings.collectors
        self.state = CollectorState(ctx.settings.path(cfg.state_path), ctx.settings.bus.partitions)
        self.ledger = collector_ledger(self.state, ctx.events, ctx.metrics, cfg.group)
        self.publisher: EventPublisher = ctx.events.publisher()
        # The partitions of the feeds topic this collector owns, restored from the changelog.
        self._owned_partitions: set[int] = set()
        self.sink = ItemSink(self.state, self.ledger, self.publisher, ctx.metrics,
                             max_item_bytes=cfg.max_item_bytes,
                             parts=lambda: {DOCUMENTS_PART, *self._owned_partitions})
        self.feeds = FeedPolling.open(ctx) if cfg.poll_feeds else None
        self._stopped = False
        self._next_document_scan = 0.0
        self._missing_folders: set[Path] = set()
        self._wake = threading.Event()
        self._owned: dict[str, FeedSpec] = {}
        self._next_sync = 0.0
        self._reload_pending = False
        self.rng = random.Random()

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    @property
    def owned_feeds(self) -> set[str]:
        """Ids of the feeds this collector polls now (its partitions of the feeds topic)."""
        return set(self._owned)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        feeds = self.feeds
        if feeds is None:
            return
        cfg = self.settings.collectors
        configured = configured_feeds(cfg.feed_lists, cfg.feed_folders, self.settings.seeds_dir)
        feeds.directory.catch_up(_CATCH_UP_S)
        self._announce(feeds, configured)
        feeds.directory.catch_up(_CATCH_UP_S)
        feeds.scheduler.start()
        feeds.ownership.refresh(0.0)
        self._sync_owned(feeds)

    def _announce(self, feeds: FeedPolling, configured: Sequence[FeedSpec]) -> None:
        current = {fid: spec for fid, (spec, _part) in feeds.directory.feeds.items()}
        announced = set(self.state.announced())
        out = feeds_to_announce(configured, current, announced)
        for spec in out:
            self.publisher.publish(FEEDS, spec)
        self.publisher.flush()
        self.state.record_announced(
            {s.feed_id: stable_hash(s.model_dump_json()) for s in configured})
        if out:
            self.log.info("feed lists: published %d feed spec(s) to the feeds topic", len(out))

    def stop(self) -> None:
        self._wake.set()
        if self._stopped:
            return
        self._stopped = True
        if self.feeds is not None:
            self.feeds.close()
        self.publisher.close()
        self.state.close()

    def prepare_reload(self, settings: Settings) -> Callable[[], None]:
        cfg = settings.collectors
        configured_feeds(cfg.feed_lists, cfg.feed_folders, settings.seeds_dir)  # ConfigError
        return lambda: self.reload(settings)

    def reload(self, settings: Settings) -> None:
        """New settings (already checked); the feed lists are published by the next step."""
        self.ctx.settings = settings
        self._reload_pending = True
        self._next_document_scan = 0.0

    # -- steps -----------------------------------------------------------------------------

    def step(self, timeout_s: float) -> int:
        self.sink.retry()  # what a failed step left, before anything new
        if not self.ctx.bus_up():
            # Nothing is polled while nothing can be published: memory stays bounded, and
            # the feeds are polled again (with their validators) once the bus is back.
            self._wake.wait(timeout_s)
            return 0
        done = 0
        now = time.monotonic()
        if now >= self._next_document_scan:
            self._next_document_scan = now + self.settings.collectors.documents_rescan_s
            done += self.ingest_documents().published
        feeds = self.feeds
        if feeds is None:
            if done == 0:
                self._wake.wait(timeout_s)
            return done
        if self._reload_pending:
            cfg = self.settings.collectors
            try:
                self._announce(feeds, configured_feeds(cfg.feed_lists, cfg.feed_folders,
                                                       self.settings.seeds_dir))
            except ConfigError as exc:
                self.log.error("feed lists not published: %s", exc)
            self._reload_pending = False  # not before: a bus error leaves it to the next step
        self.sync_feeds()
        due = feeds.scheduler.take_due(self.settings.collectors.schedule.batch_size,
                                       0.0 if done else timeout_s)
        if due:
            done += self.poll_feeds(due)
        return done

    def sync_feeds(self) -> None:
        """Read new feed specs and the group's assignment; (un)schedule feeds to match.

        At most once a second: a Kafka consumer only makes progress (joins, rebalances,
        fetches) inside a poll that may wait, so each of the two polls may wait briefly.
        """
        feeds = self.feeds
        now = time.monotonic()
        if feeds is None or now < self._next_sync:
            return
        self._next_sync = now + _SYNC_INTERVAL_S
        changed = feeds.directory.poll(_SYNC_POLL_S)
        feeds.ownership.refresh(_SYNC_POLL_S)
        if changed or feeds.ownership.partitions != self._owned_partitions:
            self._sync_owned(feeds, changed)

    def _sync_owned(self, feeds: FeedPolling, changed: set[str] | None = None) -> None:
        """Schedule feeds newly owned or changed; unschedule feeds no longer owned."""
        taken = feeds.ownership.partitions - self._owned_partitions
        if taken:
            # A feed that moved here keeps its health and validators: restored before a poll.
            self.ledger.restore(taken)
        owned = {fid: spec for fid, (spec, part) in feeds.directory.feeds.items()
                 if part in feeds.ownership.partitions}
        gone = set(self._owned) - set(owned)
        feeds.scheduler.unschedule(gone)
        fresh = [fid for fid in owned if fid not in self._owned
                 or (changed is not None and fid in changed)]
        healths = self.state.health(fresh)
        updates = []
        for fid in fresh:
            spec = owned[fid]
            health = healths.get(fid)
            new = (FeedHealth.new(fid, spec.url, spec.interval_s) if health is None
                   else health.for_spec(spec.url, spec.interval_s))
            if new != health:
                updates.append(new)
            if new.disabled:
                self.log.info("feed %s stays disabled (%s)", fid, new.disabled)
                continue
            feeds.scheduler.schedule(fid, new.next_poll_at)
        self.state.save_health(updates)
        self._save_changes(feeds)
        self._owned = owned
        self._owned_partitions = set(feeds.ownership.partitions)
        self.ctx.metrics.feeds_active.set(len(owned))

    def poll_feeds(self, feed_ids: Sequence[str]) -> int:
        """Poll these feeds now, publish their items, save health, plan their next polls."""
        feeds = self.feeds
        if feeds is None:
            return 0
        specs = [self._owned[f] for f in feed_ids if f in self._owned]
        healths = self.state.health(s.feed_id for s in specs)
        pairs = [(s, healths.get(s.feed_id) or FeedHealth.new(s.feed_id, s.url, s.interval_s))
                 for s in specs]
        results = feeds.loop.run_until_complete(feeds.poller.poll_many(pairs))
        items: list[RawItem] = [item for r in results for item in r.items]
        parts = [self.state.part_of(r.spec.feed_id) for r in results for _item in r.items]
        try:
            report = self.sink.publish(items, parts)
            policy = self.settings.collectors.schedule
            updated = [after_poll(h, r.outcome, time.time(), policy, self.rng)
                       for (_spec, h), r in zip(pairs, results, strict=True)]
            self.state.save_health(updated)
            self._save_changes(feeds)
        except PeacewatchError:
            # Their health (validators included) stays as it was, and they are due again:
            # polled once the stage works again, they find known what the sink recorded (it
            # is in the ledger's outbox until published).
            for spec, _health in pairs:
                feeds.scheduler.schedule(spec.feed_id, time.time())
            raise
        for health, result in zip(updated, results, strict=True):
            self._record(result, health)
            if health.disabled is None and health.feed_id in self._owned:
                feeds.scheduler.schedule(health.feed_id, health.next_poll_at)
        return len(results) + report.published

    def _save_changes(self, feeds: FeedPolling) -> None:
        """Feed health changes of the owned partitions to the changelog."""
        self.ledger.publish(self.publisher, feeds.ownership.partitions)

    def _record(self, result: PollResult, health: FeedHealth) -> None:
        metrics = self.ctx.metrics
        outcome = result.outcome
        metrics.feed_polls.labels(outcome=outcome.status).inc()
        metrics.feed_fetch_seconds.observe(result.seconds)
        if outcome.ok:
            metrics.last_successful_poll.set(time.time())
        if outcome.gone:
            self.log.warning("feed %s (%s): %s - disabled", result.spec.feed_id, health.url,
                             outcome.error)
        elif not outcome.ok:
            self.log.warning("feed %s (%s): %s; failure %d, next poll in %.0fs",
                             result.spec.feed_id, health.url, outcome.error, health.failures,
                             health.next_poll_at - time.time())
        if outcome.moved_to:
            self.log.info("feed %s moved permanently to %s", result.spec.feed_id,
                          outcome.moved_to)
        for error in result.entry_errors[:3]:
            self.log.warning("feed %s: %s", result.spec.feed_id, error)

    # -- documents ---------------------------------------------------------------------------

    def ingest_documents(self) -> SinkReport:
        """Scan every document folder once and publish what is new or edited."""
        report = SinkReport()
        fetched_at = utcnow()
        for source in document_sources(self.settings):
            items: list[RawItem] = []
            for result in source.scan(fetched_at):
                if isinstance(result, DocumentError):
                    self._document_error(source, result)
                else:
                    items.append(result)
            if items:
                self._missing_folders.discard(source.folder)
                got = self.sink.publish(items)
                report += got
                if got.published:
                    self.log.info("documents %s: %d new, %d updated", source.folder,
                                  got.new, got.updates)
        return report

    def _document_error(self, source: DocumentSource, error: DocumentError) -> None:
        if error.path == source.folder:
            # Said once, not every rescan: the folder may be created later.
            if source.folder not in self._missing_folders:
                self._missing_folders.add(source.folder)
                self.log.warning("document folder %s: %s", source.folder, error.error)
            return
        self.log.error("document %s skipped: %s", error.path, error.error)


def build(ctx: StageContext) -> list[Stage]:
    return [CollectorStage(ctx)]


__all__ = ["CollectorStage", "FeedPolling", "build", "document_sources", "feeds_to_announce"]
