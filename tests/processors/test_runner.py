"""The processors' shared step (processors/runner.py) through faults: a step that fails leaves
its records to be handled again, and an output the bus refuses never blocks the others."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType
from proc_testkit import Reader, bootstrap_for, context, make_settings, publish, raw_item

from peacewatch.bus.events import Envelope
from peacewatch.errors import PeacewatchError, ProcessorError
from peacewatch.models import CLASSIFIED_ITEMS, DEAD_LETTERS, RAW_ITEMS, RawItem
from peacewatch.stage import StageContext
from processors.stage import ClassifyStage
from processors.state import ProcessorState

pytestmark = pytest.mark.timeout(180)

HEADLINES = [
    "Russia and Ukraine agree a 30-day halt to strikes on energy infrastructure",
    "US and Russian delegations hold talks in Riyadh on ending the war in Ukraine",
    "EU adopts new package of sanctions on Russia targeting shadow fleet tankers",
    "Ukraine and Russia swap 150 prisoners of war in UAE-mediated exchange",
    "Zelensky rules out recognising Crimea as Russian territory",
    "Pentagon announces new military aid package for Ukraine with air defence missiles",
]


def items() -> list[RawItem]:
    return [raw_item(f"it-{i}", title, f"{title}, officials said.")
            for i, title in enumerate(HEADLINES)]


def step_like_the_daemon(stage: ClassifyStage, done: Any, timeout_s: float = 60) -> int:
    """Step until ``done()``; a failed step is retried, as the daemon retries it. Returns how
    many steps failed."""
    failed = 0
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, f"not done after {timeout_s:.0f}s"
        try:
            stage.step(0.2)
        except PeacewatchError:
            failed += 1
    return failed


def seen(ctx: StageContext, item_ids: list[str]) -> set[str]:
    settings = ctx.settings
    state = ProcessorState(settings.path(settings.processors.state_path))
    try:
        return {i for i in item_ids if state.seen(i) is not None}
    finally:
        state.close()


def test_a_failed_step_leaves_its_records_to_be_handled_again(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, unique: str
) -> None:
    """A state write that fails (a full disk) fails the step; its records are read again and
    none is skipped by the next batch's commit."""
    settings = make_settings(tmp_path, backend=backend, unique=unique, partitions=1,
                             bootstrap=bootstrap_for(backend, request), batch_size=2)
    ctx = context(settings)
    publish(ctx.events, RAW_ITEMS, items())
    stage = ClassifyStage(ctx)
    handle, failures = stage.handle, []

    def handle_on_a_full_disk(env: Envelope[Any]) -> None:
        if env.event.item_id == "it-2" and not failures:
            failures.append(env.record.offset)
            raise ProcessorError("processor state: database or disk is full")
        handle(env)

    stage.handle = handle_on_a_full_disk  # type: ignore[method-assign]
    stage.start()
    ids = [i.item_id for i in items()]
    try:
        failed = step_like_the_daemon(
            stage, lambda: stage.lag() and not any(stage.lag().values()))
    finally:
        stage.stop()
        ctx.events.close()
    assert failures and failed == 1
    assert seen(ctx, ids) == set(ids), "records of the failed step were skipped"


def allow_large_messages(bootstrap: str, topic: str, max_bytes: int) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                        configs={"max.message.bytes": str(max_bytes)})])
    admin.close()


@pytest.mark.kafka
def test_an_output_too_large_for_the_bus_is_dead_lettered_and_the_rest_go_on(
    kafka_bootstrap: str, tmp_path: Path, unique: str
) -> None:
    """A valid 5 MB item on the raw topic (its limit raised by someone) makes a classified
    message the producer refuses: it is dead-lettered with the reason, the later items are
    published, and no row stays stuck in the outbox."""
    settings = make_settings(tmp_path, backend="kafka", bootstrap=kafka_bootstrap,
                             unique=unique, partitions=1)
    ctx = context(settings)
    raw_topic = ctx.events.topic(RAW_ITEMS)
    allow_large_messages(kafka_bootstrap, raw_topic, 8 * 1024 * 1024)
    big = raw_item("big", HEADLINES[0], content="Negotiators met again. " * 230_000)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, max_request_size=8 * 1024 * 1024)
    producer.send(raw_topic, key=b"big", value=big.model_dump_json().encode()).get(timeout=60)
    producer.close()
    publish(ctx.events, RAW_ITEMS, items()[1:4])

    classified = Reader(ctx.events, CLASSIFIED_ITEMS, f"read-c-{unique}")
    letters = Reader(ctx.events, DEAD_LETTERS, f"read-d-{unique}")
    stage = ClassifyStage(ctx)
    stage.start()
    later = {"it-1", "it-2", "it-3"}
    try:
        step_like_the_daemon(
            stage, lambda: later <= {c.item.item_id for c in classified.read()}, 90)
        [letter] = letters.until(lambda got: len(got) >= 1, 30)
        assert stage.ledger.outbox() == [], "a refused row stayed in the outbox"
    finally:
        stage.stop()
        classified.close()
        letters.close()
        ctx.events.close()
    assert "big" not in {c.item.item_id for c in classified.events}
    assert letter.origin_topic == ctx.events.topic(CLASSIFIED_ITEMS)
    assert "too large" in letter.error.lower() or "MessageSizeTooLarge" in letter.error
    assert letter.payload_bytes is not None and letter.payload_bytes > 5_000_000
    assert len(letter.model_dump_json()) < 16 * 1024
