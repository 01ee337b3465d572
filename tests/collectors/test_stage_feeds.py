"""The collectors stage polling feeds from a real local server onto a real embedded bus."""

from __future__ import annotations

import time
from pathlib import Path

from collectors_testkit import (
    FeedServer,
    Route,
    health_of,
    make_context,
    make_due,
    read_raw,
    rss,
    run_once,
    split_and_poll,
    write_feed_list,
)

from collectors.stage import CollectorStage
from peacewatch.models import FEEDS

ITEMS = [
    {"title": "Ceasefire talks resume", "guid": "g1", "link": "https://news.test/a?utm_source=rss",
     "description": "<p>Delegations meet in <b>Riyadh</b>.</p>",
     "pubDate": "Tue, 01 Apr 2025 10:00:00 GMT"},
    {"title": "Energy truce", "link": "https://news.test/b",
     "description": "A 30-day pause on strikes.", "pubDate": "Tue, 01 Apr 2025 08:00:00 GMT"},
    {"title": "Prisoner swap", "description": "Hundreds exchanged.",
     "pubDate": "Mon, 31 Mar 2025 20:00:00 GMT"},
]


def collect(settings, events) -> int:
    return run_once(CollectorStage(make_context(settings, events)))


def test_feed_items_published_once_across_restarts_and_edits_once_as_updates(
    tmp_path: Path, feed_server: FeedServer, make_settings, bus_for
):
    feed_server.routes["/news.xml"] = Route(body=rss(ITEMS))
    settings = make_settings(
        feed_lists=[write_feed_list(tmp_path / "f.toml", {"news": feed_server.url("/news.xml")})])
    events = bus_for(settings)

    assert collect(settings, events) == 1 + 3  # one feed polled, three items
    items = {i.title: i for i in read_raw(events)}
    assert set(items) == {"Ceasefire talks resume", "Energy truce", "Prisoner swap"}
    first = items["Ceasefire talks resume"]
    assert first.guid == "g1" and first.url == "https://news.test/a"  # tracking stripped
    assert first.summary == "Delegations meet in Riyadh."
    assert first.source == "news" and first.source_kind == "feed" and first.revision == 0
    assert first.published_at is not None and first.published_at.year == 2025
    assert first.feed_url == feed_server.url("/news.xml")

    # A restart that polls again (no validators: the server sends 200) publishes nothing.
    make_due(settings, events)
    assert collect(settings, events) == 1
    assert read_raw(events) == []
    assert len(feed_server.requests_to("/news.xml")) == 2

    # One item edited, one added: exactly those two go out, the edit as revision 1.
    edited = [dict(ITEMS[0], description="<p>Delegations meet in Riyadh; no deal.</p>"),
              *ITEMS[1:], {"title": "Black Sea deal", "guid": "g4"}]
    feed_server.routes["/news.xml"] = Route(body=rss(edited))
    make_due(settings, events)
    assert collect(settings, events) == 1 + 2
    out = {i.title: i for i in read_raw(events)}
    assert set(out) == {"Ceasefire talks resume", "Black Sea deal"}
    assert out["Ceasefire talks resume"].is_update
    assert out["Ceasefire talks resume"].revision == 1
    assert out["Ceasefire talks resume"].item_id == first.item_id
    assert out["Black Sea deal"].revision == 0

    make_due(settings, events)
    assert collect(settings, events) == 1
    assert read_raw(events) == []


def test_304_costs_no_parse_and_health_is_kept(
    tmp_path: Path, feed_server: FeedServer, make_settings, bus_for
):
    feed_server.routes["/n"] = Route(body=rss(ITEMS), etag='"abc"')
    settings = make_settings(
        feed_lists=[write_feed_list(tmp_path / "f.toml", {"n": feed_server.url("/n")})])
    events = bus_for(settings)
    collect(settings, events)
    health = health_of(settings)["n"]
    assert health.etag == '"abc"' and health.last_status == "200" and health.failures == 0
    assert health.next_poll_at > time.time() + 200  # the policy's minimum interval, jittered
    make_due(settings, events)
    stage = CollectorStage(make_context(settings, events))
    assert run_once(stage) == 1
    assert feed_server.requests_to("/n")[-1].headers["if-none-match"] == '"abc"'
    assert stage.ctx.metrics.feed_polls.labels(outcome="304")._value.get() == 1
    assert health_of(settings)["n"].last_status == "304"
    assert len(read_raw(events)) == 3


def test_failures_back_off_retry_after_wins_410_disables_for_good(
    tmp_path: Path, feed_server: FeedServer, make_settings, bus_for
):
    feed_server.routes["/err"] = Route(500)
    feed_server.routes["/busy"] = Route(429, headers={"Retry-After": "7200"})
    feed_server.routes["/gone"] = Route(410)
    settings = make_settings(feed_lists=[write_feed_list(tmp_path / "f.toml", {
        "err": feed_server.url("/err"), "busy": feed_server.url("/busy"),
        "gone": feed_server.url("/gone")})], schedule={"backoff_base_s": 60})
    events = bus_for(settings)
    collect(settings, events)
    now = time.time()
    h = health_of(settings)
    assert h["err"].failures == 1
    assert h["err"].last_error == f"HTTP 500 from {feed_server.url('/err')}"
    assert now + 30 < h["err"].next_poll_at < now + 90
    assert h["busy"].next_poll_at >= now + 7100
    assert h["gone"].disabled and "410" in h["gone"].disabled

    # Health survives a restart: the failure count goes on, the gone feed is never asked again.
    make_due(settings, events)
    collect(settings, events)
    h = health_of(settings)
    assert h["err"].failures == 2
    assert h["err"].next_poll_at > time.time() + 60  # doubled
    assert len(feed_server.requests_to("/gone")) == 1
    assert len(feed_server.requests_to("/err")) == 2


