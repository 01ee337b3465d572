"""Interoperability with an independent Kafka client: kcat (librdkafka)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from peacewatch.bus.events import EventBus
from peacewatch.bus.kafka import KafkaBus
from peacewatch.models import DEAD_LETTERS, RAW_ITEMS, RawItem, utcnow
from peacewatch.settings.bus import KafkaSettings

pytestmark = pytest.mark.kafka


@pytest.fixture
def kcat() -> str:
    path = shutil.which("kcat")
    if path is None:
        pytest.fail("kcat is not installed: `make test` installs it (Debian package kcat)")
    return path


@pytest.fixture
def events(kafka_bootstrap: str, unique: str) -> EventBus:
    bus = KafkaBus(KafkaSettings(bootstrap_servers=[kafka_bootstrap], session_timeout_s=6))
    events = EventBus(bus, prefix=f"kcat-{unique}", partitions=2, replication_factor=1)
    events.ensure_topics()
    return events


def test_kcat_reads_what_peacewatch_publishes(
    kcat: str, kafka_bootstrap: str, events: EventBus
) -> None:
    item = RawItem(item_id="kcat-1", source="t", title="Талкс у Стамбулі — talks in Istanbul",
                   fetched_at=utcnow(), content_hash="h")
    publisher = events.publisher()
    publisher.publish(RAW_ITEMS, item)
    publisher.flush()
    publisher.close()

    out = subprocess.run(
        [kcat, "-b", kafka_bootstrap, "-C", "-t", events.topic(RAW_ITEMS), "-o", "beginning",
         "-e", "-q", "-f", "%k\t%s\n"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    key, value = out.strip().split("\t", 1)
    assert key == "kcat-1"
    assert RawItem.model_validate_json(value) == item


def test_peacewatch_consumes_what_kcat_publishes_and_dead_letters_the_invalid(
    kcat: str, kafka_bootstrap: str, events: EventBus, unique: str
) -> None:
    valid = RawItem(item_id="from-kcat", source="kcat", title="t", fetched_at=utcnow(),
                    content_hash="h").model_dump_json()
    lines = f"from-kcat|{valid}\nbroken|{{\"title\": \"no id\"}}\n"
    subprocess.run(
        [kcat, "-b", kafka_bootstrap, "-P", "-t", events.topic(RAW_ITEMS), "-K", "|"],
        input=lines, text=True, timeout=60, check=True,
    )
    consumer = events.consumer(f"g-{unique}", [RAW_ITEMS])
    got = []
    for _ in range(60):
        got += [e.event for e in consumer.poll(0.5)]
        consumer.commit()
        if got:
            break
    consumer.close()
    assert [i.item_id for i in got] == ["from-kcat"]

    dead = subprocess.run(
        [kcat, "-b", kafka_bootstrap, "-C", "-t", events.topic(DEAD_LETTERS), "-o", "beginning",
         "-e", "-q"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.strip().splitlines()
    assert len(dead) == 1
    letter = json.loads(dead[0])
    assert letter["origin_topic"] == events.topic(RAW_ITEMS)
    assert letter["key"] == "broken"
    assert "item_id" in letter["error"]
