"""Helpers of the processors' tests: items written for the tests, settings, bus readers.

The item texts below were written for these tests (they paraphrase no news article); they
follow the style of wire headlines so that the classifier, deduplicator and story clusterer
see realistic input.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from peacewatch.bus import open_bus
from peacewatch.bus.events import EventBus
from peacewatch.identity import canonical_url, content_hash
from peacewatch.metrics import Metrics
from peacewatch.models import (
    CLASSIFIED_ITEMS,
    DEVELOPMENTS,
    RAW_ITEMS,
    Event,
    RawItem,
    TopicSpec,
)
from peacewatch.settings import Settings, load_settings
from peacewatch.stage import StageContext
from processors.stage import ClassifyStage, StoriesStage

REPO = Path(__file__).resolve().parents[2]
E = TypeVar("E", bound=Event)
T0 = datetime(2025, 4, 1, 8, 0, tzinfo=UTC)


def raw_item(item_id: str, title: str, summary: str = "", *, source: str = "wire",
             url: str | None = None, at: datetime = T0, revision: int = 0,
             baseline: bool = False, content: str = "") -> RawItem:
    link = url or f"https://{source}.example/{item_id}"
    return RawItem(
        item_id=item_id, source=source, url=link, canonical_url=canonical_url(link),
        title=title, summary=summary, content=content, published_at=at, fetched_at=at,
        content_hash=content_hash(title, summary, content), revision=revision,
        baseline=baseline, source_kind="seed" if baseline else "feed",
    )


def make_settings(tmp_path: Path, *, backend: str = "embedded", bootstrap: str = "",
                  unique: str = "t", partitions: int = 3, **processors: Any) -> Settings:
    bus: dict[str, Any] = {"topic_prefix": f"pw-{unique}", "partitions": partitions,
                           "embedded": {"member_timeout_s": 2.0}}
    if backend == "kafka":
        bus["kafka"] = {"bootstrap_servers": [bootstrap], "session_timeout_s": 6.0,
                        "connect_timeout_s": 15.0}
    section: dict[str, Any] = {"group": f"proc-{unique}", "stories_group": f"stories-{unique}"}
    section.update(processors)
    return load_settings(None, data_dir=tmp_path / "data", bus=bus, processors=section,
                         metrics={"enabled": False})


def context(settings: Settings) -> StageContext:
    return StageContext(settings=settings, events=open_bus(settings), metrics=Metrics())


def publish(events: EventBus, spec: TopicSpec[E], items: list[E]) -> None:
    publisher = events.publisher()
    for item in items:
        publisher.publish(spec, item)
    publisher.flush()
    publisher.close()


class Processors:
    """Both processor steps, driven in turn on the test's thread (as burst mode drives them)."""

    def __init__(self, ctx: StageContext) -> None:
        self.classify = ClassifyStage(ctx)
        self.stories = StoriesStage(ctx)
        self.stages = (self.classify, self.stories)

    def start(self) -> None:
        for stage in self.stages:
            stage.start()

    def step(self, timeout_s: float) -> int:
        return sum(stage.step(timeout_s) for stage in self.stages)

    def stop(self) -> None:
        for stage in self.stages:
            stage.stop()

    def lag(self) -> dict[tuple[str, int], int]:
        return {**self.classify.lag(), **self.stories.lag()}


