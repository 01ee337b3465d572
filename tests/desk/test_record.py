"""The record stage: the topics projected into the record by its own consumer group, on SQLite
and PostgreSQL; `peacewatch record rebuild` rebuilds it from what the topics retain."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from desk_kit import sample_batch
from prometheus_client import CollectorRegistry

from desk.record import RecordStage, rebuild
from desk.stage import build
from desk.store.open import open_record
from peacewatch.bus import open_bus
from peacewatch.bus.events import EventBus
from peacewatch.cli import main
from peacewatch.daemon import Daemon
from peacewatch.metrics import Metrics
from peacewatch.models import CLASSIFIED_ITEMS, DELIVERIES, DEVELOPMENTS, RAW_ITEMS
from peacewatch.settings import Settings, load_settings
from peacewatch.stage import StageContext


@pytest.fixture
def settings(record_backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    record: dict[str, Any] = {}
    if record_backend == "postgresql":
        record["postgres_dsn"] = request.getfixturevalue("postgres_dsn")
    return load_settings(None, data_dir=tmp_path, bus={"partitions": 2},
                         desk={"record": record, "port": 0})


@pytest.fixture
def events(settings: Settings) -> Iterator[EventBus]:
    bus = open_bus(settings)
    yield bus
    bus.close()


def publish_sample(events: EventBus) -> None:
    batch = sample_batch()
    publisher = events.publisher()
    for item in batch.raw:
        publisher.publish(RAW_ITEMS, item)
    for classified in batch.classified:
        publisher.publish(CLASSIFIED_ITEMS, classified)
    for development in batch.developments:
        publisher.publish(DEVELOPMENTS, development)
    for record in batch.deliveries:
        publisher.publish(DELIVERIES, record)
    publisher.flush()
    publisher.close()


def test_the_stage_projects_every_recorded_topic(settings: Settings, events: EventBus) -> None:
    publish_sample(events)
    metrics = Metrics(CollectorRegistry())
    ctx = StageContext(settings=settings, events=events, metrics=metrics, burst=True)
    stages = build(ctx)
    assert [type(s) for s in stages] == [RecordStage]  # no server in burst mode
    handled = Daemon(stages, grace_period_s=5).run_once()
    assert handled == 5 + 5 + 4 + 1
    store = open_record(settings)
    try:
        assert store.counts("black-sea")[:2] == (3, 3)
        assert store.deliveries_of(["dev-3"])["dev-3"][0][2] == "sent"
    finally:
        store.close()
    assert metrics.registry.get_sample_value(
        "peacewatch_record_messages_total", {"topic": "peacewatch.developments"}) == 4
    # Nothing left for the group: a second burst handles nothing.
    assert Daemon(build(ctx), grace_period_s=5).run_once() == 0


def test_rebuild_reads_the_topics_again_and_keeps_feedback(settings: Settings,
                                                           events: EventBus) -> None:
    publish_sample(events)
    store = open_record(settings)
    try:
        store.reset_projection()
        assert store.counts("black-sea") == (0, 0, None)
        # Feedback given on a development the record once had is kept by a rebuild.
        written = rebuild(settings, events, Metrics(CollectorRegistry()), timeout_s=60)
        assert written == 15
        dev = store.development("dev-2")
        assert dev is not None
        store.add_feedback(dev, "useful", "", "api")
        assert rebuild(settings, events, Metrics(CollectorRegistry()), timeout_s=60) == 15
        assert store.counts("black-sea")[:2] == (3, 3)
        assert store.precision_by_issue() == {"black-sea": (1, 1)}
    finally:
        store.close()


def test_the_commands_rebuild_and_migrate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PEACEWATCH_DATA_DIR", str(tmp_path))
    settings = load_settings(None)
    events = open_bus(settings)
    publish_sample(events)
    events.close()
    assert main(["record", "migrate"]) == 0
    assert "schema version 4 (applied now: [1, 2, 3, 4])" in capsys.readouterr().out
    assert main(["record", "rebuild"]) == 0
    assert "record rebuilt: 15 message(s) written" in capsys.readouterr().out
    assert main(["record", "migrate"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("schema version 4")



@pytest.mark.kafka
def test_the_stage_and_rebuild_on_kafka(kafka_bootstrap: str, unique: str,
                                        tmp_path: Path) -> None:
    settings = load_settings(None, data_dir=tmp_path, bus={
        "partitions": 2, "topic_prefix": f"record-{unique}",
        "kafka": {"bootstrap_servers": [kafka_bootstrap], "session_timeout_s": 6}},
        desk={"port": 0})
    events = open_bus(settings)
    try:
        publish_sample(events)
        ctx = StageContext(settings=settings, events=events,
                           metrics=Metrics(CollectorRegistry()), burst=True)
        assert Daemon(build(ctx), grace_period_s=10).run_once(settle_s=6) == 15
        store = open_record(settings)
        try:
            assert store.counts("black-sea")[:2] == (3, 3)
            store.reset_projection()
            assert rebuild(settings, events, Metrics(CollectorRegistry()), timeout_s=60) == 15
            assert store.deliveries_of(["dev-3"])["dev-3"][0][2] == "sent"
        finally:
            store.close()
    finally:
        events.close()


def test_the_stage_forgets_what_is_past_retention(tmp_path: Path) -> None:
    settings = load_settings(None, data_dir=tmp_path, bus={"partitions": 2},
                             desk={"record": {"retention_days": 2}})
    events = open_bus(settings)
    try:
        publish_sample(events)  # items over five days; the newest on day 4
        ctx = StageContext(settings=settings, events=events,
                           metrics=Metrics(CollectorRegistry()), burst=True)
        Daemon(build(ctx), grace_period_s=5).run_once()
    finally:
        events.close()
    store = open_record(settings)
    try:
        kept = [r[1] for r in store.items_by_id(
            [f"item-{n}" for n in range(1, 6)]).values()]
        assert sorted(kept) == ["item-3", "item-4", "item-5"]
        assert store.development("dev-1") is None and store.development("dev-4") is not None
    finally:
        store.close()
