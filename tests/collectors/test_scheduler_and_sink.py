"""apscheduler-driven due feeds, and the choice of what to publish."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from collectors.scheduler import FeedScheduler
from collectors.sink import select_items
from collectors.state import PublishedRecord
from peacewatch.models import RawItem


def test_due_now_is_handed_over_at_once_later_only_when_due():
    scheduler = FeedScheduler()
    scheduler.start()
    try:
        scheduler.schedule("now", 0)  # never polled: due at once
        scheduler.schedule("soon", time.time() + 0.3)
        scheduler.schedule("later", time.time() + 3600)
        assert scheduler.take_due(10, 2.0) == ["now"]
        assert scheduler.take_due(10, 0.0) == []
        assert scheduler.take_due(10, 2.0) == ["soon"]
        assert scheduler.scheduled("later") and not scheduler.scheduled("now")
        assert scheduler.next_run("later") is not None
        # A feed handed over has no job until it is planned again: no second fetch at once.
        scheduler.schedule("later", 0)  # re-planned replaces, does not duplicate
        assert scheduler.take_due(10, 2.0) == ["later"]
        scheduler.schedule("gone", 0)
        scheduler.unschedule(["gone"])
        assert scheduler.take_due(10, 0.3) == []
    finally:
        scheduler.shutdown()


def test_take_due_respects_the_batch_limit():
    scheduler = FeedScheduler()
    scheduler.start()
    try:
        for i in range(5):
            scheduler.schedule(f"f{i}", 0)
        deadline = time.monotonic() + 2
        taken: list[str] = []
        while len(taken) < 5 and time.monotonic() < deadline:
            batch = scheduler.take_due(2, 0.5)
            assert len(batch) <= 2
            taken += batch
        assert sorted(taken) == [f"f{i}" for i in range(5)]
    finally:
        scheduler.shutdown()


def item(item_id: str, chash: str) -> RawItem:
    return RawItem(item_id=item_id, source="s", title="t", content_hash=chash,
                   fetched_at=datetime(2025, 4, 1, tzinfo=UTC))


def test_select_items_new_known_updated_and_duplicates_in_a_batch():
    known = {"a": PublishedRecord("h1", 0), "b": PublishedRecord("h1", 2)}
    out, report = select_items(
        [item("a", "h1"), item("b", "h2"), item("c", "h3"), item("c", "h4")], known)
    assert [(i.item_id, i.revision) for i in out] == [("b", 3), ("c", 0)]
    assert (report.new, report.updates, report.known, report.published) == (1, 1, 2, 2)
