"""Scale-out on a real Kafka: two ``collect`` and two ``process`` workers share the work.

Five real ``peacewatch`` processes (two collectors, two processors, one alerter), each with its
own data_dir, share one topic prefix with 4 partitions per topic. Eight local feeds grow while
they run. The test shows: each collector polls some feeds and no feed is polled by both; both
processors handle items; every item becomes exactly one Slack message; and after SIGTERM of one
collector and one processor mid-stream, the survivors take their partitions over (the survivor
collector re-reads feeds it never polled, so the processors and alerts must recognise what was
already notified) and every later item is still notified exactly once.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from e2e_kit import (
    FeedHub,
    Headlines,
    KafkaWorker,
    Peacewatch,
    SlackLike,
    owned_partitions,
    wait_until,
    watchlist_of,
    write_feed_list,
    write_kafka_worker_config,
)
from kafka.partitioner.default import murmur2

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

PARTITIONS = 4
GRACE_S = 8.0
FEEDS = [f"wire-{i}" for i in range(8)]
# Our own watchlist: four issues keyed onto four different partitions of items.classified,
# so that both processors own stories, and no baseline (nothing is "already known").
ISSUES = {
    "prisoners": "prisoner exchange",
    "ceasefire": "ceasefire",
    "grain": "grain corridor",
    "energy": "energy truce",
}
WATCHLIST = watchlist_of(ISSUES)

def partition_of(key: str) -> int:
    """Where Kafka's default partitioner (murmur2) puts a message with this key."""
    return int(murmur2(key.encode()) & 0x7FFFFFFF) % PARTITIONS


def pollers_by_feed(hub: FeedHub, since: float, until: float = float("inf")) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in hub.polls(since, until):
        out.setdefault(r.feed, set()).add(r.user_agent.rsplit("/", 1)[-1])
    return out


def ua_switches(hub: FeedHub) -> dict[str, int]:
    """Per feed, how often the polling collector changed (a handover is one change)."""
    out: dict[str, int] = {}
    for feed, requests in itertools.groupby(sorted(hub.polls(), key=lambda r: (r.feed, r.at)),
                                            key=lambda r: r.feed):
        agents = [r.user_agent for r in requests]
        out[feed] = sum(a != b for a, b in itertools.pairwise(agents))
    return out


