"""Grouping decisions over a fake clock: Alertmanager timings, bursts, digests, restore."""

from __future__ import annotations

from datetime import timedelta

from alertkit import FakeClock

from alerts.grouping import Grouper, GroupState, Timing

WAIT, INTERVAL, REPEAT = 30.0, 300.0, 3600.0
TIMING = Timing.of_seconds(WAIT, INTERVAL, REPEAT)
KEY = ("ops", "default", "issue=black-sea")


def test_a_burst_of_20_within_group_wait_is_one_flush(clock: FakeClock) -> None:
    g: Grouper[int] = Grouper(clock)
    for i in range(20):
        g.add(KEY, i, TIMING)
        clock.advance(1.0)  # 20 s of burst, inside the 30 s group_wait
        assert g.due() == []
    clock.advance(WAIT - 20)
    flushes = g.due()
    assert len(flushes) == 1
    assert flushes[0].items == tuple(range(20))
    assert g.due() == []


def test_first_flush_waits_group_wait_exactly(clock: FakeClock) -> None:
    g: Grouper[str] = Grouper(clock)
    state = g.add(KEY, "a", TIMING)
    assert state.flush_at == clock.now + timedelta(seconds=WAIT)
    clock.advance(WAIT - 0.001)
    assert g.due() == []
    clock.advance(0.001)
    assert [f.items for f in g.due()] == [("a",)]


def test_after_a_flush_news_waits_for_group_interval(clock: FakeClock) -> None:
    g: Grouper[str] = Grouper(clock)
    g.add(KEY, "a", TIMING)
    clock.advance(WAIT)
    first_flush = clock.now
    assert len(g.due()) == 1
    clock.advance(10)
    state = g.add(KEY, "b", TIMING)
    g.add(KEY, "c", TIMING)
    assert state.flush_at == first_flush + timedelta(seconds=INTERVAL)
    clock.advance(INTERVAL - 11)
    assert g.due() == []
    clock.advance(1)
    assert [f.items for f in g.due()] == [("b", "c")]


def test_news_after_group_interval_goes_at_once(clock: FakeClock) -> None:
    g: Grouper[str] = Grouper(clock)
    g.add(KEY, "a", TIMING)
    clock.advance(WAIT)
    g.due()
    clock.advance(INTERVAL + 5)
    state = g.add(KEY, "b", TIMING)
    assert state.flush_at == clock.now
    assert [f.items for f in g.due()] == [("b",)]


def test_groups_are_independent(clock: FakeClock) -> None:
    g: Grouper[str] = Grouper(clock)
    other = ("ops", "default", "issue=energy")
    g.add(KEY, "a", TIMING)
    clock.advance(10)
    g.add(other, "b", TIMING)
    clock.advance(WAIT - 10)
    assert [f.key for f in g.due()] == [KEY]
    clock.advance(10)
    assert [f.key for f in g.due()] == [other]


def test_a_group_closes_after_repeat_interval_and_reopens_with_group_wait(
        clock: FakeClock) -> None:
    g: Grouper[str] = Grouper(clock)
    g.add(KEY, "a", TIMING)
    clock.advance(WAIT)
    g.due()
    clock.advance(REPEAT - 1)
    assert g.expire() == []
    clock.advance(1)
    assert g.expire() == [KEY]
    assert len(g) == 0
    state = g.add(KEY, "b", TIMING)
    assert state.flush_at == clock.now + timedelta(seconds=WAIT)


def test_digest_groups_release_at_their_fixed_time(clock: FakeClock) -> None:
    g: Grouper[int] = Grouper(clock)
    release = clock.now + timedelta(hours=7)
    digest_key = ("ops", "night", "digest")
    for i in range(50):
        g.add(digest_key, i, TIMING, release_at=release)
        clock.advance(60)
    assert g.due() == []
    assert g.next_due() == release
    clock.now = release
    flushes = g.due()
    assert len(flushes) == 1 and flushes[0].digest and len(flushes[0].items) == 50


def test_restore_resumes_the_same_decisions(clock: FakeClock) -> None:
    g: Grouper[str] = Grouper(clock)
    g.add(KEY, "a", TIMING)
    snapshot = g.groups[KEY]
    restored: Grouper[str] = Grouper(clock)
    restored.restore(GroupState(key=KEY, timing=TIMING, opened_at=snapshot.opened_at,
                                pending=list(snapshot.pending), flush_at=snapshot.flush_at))
    clock.advance(WAIT)
    assert [f.items for f in restored.due()] == [("a",)]


def test_next_due_follows_the_earliest_pending_group(clock: FakeClock) -> None:
    g: Grouper[str] = Grouper(clock)
    assert g.next_due() is None
    g.add(KEY, "a", TIMING)
    assert g.next_due() == clock.now + timedelta(seconds=WAIT)
    clock.advance(WAIT)
    g.due()
    assert g.next_due() is None
