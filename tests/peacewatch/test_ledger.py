"""The exactly-once ledger: offsets, outbox and state changes in one transaction; the state
of a partition restored from its changelog on another host (another state file)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from peacewatch.bus import embedded
from peacewatch.bus.base import Producer
from peacewatch.bus.embedded import EmbeddedBus
from peacewatch.bus.events import EventBus, EventPublisher
from peacewatch.errors import ProcessorError
from peacewatch.ledger import Ledger, Store
from peacewatch.metrics import Metrics
from peacewatch.models import DEAD_LETTERS, DeadLetter, changelog
from peacewatch.sqlite import open_state

SCHEMA = """
CREATE TABLE IF NOT EXISTS notes (
    name TEXT PRIMARY KEY, part INTEGER NOT NULL, body TEXT, sig BLOB
) WITHOUT ROWID;
"""


@pytest.fixture
def events(tmp_path: Path) -> Iterator[EventBus]:
    bus = EventBus(EmbeddedBus(tmp_path / "bus.sqlite3"), prefix="t", partitions=2,
                   replication_factor=1)
    bus.ensure_topics()
    yield bus
    bus.close()


def ledger_on(path: Path, events: EventBus) -> Ledger:
    db = open_state(path, error=ProcessorError, what="test state", schema=SCHEMA)
    return Ledger(db, threading.RLock(), name="classify", stores=[Store("notes", ("name",))],
                  events=events, metrics=Metrics(), error=ProcessorError, group="g")


def note(ledger: Ledger, name: str, part: int, body: str | None) -> None:
    with ledger.transaction() as db:
        if body is None:
            db.execute("DELETE FROM notes WHERE name = ?", (name,))
        else:
            db.execute("INSERT OR REPLACE INTO notes VALUES (?, ?, ?, ?)",
                       (name, part, body, bytes([1, 2, 255])))
        ledger.advance("in", part, 7)


def notes(ledger: Ledger) -> dict[str, tuple[int, str, bytes]]:
    return {n: (p, b, s) for n, p, b, s in ledger.db.execute("SELECT * FROM notes")}


def test_offsets_never_move_back(tmp_path: Path, events: EventBus) -> None:
    ledger = ledger_on(tmp_path / "a.sqlite3", events)
    with ledger.transaction():
        assert ledger.next_offset("t", 0) == 0
        ledger.advance("t", 0, 6)
        ledger.advance("t", 0, 4)
    assert ledger.next_offset("t", 0) == 6 and ledger.next_offset("t", 1) == 0


def test_a_failed_transaction_leaves_no_change_behind(tmp_path: Path, events: EventBus) -> None:
    ledger = ledger_on(tmp_path / "a.sqlite3", events)
    with pytest.raises(RuntimeError), ledger.transaction() as db:
        db.execute("INSERT INTO notes VALUES ('x', 0, 'b', NULL)")
        raise RuntimeError("boom")
    assert ledger.db.execute("SELECT count(*) FROM ledger_changes").fetchone()[0] == 0


def test_another_host_restores_a_partition_from_the_changelog(
        tmp_path: Path, events: EventBus) -> None:
    first = ledger_on(tmp_path / "a.sqlite3", events)
    note(first, "kept", 0, "one")
    note(first, "kept", 0, "two")  # only the latest is published
    note(first, "gone", 0, "x")
    note(first, "gone", 0, None)
    note(first, "elsewhere", 1, "p1")
    with first.transaction():
        first.add_outbox(0, DEAD_LETTERS, DeadLetter.of(
            topic="t", partition=0, offset=0, key=None, value=b"v", error="e", group="g"))
    publisher = events.publisher()
    first.publish(publisher, {0, 1})
    assert first.outbox() == []
    log = events.bus.read_partitions(events.topic(changelog("classify")), [0])[0]
    assert [r.key for r in log].count('notes:["kept"]') == 1

    second = ledger_on(tmp_path / "b.sqlite3", events)
    assert second.restore({0}) > 0
    assert notes(second) == {"kept": (0, "two", bytes([1, 2, 255]))}
    assert second.next_offset("in", 0) == 7 and second.next_offset("in", 1) == 0
    # Restoring logs nothing again.
    assert second.db.execute("SELECT count(*) FROM ledger_changes").fetchone()[0] == 0


def test_a_restore_applies_each_row_s_last_change_only(tmp_path: Path, events: EventBus) -> None:
    """The changelog keeps every change until Kafka's cleaner runs; a restore reads it as
    compacted, so its cost follows the rows, not the changes."""
    first = ledger_on(tmp_path / "a.sqlite3", events)
    publisher = events.publisher()
    for body in ("one", "two", "three", None, "four"):
        note(first, "kept", 0, body)
        first.publish(publisher, {0})
    log = events.bus.read_partitions(events.topic(changelog("classify")), [0])[0]
    assert [r.key for r in log].count('notes:["kept"]') == 5

    second = ledger_on(tmp_path / "b.sqlite3", events)
    rows = {r.key for r in log} - {"ledger_commit:[]"}  # the publications' end markers
    assert second.restore({0}) == len(rows) < len(log)
    assert notes(second) == {"kept": (0, "four", bytes([1, 2, 255]))}


def test_restore_drops_what_this_host_did_not_publish(tmp_path: Path, events: EventBus) -> None:
    ledger = ledger_on(tmp_path / "a.sqlite3", events)
    note(ledger, "published", 0, "p")
    ledger.publish(events.publisher(), {0})
    note(ledger, "unpublished", 0, "u")
    ledger.restore({0})
    assert set(notes(ledger)) == {"published"}


def test_an_empty_changelog_is_filled_from_the_local_rows(tmp_path: Path,
                                                          events: EventBus) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    db.execute("INSERT INTO notes VALUES ('before', 1, 'kept before changelogs', NULL)")
    db.commit()
    db.close()
    ledger = ledger_on(path, events)
    assert ledger.restore({1}) == 0
    assert set(notes(ledger)) == {"before"}
    ledger.publish(events.publisher(), {1})
    assert set(notes(ledger_on_restored(tmp_path, events))) == {"before"}


def ledger_on_restored(tmp_path: Path, events: EventBus) -> Ledger:
    other = ledger_on(tmp_path / "other.sqlite3", events)
    other.restore({0, 1})
    return other


def test_the_embedded_bus_compacts_a_changelog(tmp_path: Path) -> None:
    bus = EmbeddedBus(tmp_path / "bus.sqlite3")
    events = EventBus(bus, prefix="t", partitions=1, replication_factor=1)
    events.ensure_topics()
    topic = events.topic(changelog("alerts"))
    producer = bus.producer()
    for i in range(embedded._COMPACT_EVERY):
        producer.publish(topic, str(i).encode(), f"k{i % 3}", partition=0)
    producer.flush()
    assert sorted(r.value for r in bus.read_partitions(topic, [0])[0]) == [
        str(embedded._COMPACT_EVERY - n).encode() for n in (3, 2, 1)]


def test_a_partition_found_as_this_host_left_it_keeps_its_local_rows(
        tmp_path: Path, events: EventBus) -> None:
    here = ledger_on(tmp_path / "a.sqlite3", events)
    here.restore({0})
    note(here, "published", 0, "p")
    here.publish(events.publisher(), {0})
    note(here, "not yet", 0, "u")
    here.restore({0})  # no one wrote since: the checkpoint is the changelog's end
    assert set(notes(here)) == {"published", "not yet"}

    there = ledger_on(tmp_path / "b.sqlite3", events)
    there.restore({0})
    note(there, "elsewhere", 0, "e")
    there.publish(events.publisher(), {0})
    here.restore({0})  # another host wrote: its changelog is the state
    assert set(notes(here)) == {"published", "elsewhere"}


def test_a_store_logs_only_the_rows_its_condition_names(tmp_path: Path, events: EventBus) -> None:
    db = open_state(tmp_path / "a.sqlite3", error=ProcessorError, what="test state",
                    schema=SCHEMA)
    ledger = Ledger(db, threading.RLock(), name="classify",
                    stores=[Store("notes", ("name",), logged="{row}.body != 'local'")],
                    events=events, metrics=Metrics(), error=ProcessorError, group="g")
    note(ledger, "shared", 0, "kept")
    note(ledger, "cache", 0, "local")
    note(ledger, "cache", 0, None)  # its deletion is not logged either
    note(ledger, "late", 0, "local")
    note(ledger, "late", 0, "now shared")  # an update that meets the condition is
    logged = {row[0] for row in db.execute("SELECT key FROM ledger_changes WHERE store = 'notes'")}
    assert logged == {'["shared"]', '["late"]'}
    ledger.publish(events.publisher(), {0})
    other = ledger_on(tmp_path / "b.sqlite3", events)
    other.restore({0})
    assert set(notes(other)) == {"shared", "late"}


class _HeldFlush(EventPublisher):
    """A publisher whose first flush waits until the test lets it go: a broker that is slow
    to answer."""

    def __init__(self, events: EventBus) -> None:
        super().__init__(events, events.bus.producer())
        self.flushing, self.go_on = threading.Event(), threading.Event()

    def flush(self, timeout_s: float = 30.0) -> None:
        if not self.go_on.is_set():
            self.flushing.set()
            assert self.go_on.wait(10)
        super().flush(timeout_s)


def test_a_batch_committed_during_a_publication_waits_for_the_next_one(
        tmp_path: Path, events: EventBus) -> None:
    """The state file stays writable while the bus is waited for, and a batch written
    meanwhile reaches the changelog only after its own outputs: never with the batch before."""
    ledger = ledger_on(tmp_path / "a.sqlite3", events)

    def batch(name: str) -> None:
        with ledger.transaction() as db:
            db.execute("INSERT INTO notes VALUES (?, 0, 'body', NULL)", (name,))
            ledger.add_outbox(0, DEAD_LETTERS, DeadLetter.of(
                topic="t", partition=0, offset=0, key=name, value=b"v", error="e", group="g"))

    batch("first")
    publisher = _HeldFlush(events)
    publishing = threading.Thread(target=ledger.publish, args=(publisher, {0}))
    publishing.start()
    assert publisher.flushing.wait(10)
    batch("second")  # would wait for the whole publication if it held the state's lock
    publisher.go_on.set()
    publishing.join(10)

    log = events.bus.read_partitions(events.topic(changelog("classify")), [0])[0]
    assert 'notes:["first"]' in [r.key for r in log]
    assert 'notes:["second"]' not in [r.key for r in log]
    assert ["second" in row.payload for row in ledger.outbox()] == [True]
    ledger.publish(publisher, {0})
    log = events.bus.read_partitions(events.topic(changelog("classify")), [0])[0]
    assert 'notes:["second"]' in [r.key for r in log] and ledger.outbox() == []


class _Crash(Exception):
    pass


class _DiesMidway(Producer):
    """A producer whose process dies after ``lands`` messages: those reach the bus, the rest
    never do (a host killed while its producer was sending)."""

    def __init__(self, inner: Producer, lands: int) -> None:
        self.inner, self.lands = inner, lands

    def publish(self, topic: str, value: bytes, key: str | None = None,
                partition: int | None = None) -> None:
        if self.lands == 0:
            self.inner.flush(5.0)
            raise _Crash
        self.lands -= 1
        self.inner.publish(topic, value, key, partition)

    def flush(self, timeout_s: float = 30.0) -> None:
        self.inner.flush(timeout_s)

    def close(self) -> None:
        self.inner.close()


def cut_publication(tmp_path: Path, events: EventBus) -> Ledger:
    """A host that published one step, then died publishing the next: two of its changes
    reached the changelog, its offsets did not."""
    host = ledger_on(tmp_path / "a.sqlite3", events)
    host.restore({0})
    note(host, "kept", 0, "before")
    host.publish(events.publisher(), {0})
    with host.transaction() as db:  # one step: two rows, then its offsets
        db.execute("UPDATE notes SET body = 'during' WHERE name = 'kept'")
        db.execute("INSERT INTO notes VALUES ('new', 0, 'during', NULL)")
        host.advance("in", 0, 9)
    with pytest.raises(_Crash):
        host.publish(EventPublisher(events, _DiesMidway(events.bus.producer(), 2)), {0})
    topic = events.topic(changelog("classify"))
    cut = [r.key for r in events.bus.read_partitions(topic, [0])[0]][-2:]
    assert cut == ['notes:["kept"]', 'notes:["new"]'], "the cut should land inside the step"
    host.db.close()
    return host


BEFORE = {"kept": (0, "before", bytes([1, 2, 255]))}
DURING = {"kept": (0, "during", bytes([1, 2, 255])), "new": (0, "during", None)}


def test_another_host_restores_the_last_complete_publication(tmp_path: Path,
                                                             events: EventBus) -> None:
    """Part of a step's changes without its offsets are no step's state: another host
    restores the changelog as of the last complete publication, handles the step's records
    again, and its next publication supersedes the cut changes."""
    cut_publication(tmp_path, events)
    other = ledger_on(tmp_path / "b.sqlite3", events)
    other.restore({0})
    assert notes(other) == BEFORE
    assert other.next_offset("in", 0) == 7, "the step's records are handled again"
    note(other, "more", 0, "other")  # its next step: the cut is before its marker now
    other.publish(events.publisher(), {0})
    later = ledger_on(tmp_path / "c.sqlite3", events)
    later.restore({0})
    assert set(notes(later)) == {"kept", "more"} and notes(later)["kept"] == BEFORE["kept"]


def test_the_host_cut_short_keeps_its_step_and_publishes_it_again(
        tmp_path: Path, events: EventBus) -> None:
    """Restarted, the host whose publication was cut keeps its rows (the whole step: its
    records are not handled again, so its outputs are not sent twice) and logs it again."""
    cut_publication(tmp_path, events)
    restarted = ledger_on(tmp_path / "a.sqlite3", events)
    restarted.restore({0})
    assert notes(restarted) == DURING and restarted.next_offset("in", 0) == 9
    restarted.publish(events.publisher(), {0})
    elsewhere = ledger_on(tmp_path / "b.sqlite3", events)
    elsewhere.restore({0})
    assert notes(elsewhere) == DURING and elsewhere.next_offset("in", 0) == 9


def test_a_null_blob_is_restored_as_null(tmp_path: Path, events: EventBus) -> None:
    first = ledger_on(tmp_path / "a.sqlite3", events)
    with first.transaction() as db:
        db.execute("INSERT INTO notes VALUES ('unsigned', 0, 'b', NULL)")
        db.execute("INSERT INTO notes VALUES ('empty', 0, 'b', x'')")
    first.publish(events.publisher(), {0})
    restored = ledger_on(tmp_path / "b.sqlite3", events)
    restored.restore({0})
    assert notes(restored) == {"unsigned": (0, "b", None), "empty": (0, "b", b"")}


def test_a_host_taking_back_a_partition_supersedes_another_host_s_cut(
        tmp_path: Path, events: EventBus) -> None:
    """A host's partition went to another host, which died publishing its first step; taken
    back, the first host's rows stand (no publication completed since its own) and the other
    host's cut changes are logged again as this host has them."""
    home = ledger_on(tmp_path / "a.sqlite3", events)
    home.restore({0})
    note(home, "kept", 0, "home")
    home.publish(events.publisher(), {0})
    away = ledger_on(tmp_path / "b.sqlite3", events)
    away.restore({0})
    with away.transaction() as db:
        db.execute("INSERT INTO notes VALUES ('new', 0, 'away', NULL)")
        away.advance("in", 0, 9)
    with pytest.raises(_Crash):
        away.publish(EventPublisher(events, _DiesMidway(events.bus.producer(), 1)), {0})

    home.restore({0})
    assert set(notes(home)) == {"kept"} and home.next_offset("in", 0) == 7
    note(home, "more", 0, "home")  # its next step: the cut is before its marker now
    home.publish(events.publisher(), {0})
    later = ledger_on(tmp_path / "c.sqlite3", events)
    later.restore({0})
    assert set(notes(later)) == {"kept", "more"}
