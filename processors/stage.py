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

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
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
from processors import placing
from processors.actions import ActionDetector
from processors.baseline import BaselineMatcher, load_baseline
from processors.classify import IssueClassifier
from processors.dedup import Fingerprint, NearDupDecider, NearDupThresholds, fingerprint, lsh_keys
from processors.entities import NO_ENTITIES, Entities, load_entities
from processors.model import LearnedModel
from processors.pipeline import classified_item, copy_keys, fan_out, normalise, report_for
from processors.runner import OutboxStage
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
    return _shared_model(path.resolve())


# Both steps of a process (and a reload that finds the file unchanged) share one loaded model:
# it is tens of megabytes and never changed once loaded.
_models: dict[Path, tuple[tuple[int, int], LearnedModel]] = {}
_models_lock = threading.Lock()


def _shared_model(path: Path) -> LearnedModel:
    try:
        stat = path.stat()
    except OSError:
        return LearnedModel.load(path)  # its error names the file
    version = (stat.st_mtime_ns, stat.st_size)
    with _models_lock:
        cached = _models.get(path)
        if cached is None or cached[0] != version:
            cached = _models[path] = (version, LearnedModel.load(path))
        return cached[1]


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
                           novelty_threshold=p.stories.novelty_threshold,
                           turn_quiet=timedelta(hours=p.stories.turn_quiet_hours))
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
    # The exact keys are derived from the seen items: rebuilt, not logged. An item that had no
    # output (most news) is not logged either: on another host a re-sent copy of it is
    # classified again, to the same end, and the changelog stays a few percent of the stream.
    stores = (Store("seen", ("item_id",), logged="{row}.published = 1"),)

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
        published = bool(judgement.issues) or self.ctx.settings.processors.publish_unmatched
        if published:
            classified = classified_item(item, text, judgement, now=self.clock(),
                                         duplicate_of=duplicate_of)
            for message in fan_out(classified):
                self.queue(part, CLASSIFIED_ITEMS, message)
        self.state.mark_seen(item.item_id, part, item.revision, item.content_hash, keys,
                             published=published)
        self.state.claim_keys(keys, item.item_id, part)

    def rebuild(self, part: int) -> None:
        self.state.rebuild_exact_keys(part)

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

    def rolled_back(self) -> None:
        self._story_cache.clear()

    def rebuild(self, part: int) -> None:
        self.state.rebuild_index(part, lambda p: lsh_keys(Fingerprint(
            p.title_words, Fingerprint.hashes_from_bytes(p.body_sig), p.body_words)))

    def handle(self, env: Envelope[ClassifiedItem]) -> None:
        """Load what the item's placement depends on, decide (``processors.placing``, pure),
        apply the intents (inside the batch's transaction)."""
        item = self._item(env.event)
        if item is None:
            return
        at = item.at
        self._latest_item_at = max(self._latest_item_at or at, at)
        if isinstance(self.clock, ItemClock):
            self.clock.advance(item.report.at)
        loaded = self._load(item, env.event.duplicate_of)
        for intent in placing.decide(item, loaded, self.decisions.clusterer, self.clock()):
            self._apply(env.record.partition, item, intent)

    def _item(self, classified: ClassifiedItem) -> placing.Item | None:
        """The item as it concerns its first issue, with its fingerprint."""
        if not classified.issues:
            return None
        match, d = classified.issues[0], self.decisions
        report = report_for(classified, match, d.detector, d.entities, d.idf)
        body = report.text.split("\n", 1)[1] if "\n" in report.text else ""
        fp = fingerprint(classified.canonical_title, body)
        return placing.Item(
            issue=match.issue_id, item_id=classified.item.item_id,
            revision=classified.item.revision, report=report, fingerprint=fp,
            keys=tuple(lsh_keys(fp)), at=report.at.timestamp(),
            # Counted once per item, under its primary issue (each issue sees the copy).
            primary=match is max(classified.issues, key=lambda m: (m.score, m.issue_id)))

    def _load(self, item: placing.Item, duplicate_of: str | None) -> placing.Loaded:
        issue = item.issue
        previous = self.state.placed(issue, item.item_id)
        original = (self.state.placed(issue, duplicate_of)
                    if previous is None and duplicate_of is not None else None)
        near = None
        nd = self.ctx.settings.processors.neardup
        if previous is None and original is None and nd.enabled:
            candidates = self.state.candidates(issue, item.keys, item.at - nd.retention_days
                                               * 86400, nd.max_candidates)
            first = placing.near_copy(item, candidates, self.decisions.decider)
            near = self.state.placed(issue, first.item_id) if first is not None else None
        window = self.ctx.settings.processors.stories.window_hours * 3600
        loaded = placing.Loaded(previous, original, near, None,
                                tuple(self._stories(issue, since=item.at - window)))
        copy, _ = placing.copy_of(loaded)
        return replace(loaded, copy_story=self._story(issue, copy.story_id)
                       if copy is not None else None)

    def _apply(self, part: int, item: placing.Item, intent: placing.Intent) -> None:
        issue = item.issue
        if isinstance(intent, placing.SaveStory):
            story = intent.story
            self.state.save_story(story, part)
            window = self.ctx.settings.processors.stories.window_hours * 3600
            self._story_cache.setdefault(issue, ({}, item.at - window))[0][
                story.story_id] = story
        elif isinstance(intent, placing.SavePlaced):
            self.state.save_placed(issue, part, intent.item)
            self.state.index(issue, part, intent.item.item_id, intent.keys, intent.item.at)
        elif isinstance(intent, placing.KeepFuller):
            self.state.keep_fuller(issue, intent.item_id, intent.text)
        elif isinstance(intent, placing.Emit):
            self._emit(part, intent.development)
        else:
            self.ctx.metrics.duplicates.labels(kind="near").inc()

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
