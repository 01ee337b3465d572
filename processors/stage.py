"""The processors stage: thin runners around the pure steps, in two steps of their own.

1. **Classify** (``items.raw`` -> ``items.classified``, group ``processors.group``): normalise,
   skip repeats of an item already seen (same id, revision and content), note exact copies
   under another id (canonical URL or content hash), classify, and publish one classified
   message per matched issue (an item that matched nothing only with
   ``processors.publish_unmatched``, keyed ``none``).
2. **Stories** (``items.classified`` -> ``developments``, group ``processors.stories_group``):
   the classified topic is keyed by issue, so one processor owns all of an issue's items; it
   finds near-duplicates, places each item in a story and publishes the developments.

``build`` gives both steps; the daemon runs each on its own thread. How a step turns a batch
into state, output and offsets without loss or repeats is ``runner.OutboxStage``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from peacewatch.bus.events import Envelope
from peacewatch.clock import ItemClock
from peacewatch.ledger import Store
from peacewatch.models import (
    CLASSIFIED_ITEMS,
    DEVELOPMENTS,
    RAW_ITEMS,
    ClassifiedItem,
    Development,
    RawItem,
)
from peacewatch.settings import Settings
from peacewatch.stage import Stage, StageContext
from processors.actions import ActionDetector
from processors.baseline import BaselineMatcher, load_baseline
from processors.classify import IssueClassifier
from processors.dedup import Fingerprint, NearDupDecider, NearDupThresholds, fingerprint, lsh_keys
from processors.entities import NO_ENTITIES, Entities, load_entities
from processors.model import LearnedModel
from processors.pipeline import classified_item, copy_keys, fan_out, normalise, report_for
from processors.runner import OutboxStage
from processors.state import PlacedItem
from processors.stories import Story, StoryClusterer, StoryRules
from processors.watchlist import load_watchlist


def watchlist_path(settings: Settings) -> Path:
    return settings.processors.watchlist or settings.seeds_dir / "watchlist.toml"


def baseline_path(settings: Settings) -> Path:
    return settings.processors.baseline or settings.seeds_dir / "baseline.toml"


def load_entities_of(settings: Settings) -> Entities:
    path = settings.processors.entities or settings.seeds_dir / "entities.toml"
    if settings.processors.entities is None and not path.exists():
        return NO_ENTITIES
    return load_entities(path)


def load_model(settings: Settings) -> LearnedModel | None:
    """The learned model of the settings, or None (turned off, or no default model there)."""
    p = settings.processors
    if not p.use_model:
        return None
    path = p.model or settings.seeds_dir / "model.json"
    if p.model is None and not path.exists():
        return None
    return LearnedModel.load(path)


def issue_classifier(settings: Settings, watchlist: Path | None = None) -> IssueClassifier:
    """The classifier of the settings: their watchlist (or ``watchlist``) and model."""
    return IssueClassifier(load_watchlist(watchlist or watchlist_path(settings)),
                           load_model(settings),
                           content_chars=settings.processors.content_chars)


@dataclass(frozen=True)
class ClassifyDecisions:
    """What the classify step builds from settings and seeds: replaced as a whole on reload."""

    classifier: IssueClassifier

    @classmethod
    def from_settings(cls, settings: Settings) -> ClassifyDecisions:
        return cls(issue_classifier(settings))


@dataclass(frozen=True)
class StoryDecisions:
    """What the stories step builds from settings and seeds: replaced as a whole on reload."""

    detector: ActionDetector
    decider: NearDupDecider
    clusterer: StoryClusterer
    entities: Entities
    # How rare each story term is (from the model's training corpus; empty without a model).
    idf: Mapping[str, float]

    @classmethod
    def from_settings(cls, settings: Settings) -> StoryDecisions:
        p = settings.processors
        watchlist = load_watchlist(watchlist_path(settings))
        path = baseline_path(settings)
        baseline = (load_baseline(path, watchlist.issue_ids)
                    if p.baseline is not None or path.exists() else None)
        nd = p.neardup
        rules = StoryRules(window=timedelta(hours=p.stories.window_hours),
                           join_threshold=p.stories.join_threshold,
                           novelty_threshold=p.stories.novelty_threshold)
        model = load_model(settings)
        return cls(
            detector=ActionDetector(watchlist),
            decider=NearDupDecider(NearDupThresholds(
                nd.body, nd.body_with_title, nd.title_with_body, nd.title_alone,
                nd.title_alone_far, nd.close_hours)),
            clusterer=StoryClusterer(
                rules, BaselineMatcher(baseline, timedelta(days=p.baseline_horizon_days)),
                {k: v.name for k, v in watchlist.parties.items()}),
            entities=load_entities_of(settings),
            idf=model.idf if model is not None else {},
        )


class ClassifyStage(OutboxStage[ClassifyDecisions]):
    """Step 1: raw items in, one classified message per matched issue out."""

    name = "classify"
    input = RAW_ITEMS
    stores = (Store("seen", ("item_id",)), Store("exact_keys", ("key",)))

    @property
    def group(self) -> str:
        return self.ctx.settings.processors.group

    def decide(self, settings: Settings) -> ClassifyDecisions:
        return ClassifyDecisions.from_settings(settings)

    def reloaded(self) -> None:
        self.log.info("watchlist reloaded: %d issues", len(self.decisions.classifier.issue_ids))

    def handle(self, env: Envelope[RawItem]) -> None:
        item, part = env.event, env.record.partition
        metrics = self.ctx.metrics
        metrics.items_processed.inc()
        previous = self.state.seen(item.item_id)
        if previous is not None and previous[0] >= item.revision and (
                previous[1] == item.content_hash):
            # The same item again: a re-sent message, or an unchanged re-poll.
            metrics.duplicates.labels(kind="exact").inc()
            return
        text = normalise(item)
        keys = copy_keys(item)
        owner = self.state.exact_owner(keys)
        duplicate_of = owner if owner not in (None, item.item_id) else None
        if duplicate_of is not None:
            metrics.duplicates.labels(kind="exact").inc()
        judgement = self.decisions.classifier.judge(text.title, text.summary, text.content)
        for match in judgement.issues:
            metrics.items_per_issue.labels(issue=match.issue_id).inc()
        if judgement.issues or self.ctx.settings.processors.publish_unmatched:
            classified = classified_item(item, text, judgement, now=self.clock(),
                                         duplicate_of=duplicate_of)
            for message in fan_out(classified):
                self.queue(part, CLASSIFIED_ITEMS, message)
        self.state.mark_seen(item.item_id, part, item.revision, item.content_hash)
        self.state.claim_keys(keys, item.item_id, part)

    def prune(self) -> bool:
        retention = self.ctx.settings.processors.stories.retention_days * 86400
        self.state.prune_seen(before=time.time() - retention)
        return True


class StoriesStage(OutboxStage[StoryDecisions]):
    """Step 2: classified items in, placed in stories; developments out."""

    name = "stories"
    input = CLASSIFIED_ITEMS
    # The near-duplicate index is derived from the placed items: rebuilt, not logged.
    stores = (Store("placed", ("issue", "item_id")), Store("stories", ("issue", "story_id")),
              Store("developments", ("development_id",)))

    def __init__(self, ctx: StageContext) -> None:
        super().__init__(ctx)
        self._latest_item_at: float | None = None
        # issue -> (stories by id, the time they were loaded from): see _stories.
        self._story_cache: dict[str, tuple[dict[str, Story], float]] = {}

    @property
    def group(self) -> str:
        return self.ctx.settings.processors.stories_group

    def decide(self, settings: Settings) -> StoryDecisions:
        return StoryDecisions.from_settings(settings)

    def partitions_changed(self) -> None:
        self._story_cache.clear()

    def rebuild(self, part: int) -> None:
        self.state.rebuild_index(part, lambda p: lsh_keys(Fingerprint(
            p.title_words, Fingerprint.hashes_from_bytes(p.body_sig), p.body_words)))

    def handle(self, env: Envelope[ClassifiedItem]) -> None:
        classified, part = env.event, env.record.partition
        if not classified.issues:
            return
        match = classified.issues[0]
        issue, item = match.issue_id, classified.item
        previous = self.state.placed(issue, item.item_id)
        if previous is not None and previous.revision >= item.revision:
            return  # the same item again (a re-sent message): already placed
        d = self.decisions
        report = report_for(classified, match, d.detector, d.entities, d.idf)
        body = report.text.split("\n", 1)[1] if "\n" in report.text else ""
        fp = fingerprint(classified.canonical_title, body)
        keys = lsh_keys(fp)
        at = report.at.timestamp()
        self._latest_item_at = max(self._latest_item_at or at, at)
        if isinstance(self.clock, ItemClock):
            self.clock.advance(report.at)
        # An update of an item stays in its story; an exact copy (found by the classify step)
        # joins its original's; another item may be a near copy of one placed.
        copy = previous
        if copy is None and classified.duplicate_of is not None:
            copy = self.state.placed(issue, classified.duplicate_of)
        if copy is None:
            copy = self._near_copy(issue, item.item_id, fp, keys, at)
            # Counted once per item, under its primary issue (each issue sees the copy).
            if copy is not None and match is max(classified.issues,
                                                 key=lambda m: (m.score, m.issue_id)):
                self.ctx.metrics.duplicates.labels(kind="near").inc()
        copy_story = self._story(issue, copy.story_id) if copy is not None else None
        if copy is not None and previous is None:
            self._keep_fuller(issue, part, copy, report.text)
        window = self.ctx.settings.processors.stories.window_hours * 3600
        stories = self._stories(issue, since=at - window)
        placement = d.clusterer.place(report, stories, copy_of=copy_story, now=self.clock())
        self.state.save_story(placement.story, part)
        self._story_cache.setdefault(issue, ({}, at - window))[0][
            placement.story.story_id] = placement.story
        self.state.save_placed(issue, part, PlacedItem(
            item.item_id, item.revision, placement.story.story_id, fp.title_words,
            fp.to_bytes(), fp.body_words, report.text[:4000], at))
        self.state.index(issue, part, item.item_id, keys, at)
        for development in placement.developments:
            self._emit(part, development)

    def _stories(self, issue: str, since: float) -> list[Story]:
        """An issue's stories seen since ``since``, from memory once read from the state.

        Only this process writes the stories of the issues on its partitions, so the cache
        holds while they stay here; it is dropped when partitions change hands (and hourly).
        """
        cached = self._story_cache.get(issue)
        if cached is None:
            cached = ({s.story_id: s for s in self.state.stories(issue, since)}, since)
        elif since < cached[1]:  # an older item: read the stories the cache does not reach
            older = self.state.stories(issue, since, until=cached[1])
            cached = ({**{s.story_id: s for s in older}, **cached[0]}, since)
        self._story_cache[issue] = cached
        return [s for s in cached[0].values() if s.last_seen.timestamp() >= since]

    def _story(self, issue: str, story_id: str) -> Story | None:
        cached = self._story_cache.get(issue)
        if cached is not None and story_id in cached[0]:
            return cached[0][story_id]
        return self.state.story(issue, story_id)

    def _near_copy(self, issue: str, item_id: str, fp: Fingerprint, keys: list[str],
                   at: float) -> PlacedItem | None:
        """The earliest placed item this one nearly copies, if any."""
        nd = self.ctx.settings.processors.neardup
        if not nd.enabled:
            return None
        copies = []
        since = at - nd.retention_days * 86400
        for other in self.state.candidates(issue, keys, since, nd.max_candidates):
            other_fp = Fingerprint(other.title_words,
                                   Fingerprint.hashes_from_bytes(other.body_sig),
                                   other.body_words)
            if other.item_id != item_id and self.decisions.decider.compare(
                    fp, other_fp, abs(at - other.at) / 3600):
                copies.append(other)
        if not copies:
            return None
        first = min(copies, key=lambda p: p.at)
        return self.state.placed(issue, first.item_id)  # with its text

    def _keep_fuller(self, issue: str, part: int, original: PlacedItem, text: str) -> None:
        """The first copy stands, but keeps the fuller text when a later copy has more."""
        if len(text) > len(original.text):
            self.state.save_placed(issue, part, PlacedItem(
                original.item_id, original.revision, original.story_id, original.title_words,
                original.body_sig, original.body_words, text[:4000], original.at))

    def _emit(self, part: int, development: Development) -> None:
        if self.state.has_development(development.development_id):
            return
        self.state.save_development(development, part)
        self.queue(part, DEVELOPMENTS, development)
        self.ctx.metrics.developments.labels(
            issue=development.issue_id, severity=development.severity.name.lower()).inc()

    def prune(self) -> bool:
        if self._latest_item_at is None:
            return False
        p = self.ctx.settings.processors
        # Item-time retention runs on the stream's own clock (capped by the wall clock),
        # so that replaying old news does not forget it as it is read.
        horizon = min(time.time(), self._latest_item_at)
        self._story_cache.clear()
        self.state.prune_stories(index_before=horizon - p.neardup.retention_days * 86400,
                                 stories_before=horizon - p.stories.retention_days * 86400)
        return True


def build(ctx: StageContext) -> list[Stage]:
    """Both steps; the daemon runs each on its own thread."""
    return [ClassifyStage(ctx), StoriesStage(ctx)]


__all__ = ["ClassifyDecisions", "ClassifyStage", "StoriesStage", "StoryDecisions", "build"]
