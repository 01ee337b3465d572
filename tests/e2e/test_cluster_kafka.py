"""The pipeline on a replicated cluster: three KRaft brokers, every topic on three replicas,
``min.insync.replicas=2``, producers with ``acks=all``.

Under a steady stream of items, the leader of the busiest partition is SIGKILLed (and later
brought back), then all three brokers are restarted one by one, as a rolling upgrade does.
Nothing may be lost and nothing notified twice (the webhook on 127.0.0.1 counts notifications
per item); the times to recover are printed, not asserted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import kafka_broker
import pytest
from e2e_kit import (
    FeedHub,
    Headlines,
    Peacewatch,
    Stream,
    Webhook,
    toml_str,
    wait_until,
    write_webhook_pipeline_config,
)
from kafka import KafkaAdminClient, KafkaConsumer
from kafka.structs import TopicPartition

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.timeout(420)]

ISSUES = {"prisoners": "prisoner exchange", "ceasefire": "ceasefire", "grain": "grain corridor"}
FEEDS = ["wire-a", "wire-b", "wire-c"]
PARTITIONS = 3
GRACE_S = 8.0


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    with Webhook().running() as hook:
        yield hook


def write_config(tmp_path: Path, bootstrap: str, prefix: str, feed_hub: FeedHub,
                 hook: Webhook) -> Path:
    servers = ", ".join(toml_str(s) for s in bootstrap.split(","))
    bus = f"""[bus]
topic_prefix = "{prefix}"
partitions = {PARTITIONS}
replication_factor = 3
[bus.kafka]
bootstrap_servers = [{servers}]
session_timeout_s = 6"""
    return write_webhook_pipeline_config(
        tmp_path, bus=bus, issues=ISSUES, feeds={f: feed_hub.url(f) for f in FEEDS},
        hook_url=hook.url, grace_period_s=GRACE_S)


class ClusterView:
    """What the cluster says about the pipeline's topics: sizes, leaders, in-sync replicas."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        self.servers = bootstrap.split(",")
        self.prefix = prefix

    def partitions(self) -> list[dict]:
        admin = KafkaAdminClient(bootstrap_servers=self.servers, reconnect_backoff_max_ms=1000)
        try:
            topics = [t for t in admin.list_topics() if t.startswith(f"{self.prefix}.")]
            return [dict(p, topic=t["name"]) for t in admin.describe_topics(topics)
                    for p in t["partitions"]]
        finally:
            admin.close()

    def busiest(self) -> tuple[str, int, int]:
        """(topic, partition, leader) of the partition holding the most messages."""
        parts = self.partitions()
        consumer = KafkaConsumer(bootstrap_servers=self.servers)
        try:
            ends = consumer.end_offsets([TopicPartition(p["topic"], p["partition_index"])
                                         for p in parts])
        finally:
            consumer.close()
        top = max(parts, key=lambda p: ends[TopicPartition(p["topic"], p["partition_index"])])
        return top["topic"], top["partition_index"], top["leader_id"]

    def fully_replicated(self) -> bool:
        parts = self.partitions()
        return bool(parts) and all(len(p["isr_nodes"]) == 3 and p["leader_id"] >= 0
                                   for p in parts)


def test_a_lost_leader_and_a_rolling_restart_lose_nothing_and_notify_nothing_twice(
    kafka_cluster: kafka_broker.Cluster, feed_hub: FeedHub, webhook: Webhook,
    peacewatch: Callable[..., Peacewatch], tmp_path: Path, unique: str,
    measured: Callable[[str], None],
) -> None:
    prefix = f"cl-{unique}"
    view = ClusterView(kafka_cluster.bootstrap, prefix)
    pw = peacewatch(write_config(tmp_path, kafka_cluster.bootstrap, prefix, feed_hub, webhook),
                    "run")
    wait_until("ready", lambda: pw.get("/readyz")[0] == 200, 60, 0.3, pw.tail)
    stream = Stream(feed_hub, FEEDS, Headlines(ISSUES.values()), 0.25).start()
    wait_until("notifications flowing", lambda: len(webhook.posts) >= 5, 60, 0.3, pw.tail)

    def recovered(what: str, since: float) -> None:
        """Wait until an item added after ``since`` is notified; note how long that took."""
        wait_until(f"notifications again after {what}",
                   lambda: webhook.first_at(stream.since(since)), 90, 0.2, pw.tail)
        first = webhook.first_at(stream.since(since)) or since
        measured(f"{what}: first new item notified {first - since:.1f}s later")

    # 1. The leader of the busiest partition dies with no warning.
    topic, partition, leader = view.busiest()
    killed = kafka_cluster.broker(leader)
    killed_at = time.time()
    killed.kill()
    recovered(f"SIGKILL of broker {leader} (leader of {topic}[{partition}])", killed_at)
    time.sleep(3)
    killed.restart()
    wait_until("every partition back on three in-sync replicas", view.fully_replicated, 90, 1)

    # 2. A rolling restart: each broker stopped and started again once the cluster is whole.
    for broker in kafka_cluster.brokers:
        stopped_at = time.time()
        broker.stop()
        broker.restart()
        recovered(f"restart of broker {broker.node_id}", stopped_at)
        wait_until("every partition back on three in-sync replicas", view.fully_replicated,
                   90, 1)

    stream.stop()
    markers = list(stream.added)
    wait_until("every item notified", lambda: all(webhook.counts(markers).values()), 90, 0.5,
               lambda: f"missing {[m for m, n in webhook.counts(markers).items() if not n]}\n"
                       f"{pw.tail(60)}")
    time.sleep(3)
    twice = {m: n for m, n in webhook.counts(markers).items() if n != 1}
    assert not twice, f"items notified more than once: {twice}"
    assert len(webhook.posts) == len(markers)
    assert pw.alive and pw.get("/readyz")[0] == 200, pw.tail()
    measured(f"three-broker cluster: {len(markers)} items, each notified once")
    rc, _ = pw.terminate(GRACE_S + 10)
    assert rc == 0, pw.tail()
