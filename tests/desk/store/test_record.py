"""The record on both databases: migrations, idempotent projection, search, filters, cursors,
feedback, retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
from desk_kit import T0, raw, sample_batch

from desk.store.db import Database
from desk.store.migrations import LATEST, migrate, schema_version
from desk.store.record import Batch, Filters, RecordStore
from peacewatch.errors import RecordError


def test_migrations_run_once_and_a_newer_record_is_refused(store: RecordStore) -> None:
    assert store.applied == list(range(1, LATEST + 1))
    assert migrate(store.db) == []
    assert schema_version(store.db) == LATEST
    store.db.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", (LATEST + 1, "x", 0.0))
    with pytest.raises(RecordError, match="newer than this release"):
        migrate(store.db)


def test_the_projection_is_idempotent(store: RecordStore) -> None:
    store.write(sample_batch())
    store.write(sample_batch())  # redelivered
    assert store.counts("black-sea")[:2] == (3, 3)
    story = store.story("story-1")
    assert story is not None and story[2] == "Turkey proposes grain corridor talks in Istanbul"
    # A raw item arriving after its classification keeps kind and language.
    store.write(Batch(raw=[raw(4, "Україна відхилила умови перемир'я",
                               source="Ukrinform - Latest", language="", days=3)]))
    row = store.items_by_id(["item-4"])["item-4"]
    assert row[10] == "uk" and row[17] == "report"
    assert store.deliveries_of(["dev-3"])["dev-3"][0][:3] == ("ops", "slack", "sent")


def test_full_text_search_and_filters(store: RecordStore) -> None:
    store.write(sample_batch())
    found = store.items(Filters(q="grain corridor"), None, 10)
    assert [r[1] for r in found.rows] == ["item-2", "item-1"]  # newest recorded first
    assert [r[1] for r in store.items(Filters(q="умови"), None, 10).rows] == ["item-4"]
    assert store.items(Filters(q="grain", language="uk"), None, 10).rows == []
    assert [r[1] for r in store.items(Filters(issue="prisoners"), None, 10).rows] == ["item-5"]
    devs = store.developments(Filters(q="signed"), None, 10)
    assert [r[1] for r in devs.rows] == ["dev-3"]
    by_source = store.developments(Filters(source="TASS - English"), None, 10)
    assert [r[1] for r in by_source.rows] == ["dev-3"]
    assert [r[1] for r in store.developments(Filters(language="uk"), None, 10).rows] == ["dev-4"]
    since = (T0 + timedelta(days=1)).timestamp()
    timeline = store.developments(Filters(issue="black-sea", since=since, min_severity=5), None,
                                  10, ascending=True)
    assert [r[1] for r in timeline.rows] == ["dev-2", "dev-3"]
    assert [r[0] for r in store.stories(Filters(q="corridor"), None, 10).rows] == ["story-1"]
    # Punctuation and operators are not passed to the search engine.
    assert store.items(Filters(q='grain" OR NEAR(*'), None, 10).rows is not None


def test_cursors_page_without_gaps_or_repeats(store: RecordStore) -> None:
    store.write(sample_batch())
    seen, cursor = [], None
    while True:
        page = store.developments(Filters(), cursor, 1, ascending=True)
        seen += [r[1] for r in page.rows]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == ["dev-1", "dev-2", "dev-3", "dev-4"]
    items, cursor = [], None
    while True:
        page = store.items(Filters(), cursor, 2)
        items += [r[1] for r in page.rows]
        if (cursor := page.next_cursor) is None:
            break
    assert items == ["item-5", "item-4", "item-3", "item-2", "item-1"]


def test_feedback_precision_uses_the_latest_verdict(store: RecordStore) -> None:
    store.write(sample_batch())
    dev1, dev2 = store.development("dev-1"), store.development("dev-2")
    assert dev1 is not None and dev2 is not None
    store.add_feedback(dev1, "wrong_issue", "", "api")
    store.add_feedback(dev1, "useful", "on reflection", "page")
    store.add_feedback(dev2, "not_new", "", "page")
    assert store.precision_by_issue() == {"black-sea": (1, 2)}
    assert store.feedback_counts(["dev-1"]) == {"dev-1": {"wrong_issue": 1, "useful": 1}}


def test_retention_forgets_old_items_and_rebuild_keeps_feedback(store: RecordStore) -> None:
    store.write(sample_batch())
    dev = store.development("dev-4")
    assert dev is not None
    store.add_feedback(dev, "useful", "", "api")
    forgotten = store.prune((T0 + timedelta(days=2, hours=1)).timestamp())
    assert forgotten == 3
    assert store.development("dev-1") is None and store.development("dev-4") is not None
    store.reset_projection()
    assert store.development("dev-4") is None
    assert store.precision_by_issue() == {"ceasefire": (1, 1)}


def test_a_failed_batch_writes_nothing(store: RecordStore) -> None:
    db: Database = store.db
    with pytest.raises(RecordError), db.transaction():
        store.write(sample_batch())
        db.execute("INSERT INTO no_such_table VALUES (1)")
    assert store.counts("black-sea") == (0, 0, None)
