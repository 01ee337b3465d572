"""Where items meet the bus: an item too large for it is cut to the limit and marked as cut."""

from __future__ import annotations

from pathlib import Path

import pytest
from collectors_testkit import make_context, read_raw, run_once

from collectors.stage import CollectorStage
from peacewatch.bus import open_bus
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
