"""The collectors stage on a real embedded bus: documents in, raw items out, once."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from collectors_testkit import make_context as context
from collectors_testkit import read_raw as raw_reader
from collectors_testkit import run_once, write_feed_list

from collectors.stage import CollectorStage, build
from collectors.state import CollectorState


def test_documents_published_once_and_edits_as_updates(
    tmp_path: Path, make_settings, bus_for
):
    docs, seeds = tmp_path / "docs", tmp_path / "seeds"
    docs.mkdir()
    seeds.mkdir()
    (docs / "talks.txt").write_text("Talks in Istanbul\nBoth delegations attended.\n", "utf-8")
    (docs / "memo.md").write_text("# Prisoner exchange\n\nA swap of 300 each.\n", "utf-8")
    (seeds / "state.txt").write_text("Known state\nThe baseline.\n", "utf-8")
    settings = make_settings(documents=[docs], baseline_documents=[seeds])
    events = bus_for(settings)

    [stage] = build(context(settings, events))
    assert isinstance(stage, CollectorStage)
    assert run_once(stage) == 3
    items = {i.title: i for i in raw_reader(events)}
    assert set(items) == {"Talks in Istanbul", "Prisoner exchange", "Known state"}
    assert items["Known state"].baseline and items["Known state"].source_kind == "seed"
    assert not items["Talks in Istanbul"].baseline
    assert all(i.revision == 0 for i in items.values())

    # A restart (new stage, same data_dir) publishes nothing.
    assert run_once(CollectorStage(context(settings, events))) == 0
    assert raw_reader(events) == []

    # An edit is published once, as an update; a re-save that changes no text is nothing.
    (docs / "talks.txt").write_text("Talks in Istanbul\nBoth delegations attended; no deal.\n",
                                    "utf-8")
    (docs / "memo.md").write_text("# Prisoner  exchange\n\nA swap of 300 each.\n\n", "utf-8")
    assert run_once(CollectorStage(context(settings, events))) == 1
    (update,) = raw_reader(events)
    assert update.item_id == items["Talks in Istanbul"].item_id
    assert update.revision == 1 and update.is_update
    assert "no deal" in update.content
    assert run_once(CollectorStage(context(settings, events))) == 0


def test_missing_folder_is_a_warning_not_a_crash(
    tmp_path: Path, make_settings, bus_for, caplog: pytest.LogCaptureFixture
):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Still ingested\nbody\n", "utf-8")
    settings = make_settings(documents=[tmp_path / "missing", docs])
    events = bus_for(settings)
    with caplog.at_level(logging.WARNING):
        assert run_once(CollectorStage(context(settings, events))) == 1
    assert "does not exist" in caplog.text
    assert [i.title for i in raw_reader(events)] == ["Still ingested"]


def test_shared_seed_documents_are_baseline_items(
    shared_dir: Path, make_settings, bus_for
):
    seeds = shared_dir / "seeds"
    settings = make_settings(documents=[seeds], baseline_documents=[seeds])
    events = bus_for(settings)
    expected = len(list(seeds.glob("*.txt")))
    assert run_once(CollectorStage(context(settings, events))) == expected
    items = raw_reader(events)
    assert len(items) == expected >= 2
    assert all(i.baseline and i.source_kind == "seed" and i.title and i.content for i in items)
    assert run_once(CollectorStage(context(settings, events))) == 0


def test_a_collector_that_polls_no_feeds_is_built_without_them(
    tmp_path: Path, make_settings, bus_for, feed_server
):
    """Built whole when constructed: with ``poll_feeds = false`` there is nothing of feed
    polling (no feeds topic reader, no group membership, no scheduler), and the feed lists are
    neither published nor polled; documents are."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Talks resume\nbody\n", "utf-8")
    feeds = write_feed_list(tmp_path / "f.toml", {"n": feed_server.url("/n")})
    settings = make_settings(documents=[docs], feed_lists=[feeds], poll_feeds=False)
    events = bus_for(settings)
    stage = CollectorStage(context(settings, events))
    assert stage.feeds is None
    assert run_once(stage) == 1
    assert [i.title for i in raw_reader(events)] == ["Talks resume"]
    assert feed_server.seen == []
    state = CollectorState(settings.path(settings.collectors.state_path),
                           settings.bus.partitions)
    try:
        assert state.announced() == {}
    finally:
        state.close()


def test_a_collector_that_polls_feeds_has_them_before_it_starts(
    make_settings, bus_for
):
    settings = make_settings()
    stage = CollectorStage(context(settings, bus_for(settings)))
    try:
        assert stage.feeds is not None
        assert not stage.feeds.loop.is_closed()
        assert stage.feeds.ownership.partitions == set()  # the group is joined by start()
    finally:
        stage.stop()
        stage.stop()  # twice: nothing more happens
    assert stage.feeds.loop.is_closed()