def run_until(stage: Processors, done: Callable[[], bool], timeout_s: float = 60.0,
              step_s: float = 0.2) -> None:
    """Step the stage until ``done()`` (checked after idle steps) or fail after the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if stage.step(step_s) == 0 and done():
            return
    raise AssertionError(f"stage did not finish within {timeout_s}s")


def run_to_the_end(ctx: StageContext) -> None:
    """Start the processors, step them until nothing of their input is left, stop them."""
    stage = Processors(ctx)
    stage.start()
    try:
        run_until(stage, lambda: bool(stage.lag()) and not any(stage.lag().values()))
    finally:
        stage.stop()


class Reader:
    """Reads a topic as its own consumer group, accumulating everything seen so far."""

    def __init__(self, events: EventBus, spec: TopicSpec[E], group: str) -> None:
        self.consumer = events.consumer(group, [spec])
        self.events: list[Any] = []

    def read(self, idle_s: float = 0.2) -> list[Any]:
        while True:
            batch = self.consumer.poll(idle_s, 500)
            self.consumer.commit()
            if not batch:
                return self.events
            self.events += [env.event for env in batch]

    def until(self, done: Callable[[list[Any]], bool], timeout_s: float = 60.0) -> list[Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.read()
            if done(self.events):
                return self.events
        raise AssertionError(f"expected events did not arrive within {timeout_s}s "
                             f"({len(self.events)} read)")

    def close(self) -> None:
        self.consumer.close()


@dataclass(frozen=True)
class Reference:
    """What an uninterrupted run (embedded bus, one partition) outputs."""

    development_ids: list[str]
    classified_ids: set[str]  # items published to the classified topic


def reference_run(items: list[RawItem], tmp_path: Path) -> Reference:
    settings = make_settings(tmp_path / "reference", unique="ref", partitions=1)
    ctx = context(settings)
    publish(ctx.events, RAW_ITEMS, items)
    developments = Reader(ctx.events, DEVELOPMENTS, "read-ref")
    classified = Reader(ctx.events, CLASSIFIED_ITEMS, "read-ref-c")
    stage = Processors(ctx)
    stage.start()
    try:
        run_until(stage, lambda: True)
    finally:
        stage.stop()
    reference = Reference([d.development_id for d in developments.read()],
                          {c.item.item_id for c in classified.read()})
    developments.close()
    classified.close()
    ctx.events.close()
    return reference


# --- synthetic but realistic items -------------------------------------------------------------

_TEMPLATES = (
    ("US and Russian delegations hold talks in {city} on ending the war in Ukraine",
     "Envoys met for a {n}-hour session; a Kremlin aide said the talks were useful."),
    ("Kyiv and Moscow agree {n}-day pause in strikes on energy infrastructure",
     "The partial ceasefire covers power plants and substations, officials said."),
    ("Zelensky rules out recognising Crimea as Russian territory",
     "The Ukrainian president said Kyiv would never cede the peninsula."),
    ("EU adopts {n}th package of sanctions on Russia targeting shadow fleet tankers",
     "The measures add {n} vessels to the list and tighten the oil price cap."),
    ("Russian forces capture village near {city}, defence ministry claims",
     "Ukraine's general staff said fighting continued on the outskirts of the town."),
    ("Coalition of the willing discusses reassurance force for Ukraine after a ceasefire",
     "Defence chiefs met in {city} to plan a multinational force and a US backstop."),
    ("Ukraine and Russia swap {n} prisoners of war in UAE-mediated exchange",
     "Families waited at the border as the freed servicemen returned home."),
    ("Drone attack hits grain ship in Black Sea port of {city}",
     "The vessel was damaged while loading wheat; navigation in the corridor continued."),
    ("Pentagon announces ${n}m military aid package for Ukraine with air defence missiles",
     "The package includes Patriot interceptors and artillery shells, officials said."),
    ("US and Ukraine edge closer to minerals deal on rare earths fund",
     "Negotiators discussed the reconstruction investment fund and revenue sharing."),
    ("NATO chief says Ukraine's path to membership remains open",
     "Allies are divided over Kyiv's bid to join the alliance as part of any deal."),
    ("Iran sanctions tightened as Gaza ceasefire talks resume in Cairo",
     "Washington added Iranian oil traders to its blacklist; mediators met Hamas officials."),
    ("Markets rally as central bank holds interest rates steady",
     "Shares rose in London and Frankfurt after the decision."),
)
_CITIES = ("Riyadh", "Istanbul", "Geneva", "Odesa", "Kharkiv", "Pokrovsk", "London", "Paris",
           "Mykolaiv", "Zaporizhzhia", "Abu Dhabi", "Jeddah")


def synthetic_items(count: int, seed: int = 7, prefix: str = "syn") -> list[RawItem]:
    """``count`` items over a few days, on every issue and off topic, with some copies."""
    rng = random.Random(seed)
    items: list[RawItem] = []
    for i in range(count):
        if items and rng.random() < 0.12:  # a retitled copy from another outlet, soon after
            original = rng.choice(items[-20:])
            title = "Live: " + original.title.replace(" and ", " & ", 1)
            items.append(raw_item(f"{prefix}-{i}", title, original.summary,
                                  source=f"outlet{rng.randrange(5)}",
                                  at=(original.published_at or T0) + timedelta(minutes=30)))
            continue
        title, summary = rng.choice(_TEMPLATES)
        values = {"city": rng.choice(_CITIES), "n": rng.randrange(2, 40)}
        items.append(raw_item(
            f"{prefix}-{i}", title.format(**values), summary.format(**values),
            source=f"outlet{rng.randrange(5)}",
            at=T0 + timedelta(hours=i * 72 / max(count, 1))))
    return items


WATCHLIST = REPO / "seeds" / "watchlist.toml"
BASELINE = REPO / "seeds" / "baseline.toml"


def bootstrap_for(backend: str, request: pytest.FixtureRequest) -> str:
    """The Kafka bootstrap address for the kafka backend (the session's real broker)."""
    if backend != "kafka":
        return ""
    return str(request.getfixturevalue("kafka_bootstrap"))