def test_two_collectors_and_two_processors_share_the_work_and_hand_it_over(
    kafka_bootstrap: str, feed_hub: FeedHub, slack_like: SlackLike,
    peacewatch: Callable[..., Peacewatch], tmp_path: Path, unique: str,
) -> None:
    # Precondition of "the work is shared": the feeds spread over every partition.
    assert {partition_of(f) for f in FEEDS} == set(range(PARTITIONS))
    assert {partition_of(i) for i in ISSUES} == set(range(PARTITIONS))
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "watchlist.toml").write_text(WATCHLIST, encoding="utf-8")
    feeds = write_feed_list(tmp_path / "feeds.toml", {f: feed_hub.url(f) for f in FEEDS})
    names = ["collect-a", "collect-b", "process-a", "process-b", "alert"]
    # Every item here is an event of its own (its invented words are its own): the clusterer must
    # not take two for one story for sharing the issue's words alone.
    configs = {n: write_kafka_worker_config(
        tmp_path, KafkaWorker(n, kafka_bootstrap, f"so-{unique}", PARTITIONS, GRACE_S),
        feeds=feeds, hook=slack_like.url, join_threshold=0.6) for n in names}
    workers = {n: peacewatch(configs[n], n.split("-")[0], name=n) for n in names}

    def all_tails() -> str:
        return "\n".join(w.tail(25) for w in workers.values())

    # Steady state: both collectors own feeds (all 8 between them), both processors own raw
    # partitions (all 4 between them, none twice).
    col_a, col_b = workers["collect-a"], workers["collect-b"]
    proc_a, proc_b = workers["process-a"], workers["process-b"]

    def collectors_split() -> bool:
        a, b = col_a.metric("peacewatch_feeds_active"), col_b.metric("peacewatch_feeds_active")
        return a > 0 and b > 0 and a + b == len(FEEDS)

    def processors_split() -> bool:
        a, b = owned_partitions(proc_a, "items.raw"), owned_partitions(proc_b, "items.raw")
        return bool(a) and bool(b) and not a & b and a | b == set(range(PARTITIONS))

    wait_until("both collectors to own feeds", collectors_split, 60, 0.5, all_tails)
    wait_until("both processors to own raw partitions", processors_split, 60, 0.5, all_tails)
    wait_until("the alerter to be ready",
               lambda: workers["alert"].get("/readyz")[0] == 200, 30, 0.5, all_tails)
    steady = time.time()

    # Phase 1: two items per feed, all at once.
    headlines = Headlines(ISSUES.values())
    expected: dict[str, str] = {}  # marker word -> title
    for feed in FEEDS * 2:
        marker, title = headlines.next()
        expected[marker] = title
        feed_hub.add(feed, title, f"{title}.")
    wait_until("every phase-1 item on Slack",
               lambda: all(slack_like.count(m) for m in expected), 60, 0.3,
               lambda: f"missing {[t for m, t in expected.items() if not slack_like.count(m)]}"
                       f"\n{all_tails()}")
    time.sleep(max(0.0, steady + 6 - time.time()))  # every feed polled a few times
    phase1_end = time.time()

    # (a) the work is shared: in steady state each feed is polled by one collector only, each
    # collector polls some feeds, and both processors handled items.
    by_feed = pollers_by_feed(feed_hub, steady, phase1_end)
    assert set(by_feed) == set(FEEDS), f"feeds not polled in steady state: {by_feed}"
    assert all(len(agents) == 1 for agents in by_feed.values()), \
        f"a feed polled by both collectors in steady state: {by_feed}"
    assert {a for agents in by_feed.values() for a in agents} == {"collect-a", "collect-b"}
    processed = {n: workers[n].metric("peacewatch_items_processed_total")
                 for n in ("process-a", "process-b")}
    assert all(v > 0 for v in processed.values()), processed

    # Phase 2: items keep coming; one collector and one processor get SIGTERM mid-stream.
    stop_feeding = threading.Event()
    added_after_exit: list[str] = []
    exited_at: list[float] = []

    def feeder() -> None:
        for feed in itertools.cycle(FEEDS):
            if stop_feeding.is_set():
                return
            marker, title = headlines.next()
            expected[marker] = title
            feed_hub.add(feed, title, f"{title}.")
            if exited_at:
                added_after_exit.append(marker)
            time.sleep(0.25)

    feeding = threading.Thread(target=feeder, daemon=True)
    feeding.start()
    time.sleep(1.5)
    with ThreadPoolExecutor(2) as pool:
        stops = {n: pool.submit(workers[n].terminate, GRACE_S + 20)
                 for n in ("collect-b", "process-b")}
        exits = {n: f.result() for n, f in stops.items()}
    exited_at.append(time.time())
    # Long enough after the exits for the survivors to poll every feed a few times.
    wait_until("items added after the exits", lambda: len(added_after_exit) >= 2 * len(FEEDS),
               30, 0.2)
    stop_feeding.set()
    feeding.join(5)

    for name, (rc, seconds) in exits.items():
        assert rc == 0, f"{name} exited {rc} after SIGTERM\n{workers[name].tail()}"
        assert seconds < GRACE_S + 5, f"{name} took {seconds:.1f}s to stop"
    assert "stopped cleanly" in col_b.output and "stopped cleanly" in proc_b.output

    wait_until("every item on Slack",
               lambda: all(slack_like.count(m) for m in expected), 60, 0.3,
               lambda: f"missing {[t for m, t in expected.items() if not slack_like.count(m)]}"
                       f"\n{all_tails()}")
    # The survivors own everything; the survivor collector has re-read the feeds it took
    # over (items it never published itself) by now, several times.
    wait_until("the surviving processor to own every partition of both hops",
               lambda: all(owned_partitions(proc_a, topic) == set(range(PARTITIONS))
                           for topic in ("items.raw", "items.classified")),
               15, 0.5, all_tails)
    assert col_a.metric("peacewatch_feeds_active") == len(FEEDS)
    time.sleep(3)  # anything that would arrive twice has had the time to

    # (b) nothing duplicated: one Slack message per item, each item in exactly one.
    counts = {expected[m]: slack_like.count(m) for m in expected}
    twice = {t: c for t, c in counts.items() if c != 1}
    assert not twice, f"items not notified exactly once: {twice}"
    assert len(slack_like.posts) == len(expected), \
        f"{len(slack_like.posts)} Slack messages for {len(expected)} items"

    # (c) after the exits only the survivor polls, every feed, and each feed changed hands at
    # most twice (collect-b joining, collect-b leaving).
    after = pollers_by_feed(feed_hub, exited_at[0])
    assert after == {f: {"collect-a"} for f in FEEDS}, after
    switches = ua_switches(feed_hub)
    assert max(switches.values()) <= 2, f"feeds switching collectors back and forth: {switches}"

    duplicates = proc_a.metric("peacewatch_duplicates_total")
    for name in ("collect-a", "process-a", "alert"):
        rc, _ = workers[name].terminate(GRACE_S + 20)
        assert rc == 0, workers[name].tail()
    print(f"\nscale-out: {len(expected)} items over {len(FEEDS)} feeds, "
          f"processed a/b before SIGTERM {processed['process-a']:.0f}/"
          f"{processed['process-b']:.0f}; "
          f"SIGTERM exits: " + ", ".join(f"{n} rc={rc} in {s:.1f}s"
                                         for n, (rc, s) in exits.items())
          + f"; {len(added_after_exit)} items after the exits; handovers per feed {switches}; "
          f"{duplicates:.0f} copies recognised by the surviving processor")