def test_permanent_redirect_moves_the_stored_url(
    tmp_path: Path, feed_server: FeedServer, make_settings, bus_for
):
    feed_server.routes["/old"] = Route(301, headers={"Location": "/new"})
    feed_server.routes["/new"] = Route(body=rss(ITEMS[:1]))
    settings = make_settings(
        feed_lists=[write_feed_list(tmp_path / "f.toml", {"m": feed_server.url("/old")})])
    events = bus_for(settings)
    collect(settings, events)
    assert health_of(settings)["m"].url == feed_server.url("/new")
    make_due(settings, events)
    collect(settings, events)
    assert len(feed_server.requests_to("/old")) == 1
    assert len(feed_server.requests_to("/new")) == 2
    assert len(read_raw(events)) == 1


def test_feed_list_edits_reach_the_feeds_topic(
    tmp_path: Path, feed_server: FeedServer, make_settings, bus_for
):
    feed_server.routes["/a"] = Route(body=rss(ITEMS[:1]))
    feed_server.routes["/b"] = Route(body=rss(ITEMS[1:2]))
    path = tmp_path / "f.toml"
    settings = make_settings(feed_lists=[write_feed_list(
        path, {"a": feed_server.url("/a"), "b": feed_server.url("/b")})])
    events = bus_for(settings)
    collect(settings, events)
    assert collect(settings, events) == 0  # nothing due, nothing re-announced

    write_feed_list(path, {"a": feed_server.url("/a")})  # b removed
    make_due(settings, events)
    collect(settings, events)
    assert len(feed_server.requests_to("/b")) == 1 and len(feed_server.requests_to("/a")) == 2
    reader = events.consumer("feeds-reader", [FEEDS])
    specs = [e.event for e in reader.poll(0.5, 100)]
    reader.close()
    # Per feed in order (one key, one partition): b announced, then b disabled.
    assert sorted((s.feed_id, s.enabled) for s in specs) == [
        ("a", True), ("b", False), ("b", True)]
    assert [s.enabled for s in specs if s.feed_id == "b"] == [True, False]


def test_two_collectors_split_the_feeds_and_poll_each_once(
    tmp_path: Path, feed_server: FeedServer, make_settings, bus_for
):
    feeds = {f"f{i}": feed_server.url(f"/f{i}") for i in range(24)}
    for i in range(24):
        feed_server.routes[f"/f{i}"] = Route(body=rss([{"title": f"t{i}", "guid": f"g{i}"}]))
    settings = make_settings(feed_lists=[write_feed_list(tmp_path / "f.toml", feeds)])
    split_and_poll(settings, bus_for(settings), feed_server, 24)
    assert len(read_raw(bus_for(settings))) == 24


def test_a_folder_of_saved_feeds_replays_offline(
    tmp_path: Path, make_settings, bus_for, shared_dir: Path
):
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "wh.xml").write_bytes(
        (shared_dir / "data" / "feeds" / "whitehouse-briefings.xml").read_bytes())
    (saved / "broken.xml").write_bytes(b"<rss><channel><item><title>x")  # ill-formed: lenient
    settings = make_settings(feed_folders=[saved])
    events = bus_for(settings)
    collect(settings, events)
    items = read_raw(events)
    assert len([i for i in items if i.source == "saved/wh.xml"]) == 30
    assert all(i.feed_url and i.feed_url.startswith("file://") for i in items)
    make_due(settings, events)
    assert collect(settings, events) == 2  # both polled: unchanged files, nothing published
    assert read_raw(events) == []
    assert {h.last_status for h in health_of(settings).values()} == {"304"}


def test_a_reload_publishes_the_new_feed_lists_and_polls_a_feed_they_add(
    tmp_path: Path, feed_server: FeedServer, make_settings, bus_for
):
    feed_server.routes["/a.xml"] = Route(body=rss(ITEMS[:1]))
    feed_server.routes["/b.xml"] = Route(body=rss(ITEMS[1:2]))
    listed = tmp_path / "f.toml"
    settings = make_settings(feed_lists=[write_feed_list(listed, {"a": feed_server.url("/a.xml")})])
    events = bus_for(settings)
    stage = CollectorStage(make_context(settings, events))
    stage.start()
    try:
        while stage.step(0.05) > 0:
            pass
        assert [i.title for i in read_raw(events)] == ["Ceasefire talks resume"]
        write_feed_list(listed, {"a": feed_server.url("/a.xml"), "b": feed_server.url("/b.xml")})
        apply = stage.prepare_reload(settings)  # checked, nothing changed yet
        assert feed_server.requests_to("/b.xml") == []
        apply()
        deadline = time.monotonic() + 30
        while not feed_server.requests_to("/b.xml") and time.monotonic() < deadline:
            stage.step(0.05)
        while stage.step(0.05) > 0:
            pass
        assert stage.owned_feeds == {"a", "b"}
        assert [i.title for i in read_raw(events)] == ["Energy truce"]
    finally:
        stage.stop()
