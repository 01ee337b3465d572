"""Scale-out on a real Apache Kafka broker: collectors in one consumer group split the feeds."""

from __future__ import annotations

from pathlib import Path

import pytest
from collectors_testkit import FeedServer, Route, rss, split_and_poll, write_feed_list

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def test_two_collectors_on_kafka_poll_each_feed_once(
    tmp_path: Path, feed_server: FeedServer, make_settings, bus_for, kafka_bootstrap: str,
    unique: str,
):
    count = 18
    feeds = {f"f{i}": feed_server.url(f"/f{i}") for i in range(count)}
    for i in range(count):
        feed_server.routes[f"/f{i}"] = Route(body=rss([{"title": f"t{i}", "guid": f"g{i}"}]))
    settings = make_settings(feed_lists=[write_feed_list(tmp_path / "f.toml", feeds)],
                             group=f"collectors-{unique}")
    settings = settings.model_copy(update={"bus": settings.bus.model_copy(update={
        "topic_prefix": f"t{unique}",
        "kafka": settings.bus.kafka.model_copy(update={
            "bootstrap_servers": [kafka_bootstrap], "session_timeout_s": 6.0})})})
    split_and_poll(settings, bus_for(settings), feed_server, count)
