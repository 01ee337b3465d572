"""The processors stage: a thin runner around the pure steps, in two hops.

1. **Classify** (``items.raw`` -> ``items.classified``, group ``processors.group``): normalise,
   skip repeats of an item already seen (same id, revision and content), note exact copies
   under another id (canonical URL or content hash), classify, and publish one classified
   message per matched issue (one keyed ``none`` when nothing matched).
2. **Stories** (``items.classified`` -> ``developments``, group ``processors.stories_group``):
   the classified topic is keyed by issue, so one processor owns all of an issue's items; it
   finds near-duplicates, places each item in a story and publishes the developments.

Each hop: poll a batch; in ONE state transaction record the decisions, the handled offsets
and the output events (an outbox); then publish the outbox, flush, and commit the consumer.
A record below the handled offset is a redelivery and is skipped, so a restart anywhere
neither loses an item nor emits a development twice; what a crash left in the outbox is
published at the next start.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from peacewatch.bus.events import Envelope, EventConsumer, EventPublisher
from peacewatch.errors import PeacewatchError
from peacewatch.models import (
    CLASSIFIED_ITEMS,
    DEAD_LETTERS,
    DEVELOPMENTS,
    RAW_ITEMS,
    ClassifiedItem,
    DeadLetter,
    Development,
    Event,
    RawItem,
    TopicSpec,
    utcnow,
)
from peacewatch.settings import Settings
from peacewatch.stage import Stage, StageContext
from processors.actions import ActionDetector
from processors.baseline import BaselineMatcher, load_baseline
from processors.classify import IssueClassifier
from processors.dedup import (
    Fingerprint,
    NearDupDecider,
    NearDupThresholds,
    exact_keys,
    fingerprint,
    lsh_keys,
)
from processors.pipeline import classify_item, fan_out, normalise, report_for
from processors.state import OutboxRow, PlacedItem, ProcessorState
from processors.stories import Story, StoryClusterer, StoryRules
from processors.watchlist import Watchlist, load_watchlist

_TOPICS: dict[str, TopicSpec[Any]] = {
    spec.base: spec for spec in (CLASSIFIED_ITEMS, DEVELOPMENTS, DEAD_LETTERS)
}
_RECOVERY_TIMEOUT_S = 60.0
_PRUNE_EVERY_S = 3600.0
# Longest wait for input on one hop before the other hop gets its turn.
_HOP_WAIT_S = 0.05


def watchlist_path(settings: Settings) -> Path:
    return settings.processors.watchlist or settings.seeds_dir / "watchlist.toml"


def baseline_path(settings: Settings) -> Path:
    return settings.processors.baseline or settings.seeds_dir / "baseline.toml"


@dataclass(frozen=True)
class Decisions:
    """Everything built from settings and seeds: replaced as a whole on reload."""

    watchlist: Watchlist
    classifier: IssueClassifier
    detector: ActionDetector
    decider: NearDupDecider
    clusterer: StoryClusterer

    @classmethod
    def from_settings(cls, settings: Settings) -> Decisions:
        p = settings.processors
        watchlist = load_watchlist(watchlist_path(settings))
        path = baseline_path(settings)
        baseline = (load_baseline(path, watchlist.issue_ids)
                    if p.baseline is not None or path.exists() else None)
        nd = p.neardup
        rules = StoryRules(window=timedelta(hours=p.stories.window_hours),
                           join_threshold=p.stories.join_threshold,
                           min_shared=p.stories.min_shared_terms)
        return cls(
            watchlist=watchlist,
            classifier=IssueClassifier(watchlist, content_chars=p.content_chars),
            detector=ActionDetector(watchlist),
            decider=NearDupDecider(NearDupThresholds(
                nd.body, nd.body_with_title, nd.title_with_body, nd.title_alone,
                nd.title_alone_far, nd.close_hours)),
            clusterer=StoryClusterer(rules, BaselineMatcher(baseline),
                                     {k: v.name for k, v in watchlist.parties.items()}),
        )


class ProcessorStage(Stage):
    name = "processors"

    def __init__(self, ctx: StageContext) -> None:
        super().__init__(ctx)
        self.decisions = Decisions.from_settings(ctx.settings)
        self.state: ProcessorState | None = None
        self.raw: EventConsumer | None = None
        self.classified: EventConsumer | None = None
        self.publisher: EventPublisher | None = None
        self._last_prune = 0.0
        self._latest_item_at: float | None = None
        # issue -> (stories by id, the time they were loaded from): see _stories.
        self._story_cache: dict[str, tuple[dict[str, Story], float]] = {}
        # Partitions owned at the last publish, per group: new ones are checked for left-overs.
        self._owned: dict[str, set[int]] = {}

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        settings = self.ctx.settings
        p = settings.processors
        self.state = ProcessorState(settings.path(p.state_path))
        self.publisher = self.ctx.events.publisher()
        self.raw = self.ctx.events.consumer(p.group, [RAW_ITEMS])
        self.classified = self.ctx.events.consumer(p.stories_group, [CLASSIFIED_ITEMS])

    def stop(self) -> None:
        for closing in (self.raw, self.classified, self.publisher):
            if closing is not None:
                try:
                    closing.close()
                except PeacewatchError as exc:
                    self.log.warning("closing: %s", exc)
        self.raw = self.classified = self.publisher = None
        if self.state is not None:
            self.state.close()
            self.state = None

    def lag(self) -> dict[tuple[str, int], int]:
        """Uncommitted messages of both hops' owned partitions (reported by the daemon)."""
        out: dict[tuple[str, int], int] = {}
        for consumer in (self.raw, self.classified):
            if consumer is not None:
                out.update(consumer.consumer.lag())
        return out

    def prepare_reload(self, settings: Settings) -> Callable[[], None]:
        """New watchlist and baseline without a restart; a bad file keeps the old ones."""
        decisions = Decisions.from_settings(settings)  # ConfigError: the daemon keeps the old

        def apply() -> None:
            self.decisions = decisions
            super(ProcessorStage, self).reload(settings)
            self.log.info("watchlist reloaded: %d issues", len(decisions.watchlist.issues))

        return apply

    def reload(self, settings: Settings) -> None:
        self.prepare_reload(settings)()

    def step(self, timeout_s: float) -> int:
        if self.raw is None or self.classified is None:
            self.start()
        # Two hops share this thread: a short wait on each keeps one idle hop from holding
        # back the other (each hop's added latency stays under ~_HOP_WAIT_S).
        wait = min(max(timeout_s / 2, 0.0), _HOP_WAIT_S)
        done = self._classify_step(wait) + self._stories_step(wait)
        self._housekeeping()
        return done

    # -- hop 1: classify -------------------------------------------------------------------

    def _classify_step(self, timeout_s: float) -> int:
        assert self.raw is not None
        return self._hop(self.raw, self.ctx.settings.processors.group, self._classify_one,
                         timeout_s)

    def _hop(self, consumer: EventConsumer, group: str,
             handle: Callable[[Envelope[Any], str], None], timeout_s: float) -> int:
        """One batch of one hop: state, handled offsets and outbox in one transaction, then
        publish, flush and commit. Redelivered records (already handled) are skipped."""
        assert self.state is not None
        batch = consumer.poll(timeout_s, self.ctx.settings.processors.batch_size)
        self._recover(group, consumer)
        handled = 0
        with self.state.transaction():
            for env in batch:
                r = env.record
                if self.state.handled(group, r.topic, r.partition, r.offset):
                    continue
                try:
                    handle(env, group)
                except PeacewatchError:
                    raise
                except Exception as exc:  # one bad item never stops a batch
                    self._dead_letter(group, env, exc)
                self.state.advance(group, r.topic, r.partition, r.offset)
                handled += 1
        self._publish_outbox(group, consumer)
        consumer.commit()
        return handled

    def _classify_one(self, env: Envelope[RawItem], group: str) -> None:
        assert self.state is not None
        item, part = env.event, env.record.partition
        metrics = self.ctx.metrics
        metrics.items_processed.inc()
        text = normalise(item)
        previous = self.state.seen(item.item_id)
        if previous is not None and previous[0] >= item.revision and (
                previous[1] == text.content_hash):
            # The same item again: a re-sent message, or an unchanged re-poll.
            metrics.duplicates.labels(kind="exact").inc()
            return
        keys = exact_keys(item.url, text.title, text.body)
        owner = self.state.exact_owner(keys)
        duplicate_of = owner if owner not in (None, item.item_id) else None
        if duplicate_of is not None:
            metrics.duplicates.labels(kind="exact").inc()
        classified = classify_item(item, text, self.decisions.classifier, now=utcnow(),
                                   duplicate_of=duplicate_of)
        for match in classified.issues:
            metrics.items_per_issue.labels(issue=match.issue_id).inc()
        for message in fan_out(classified):
            self._queue(group, part, CLASSIFIED_ITEMS, message)
        self.state.mark_seen(item.item_id, part, item.revision, text.content_hash)
        self.state.claim_keys(keys, item.item_id, part)

    # -- hop 2: stories and developments -----------------------------------------------------

    def _stories_step(self, timeout_s: float) -> int:
        assert self.classified is not None
        return self._hop(self.classified, self.ctx.settings.processors.stories_group,
                         self._place_one, timeout_s)

    def _place_one(self, env: Envelope[ClassifiedItem], group: str) -> None:
        assert self.state is not None
        classified, part = env.event, env.record.partition
        if not classified.issues:
            return
        match = classified.issues[0]
        issue, item = match.issue_id, classified.item
        previous = self.state.placed(issue, item.item_id)
        if previous is not None and previous.revision >= item.revision:
            return  # the same item again (a re-sent message): already placed
        d = self.decisions
        report = report_for(classified, match, d.detector)
        body = report.text.split("\n", 1)[1] if "\n" in report.text else ""
        fp = fingerprint(classified.canonical_title, body)
        keys = exact_keys(item.url, classified.canonical_title, body) + lsh_keys(fp)
        at = report.at.timestamp()
        self._latest_item_at = max(self._latest_item_at or at, at)
        # An update of an item stays in its story; another item may be a copy of one placed.
        copy = previous if previous is not None else self._copy_of(issue, item.item_id, fp,
                                                                   keys, at)
        copy_story = self._story(issue, copy.story_id) if copy is not None else None
        if copy is not None and previous is None:
            # Counted once per item, under its primary issue (each issue sees the copy).
            if match is max(classified.issues, key=lambda m: (m.score, m.issue_id)):
                self.ctx.metrics.duplicates.labels(kind="near").inc()
            self._keep_fuller(issue, part, copy, report.text)
        window = self.ctx.settings.processors.stories.window_hours * 3600
        stories = self._stories(issue, since=at - window)
        placement = d.clusterer.place(report, stories, copy_of=copy_story, now=utcnow())
        self.state.save_story(placement.story, part)
        self._story_cache.setdefault(issue, ({}, at - window))[0][
            placement.story.story_id] = placement.story
        self.state.save_placed(issue, part, PlacedItem(
            item.item_id, item.revision, placement.story.story_id, fp.title_words,
            fp.to_bytes(), fp.body_words, report.text[:4000], at))
        self.state.index(issue, part, item.item_id, keys, at)
        for development in placement.developments:
            self._emit(group, part, development)

    def _stories(self, issue: str, since: float) -> list[Story]:
        """An issue's stories seen since ``since``, from memory once read from the state.

        Only this process writes the stories of the issues on its partitions, so the cache
        holds while they stay here; it is dropped when partitions change hands (and hourly).
        """
        assert self.state is not None
        cached = self._story_cache.get(issue)
        if cached is None:
            cached = ({s.story_id: s for s in self.state.stories(issue, since)}, since)
        elif since < cached[1]:  # an older item: read the stories the cache does not reach
            older = self.state.stories(issue, since, until=cached[1])
            cached = ({**{s.story_id: s for s in older}, **cached[0]}, since)
        self._story_cache[issue] = cached
        return [s for s in cached[0].values() if s.last_seen.timestamp() >= since]

    def _story(self, issue: str, story_id: str) -> Story | None:
        assert self.state is not None
        cached = self._story_cache.get(issue)
        if cached is not None and story_id in cached[0]:
            return cached[0][story_id]
        return self.state.story(issue, story_id)

    def _copy_of(self, issue: str, item_id: str, fp: Fingerprint, keys: list[str],
                 at: float) -> PlacedItem | None:
        """The earliest placed item this one copies (exactly or nearly), if any."""
        assert self.state is not None
        nd = self.ctx.settings.processors.neardup
        since = at - nd.retention_days * 86400
        exact = [k for k in keys if k.startswith(("url:", "hash:"))]
        copies = [c for c in self.state.candidates(issue, exact, since, 10) if c.item_id != item_id]
        if not copies and nd.enabled:
            lsh = [k for k in keys if k not in exact]
            for other in self.state.candidates(issue, lsh, since, nd.max_candidates):
                other_fp = Fingerprint(other.title_words,
                                       Fingerprint.hashes_from_bytes(other.body_sig),
                                       other.body_words)
                hours = abs(at - other.at) / 3600
                if other.item_id != item_id and self.decisions.decider.compare(fp, other_fp,
                                                                              hours):
                    copies.append(other)
        if not copies:
            return None
        first = min(copies, key=lambda p: p.at)
        return self.state.placed(issue, first.item_id)  # with its text

    def _keep_fuller(self, issue: str, part: int, original: PlacedItem, text: str) -> None:
        """The first copy stands, but keeps the fuller text when a later copy has more."""
        assert self.state is not None
        if len(text) > len(original.text):
            self.state.save_placed(issue, part, PlacedItem(
                original.item_id, original.revision, original.story_id, original.title_words,
                original.body_sig, original.body_words, text[:4000], original.at))

    def _emit(self, group: str, part: int, development: Development) -> None:
        assert self.state is not None
        if self.state.has_development(development.development_id):
            return
        self.state.save_development(development, part)
        self._queue(group, part, DEVELOPMENTS, development)
        self.ctx.metrics.developments.labels(
            issue=development.issue_id, severity=development.severity.name.lower()).inc()

    # -- plumbing ----------------------------------------------------------------------------

    def _dead_letter(self, group: str, env: Envelope[Any], exc: Exception) -> None:
        assert self.state is not None
        r = env.record
        self.log.error("%s[%d]@%d: %s: %s", r.topic, r.partition, r.offset,
                       type(exc).__name__, exc)
        letter = DeadLetter(
            origin_topic=r.topic, origin_partition=r.partition, origin_offset=r.offset,
            key=r.key, payload=r.value.decode("utf-8", "replace"),
            error=f"processing failed: {type(exc).__name__}: {exc}"[:2000],
            consumer_group=group, failed_at=utcnow(),
        )
        self._queue(group, r.partition, DEAD_LETTERS, letter)
        self.ctx.metrics.dead_letters.labels(topic=r.topic).inc()

    def _queue(self, group: str, part: int, spec: TopicSpec[Any], event: Event) -> None:
        """Put an output event in the outbox (inside the caller's transaction)."""
        assert self.state is not None
        self.state.add_outbox(group, part, spec.base, spec.key(event), event.model_dump_json())

    def _recover(self, group: str, consumer: EventConsumer) -> None:
        """Publish the left-overs of partitions this consumer has just taken over.

        Right after a poll (which is where partitions change hands), rows already in the
        outbox for a newly owned partition were left by an owner that stopped between its
        state commit and its publish -- or between its publish and forgetting the rows (this
        process before a restart, or another one sharing the state file). Developments among
        them are checked against the developments topic first, so none is published twice.
        """
        assert self.state is not None
        owned = {part for _, part in consumer.consumer.assignment()}
        previous = self._owned.get(group, set())
        self._owned[group] = owned
        if owned != previous:
            self._story_cache.clear()
        taken_over = owned - previous
        if not taken_over:
            return
        rows = self.state.outbox(group, taken_over)
        if rows:
            self.log.info("recovery: %d left-over output event(s) of partitions %s",
                          len(rows), sorted(taken_over))
            self._publish(self._not_yet_published(rows, group))

    def _publish_outbox(self, group: str, consumer: EventConsumer) -> None:
        """Publish what the state holds for this group's owned partitions, then forget it."""
        assert self.state is not None
        owned = {part for _, part in consumer.consumer.assignment()}
        self._publish(self.state.outbox(group, owned))

    def _publish(self, rows: list[OutboxRow]) -> None:
        assert self.state is not None and self.publisher is not None
        if not rows:
            return
        producer, events = self.publisher.producer, self.ctx.events
        for row in rows:
            producer.publish(events.topic(_TOPICS[row.topic]), row.payload.encode("utf-8"),
                             row.key)
        self.publisher.flush()
        self.state.sent(row.id for row in rows)

    def _not_yet_published(self, rows: list[OutboxRow], group: str) -> list[OutboxRow]:
        """Drop left-over development rows whose development is already on the topic."""
        assert self.state is not None
        wanted = {json.loads(r.payload)["development_id"]: r for r in rows
                  if r.topic == DEVELOPMENTS.base}
        if not wanted:
            return rows
        found = self._published_development_ids(set(wanted), group)
        if found:
            self.log.info("recovery: %d development(s) already published, not sent again",
                          len(found))
            self.state.sent(wanted[i].id for i in found)
        return [r for r in rows if r.topic != DEVELOPMENTS.base
                or json.loads(r.payload)["development_id"] not in found]

    def _published_development_ids(self, ids: set[str], group: str) -> set[str]:
        """Which of ``ids`` the developments topic holds (read once, from the start)."""
        reader = self.ctx.events.consumer(f"{group}-recovery-{uuid.uuid4().hex[:12]}",
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

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if (now - self._last_prune >= _PRUNE_EVERY_S and self.state is not None
                and self._latest_item_at is not None):
            self._last_prune = now
            p = self.ctx.settings.processors
            wall = time.time()
            # Item-time retention runs on the stream's own clock (capped by the wall clock),
            # so that replaying old news does not forget it as it is read.
            horizon = min(wall, self._latest_item_at)
            self._story_cache.clear()
            self.state.prune(index_before=horizon - p.neardup.retention_days * 86400,
                             stories_before=horizon - p.stories.retention_days * 86400,
                             seen_before=wall - p.stories.retention_days * 86400)


def build(ctx: StageContext) -> Stage:
    return ProcessorStage(ctx)


__all__ = ["ProcessorStage", "build"]
