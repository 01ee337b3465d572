"""Where items meet the bus: an item too large for it is cut to the limit and marked as cut;
a publish the bus cannot take waits, and goes out once when it can."""

from __future__ import annotations

from pathlib import Path

import pytest
from collectors_testkit import make_context, read_raw, run_once

from collectors.sink import ItemSink
from collectors.stage import CollectorStage
from collectors.state import CollectorState
from peacewatch.bus import open_bus
from peacewatch.errors import BusUnavailable
from peacewatch.models import RawItem, utcnow
from peacewatch.settings import load_settings

FIVE_MB = 5 * 1024 * 1024


@pytest.mark.kafka
def test_a_document_too_large_for_the_bus_is_cut_to_the_limit_and_marked(
    kafka_bootstrap: str, tmp_path: Path, unique: str
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    body = "Delegations met in Istanbul and agreed to meet again next week. " * (FIVE_MB // 64)
    text = f"Talks in Istanbul: the transcript\n{body}"
    (docs / "transcript.txt").write_text(text, "utf-8")
    settings = load_settings(
        None, data_dir=tmp_path / "data", metrics={"enabled": False},
        bus={"topic_prefix": f"sink-{unique}", "partitions": 1,
             "kafka": {"bootstrap_servers": [kafka_bootstrap], "connect_timeout_s": 10}},
        collectors={"documents": [docs], "baseline_documents": [], "feed_lists": [],
                    "max_document_bytes": 2 * FIVE_MB})
    events = open_bus(settings)
    try:
        assert run_once(CollectorStage(make_context(settings, events))) == 1
        [item] = read_raw(events)
    finally:
        events.close()
    assert item.truncated
    assert item.title == "Talks in Istanbul: the transcript"
    assert len(item.model_dump_json().encode()) <= settings.collectors.max_item_bytes
    assert len(item.content) > 400_000 and text.startswith(item.content)


def item(i: int) -> RawItem:
    return RawItem(item_id=f"item-{i}", source="wire", title=f"Talks, day {i}",
                   fetched_at=utcnow(), content_hash=f"h{i}")


def test_a_publish_the_bus_cannot_take_is_delivered_once_when_it_can(tmp_path: Path) -> None:
    """The embedded bus's disk is full (SQLite's page limit stands for it): the items wait in
    the sink, and once there is room they are published once each and recorded."""
    settings = load_settings(None, data_dir=tmp_path / "data", metrics={"enabled": False},
                             bus={"partitions": 1})
    events = open_bus(settings)
    state = CollectorState(tmp_path / "collectors.sqlite3", 1)
    publisher = events.publisher()
    sink = ItemSink(state, publisher)
    bus_file = publisher.producer._db  # type: ignore[attr-defined]
    pages = bus_file.execute("PRAGMA page_count").fetchone()[0]
    bus_file.execute(f"PRAGMA max_page_count = {pages}")
    try:
        with pytest.raises(BusUnavailable, match="full"):
            sink.publish([item(i) for i in range(200)])
        assert state.published_count() == 0
        with pytest.raises(BusUnavailable):
            sink.retry()  # still full
        bus_file.execute("PRAGMA max_page_count = 1000000")  # space freed
        sink.retry()
        assert state.published_count() == 200
        assert sink.publish([item(i) for i in range(200)]).known == 200
        published = [i.item_id for i in read_raw(events)]
    finally:
        publisher.close()
        state.close()
        events.close()
    assert sorted(published) == sorted(f"item-{i}" for i in range(200))
