"""One exactly-once component for every stateful stage: offsets, state changes and an outbox.

A stage keeps its state in a local SQLite file, each row under the input partition that owns
it. A step handles a batch in ONE local transaction: its state changes, the input offsets it
handled (``advance``) and the events it outputs (``add_outbox``). Triggers copy every change of
a state table into ``ledger_changes``. ``publish`` then sends the outbox's events, flushes,
then the state changes to the stage's compacted changelog topic (the changelog partition is
the input partition), flushes, and forgets both. Outputs go first: a changelog that says an
input was handled implies its outputs are on the bus.

The local file is a cache; the changelog is the state. When the stage takes a partition
(``restore``), it reads the partition's changelog. If its end is where this host's own last
change left it (a checkpoint, as Kafka Streams keeps), no one else has written since and the
local rows stand, with what this host had not published yet (left-over outputs are checked by
the stage, ``leftovers``, then published). Otherwise the local rows are replaced by the
changelog's and what this host had not published about the partition is dropped: the records
after the changelog's offset are handled again and make the same decisions (outputs another
host had published are recognised downstream by their ids).

So a partition moves to another host, or to a host whose data_dir is gone, with its state,
the pattern of Kafka Streams and quix-streams. A changelog that is empty while local rows exist
(a state written before changelogs) is filled from them instead.

Each publication ends, on each changelog partition it wrote, with a commit marker. A host that
dies while publishing leaves some of a step's changes on the changelog without the rest (the
offsets row among the missing ones, say), and state restored from them would be no step's
state: its records would be handled again on top of part of their own changes. So the
changelog counts up to its last marker only. A host that has seen no publication complete
since it last wrote or read the changelog (the cut one was its own, as when it restarts) keeps
its rows, which hold the whole step, and logs the rows the cut one changed again; any other
host restores the rows as of the marker and logs the rows changed after it again as they
were. Either way the cut changes are superseded.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from peacewatch.bus.base import Record
from peacewatch.bus.events import EventBus, EventPublisher
from peacewatch.errors import MessageRefused, PeacewatchError
from peacewatch.metrics import Metrics
from peacewatch.models import (
    ALL_TOPICS,
    DEAD_LETTERS,
    DeadLetter,
    Event,
    StateChange,
    StateValue,
    TopicSpec,
    changelog,
)
from peacewatch.sqlite import immediate

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_offsets (
    log TEXT NOT NULL, topic TEXT NOT NULL, part INTEGER NOT NULL, next_off INTEGER NOT NULL,
    PRIMARY KEY (log, topic, part)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ledger_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, log TEXT NOT NULL, part INTEGER NOT NULL,
    topic TEXT NOT NULL, key TEXT, payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, log TEXT NOT NULL, part INTEGER NOT NULL,
    store TEXT NOT NULL, key TEXT NOT NULL, row TEXT
);
CREATE TABLE IF NOT EXISTS ledger_restoring (log TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ledger_checkpoints (
    log TEXT NOT NULL, part INTEGER NOT NULL, next_off INTEGER NOT NULL,
    PRIMARY KEY (log, part)
) WITHOUT ROWID;
"""
_TOPICS: dict[str, TopicSpec[Any]] = {spec.base: spec for spec in ALL_TOPICS}
_OFFSETS = "ledger_offsets"
# The end of a publication on a changelog partition (a store no table has).
COMMIT_MARKER = StateChange(store="ledger_commit", key=(), row={})
_COMMIT_BYTES = COMMIT_MARKER.model_dump_json().encode("utf-8")
log = logging.getLogger("peacewatch.ledger")


@dataclass(frozen=True, slots=True)
class Store:
    """A state table kept in the changelog: its primary key and its partition column."""

    table: str
    key: tuple[str, ...]
    part: str = "part"
    # Which rows the changelog keeps, as SQL over the row's columns (``{row}.column``); every
    # row when empty. A row left out is the local cache's alone: it does not move with its
    # partition.
    logged: str = ""

    @property
    def key_where(self) -> str:
        """The SQL condition that picks one row by its key (parameters in key order)."""
        return " AND ".join(f"{k} = ?" for k in self.key)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    part: int
    topic: str  # the topic's base name
    key: str | None
    payload: str


class Ledger:
    """The offsets, changes and outbox of one stage (``name``) in a shared state file."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock, *, name: str,
                 stores: Sequence[Store], events: EventBus, metrics: Metrics,
                 error: type[PeacewatchError], group: str) -> None:
        self.db, self.name, self.events, self.metrics = db, name, events, metrics
        self.group, self._error, self._lock = group, error, lock
        self.stores = (*stores, Store(_OFFSETS, ("log", "topic", "part")))
        self.topic = changelog(name)
        self._columns: dict[str, list[tuple[str, bool]]] = {}
        # Outbox rows handed to the producer and not yet known to be published, by id.
        self._in_flight: dict[int, OutboxRow] = {}
        # One publication at a time (it owns ``_in_flight``); the state's lock is only taken
        # to read and to forget.
        self._publishing = threading.Lock()
        self._install()

    # -- set-up ------------------------------------------------------------------------------

    def _install(self) -> None:
        """Tables, and triggers that copy each change of a store into ``ledger_changes``."""
        with self.transaction() as db:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            for store in self.stores:
                self._columns[store.table] = [
                    (str(row[1]), str(row[2]).upper() == "BLOB")
                    for row in db.execute(f"PRAGMA table_info({store.table})")]
                for event, image in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
                    db.execute(f"DROP TRIGGER IF EXISTS ledger_{store.table}_{event.lower()}")
                    db.execute(self._trigger(store, event, image))

    def _trigger(self, store: Store, event: str, image: str) -> str:
        log_of = f"{image}.log" if store.table == _OFFSETS else f"'{self.name}'"
        logged = f" AND ({store.logged.format(row=image)})" if store.logged else ""
        key = ", ".join(f"{image}.{k}" for k in store.key)
        row = "NULL" if event == "DELETE" else "json_object(" + ", ".join(
            f"'{c}', " + (f"CASE WHEN {image}.{c} IS NULL THEN NULL ELSE hex({image}.{c}) END"
                          if blob else f"{image}.{c}")
            for c, blob in self._columns[store.table]) + ")"
        # Only "?"-free identifiers of our own tables are formatted in.
        return (f"CREATE TRIGGER ledger_{store.table}_{event.lower()} AFTER {event} "  # noqa: S608
                f"ON {store.table} WHEN NOT EXISTS (SELECT 1 FROM ledger_restoring "
                f"WHERE log = {log_of}){logged} BEGIN INSERT INTO ledger_changes "
                f"(log, part, store, key, row) VALUES ({log_of}, {image}.{store.part}, "
                f"'{store.table}', json_array({key}), {row}); END")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One writer at a time; everything inside commits together or not at all."""
        with self._lock, immediate(self.db, error=self._error, what=f"{self.name} state"):
            yield self.db

    def _q(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        try:
            return self.db.execute(sql, tuple(params))
        except sqlite3.Error as exc:
            raise self._error(f"{self.name} state: {exc}") from exc

    # -- offsets and outbox (inside the caller's transaction) --------------------------------

    def next_offset(self, topic: str, part: int) -> int:
        """The first offset of an input partition not handled yet (records below it were)."""
        row = self._q("SELECT next_off FROM ledger_offsets WHERE log = ? AND topic = ? "
                      "AND part = ?", (self.name, topic, part)).fetchone()
        return int(row[0]) if row is not None else 0

    def advance(self, topic: str, part: int, next_offset: int) -> None:
        self._q("INSERT INTO ledger_offsets VALUES (?, ?, ?, ?) ON CONFLICT (log, topic, part) "
                "DO UPDATE SET next_off = max(next_off, excluded.next_off)",
                (self.name, topic, part, next_offset))

    def add_outbox(self, part: int, spec: TopicSpec[Any], event: Event) -> None:
        self._q("INSERT INTO ledger_outbox (log, part, topic, key, payload) "
                "VALUES (?, ?, ?, ?, ?)",
                (self.name, part, spec.base, spec.key(event), event.model_dump_json()))

    def outbox(self, parts: Iterable[int] | None = None) -> list[OutboxRow]:
        rows = self._q("SELECT id, part, topic, key, payload FROM ledger_outbox WHERE log = ? "
                       "ORDER BY id", (self.name,)).fetchall()
        wanted = set(parts) if parts is not None else None
        return [OutboxRow(i, part, t, k, p) for i, part, t, k, p in rows
                if wanted is None or part in wanted]

    # -- publishing --------------------------------------------------------------------------

    def publish(self, publisher: EventPublisher, parts: Iterable[int]) -> None:
        """Outputs, then state changes, of the owned ``parts``; each flushed, then forgotten.

        Changes of partitions owned elsewhere now are left: ``restore`` drops them if the
        partition comes back, for the new owner's changelog is the state then.
        """
        parts = set(parts)
        # The state's lock is not held while the bus is waited for: the state file's other
        # writers (the other step of the process) go on meanwhile. Both tables are read in
        # one snapshot: a batch's outputs and its changes are committed together, so the
        # changes published below are those of batches whose outputs are published first.
        with self._publishing:
            with self.transaction():
                outbox = self.outbox(parts)
                last_change = self._q("SELECT max(id) FROM ledger_changes WHERE log = ?",
                                      (self.name,)).fetchone()[0]
            self._publish_outbox(publisher, outbox)
            if last_change is not None:
                self._publish_changes(publisher, parts, int(last_change))

    def _publish_changes(self, publisher: EventPublisher, parts: set[int],
                         last_change: int) -> None:
        with self._lock:
            rows = [r for r in self._q(
                "SELECT id, part, store, key, row FROM ledger_changes WHERE log = ? "
                "AND id <= ? ORDER BY id", (self.name, last_change)).fetchall() if r[1] in parts]
        if not rows:
            return
        latest: dict[tuple[int, str, str], tuple[Any, ...]] = {}
        for row in rows:  # several changes of one row in a batch: only the last is kept
            latest.pop((row[1], row[2], row[3]), None)
            latest[(row[1], row[2], row[3])] = row
        name = self.events.topic(self.topic)
        for _id, part, store, key, row in latest.values():
            change = StateChange(store=store, key=tuple(json.loads(key)),
                                 row=None if row is None else json.loads(row))
            publisher.producer.publish(name, change.model_dump_json().encode("utf-8"),
                                       change.message_key, partition=part)
        counts = Counter(r[1] for r in latest.values())
        for part in counts:
            publisher.producer.publish(name, _COMMIT_BYTES, COMMIT_MARKER.message_key,
                                       partition=part)
        publisher.flush()
        with self.transaction():
            self._q("DELETE FROM ledger_changes WHERE log = ? AND id IN (SELECT value FROM "
                    "json_each(?))", (self.name, json.dumps([r[0] for r in rows])))
            for part, count in counts.items():
                self._q("UPDATE ledger_checkpoints SET next_off = next_off + ? "
                        "WHERE log = ? AND part = ?", (count + 1, self.name, part))

    def _publish_outbox(self, publisher: EventPublisher, rows: list[OutboxRow]) -> None:
        """Publish outbox rows and forget them; a row the bus refuses is set aside."""
        if not rows:
            return
        refused: dict[int, tuple[OutboxRow, str]] = {}
        for row in rows:
            if row.id in self._in_flight:
                continue  # handed over by a step that failed: the producer still holds it
            try:
                publisher.producer.publish(self.events.topic(_TOPICS[row.topic]),
                                           row.payload.encode("utf-8"), row.key)
            except MessageRefused as exc:
                refused[row.id] = (row, str(exc))
                continue
            self._in_flight[row.id] = row
        try:
            publisher.flush()
        except MessageRefused as exc:
            refused |= self._refused_rows(exc)
            publisher.flush()  # what was not refused: it may still be on its way
        self._set_aside(publisher, list(refused.values()))
        with self.transaction():
            self._forget([*self._in_flight, *refused])
        self._in_flight.clear()

    def _refused_rows(self, exc: MessageRefused) -> dict[int, tuple[OutboxRow, str]]:
        """The in-flight rows among the messages the bus refused, out of flight."""
        topics = self.events.topic
        by_message = {(topics(_TOPICS[r.topic]), r.key, r.payload.encode("utf-8")): r
                      for r in self._in_flight.values()}
        out = {}
        for topic, key, value, reason in exc.messages:
            row = by_message.get((topic, key, value))
            if row is not None:
                out[row.id] = (row, reason)
                del self._in_flight[row.id]
        return out

    def _set_aside(self, publisher: EventPublisher,
                   refused: list[tuple[OutboxRow, str]]) -> None:
        """Dead-letter outputs the bus refused for good (an excerpt, size and digest)."""
        if not refused:
            return
        for row, reason in refused:
            topic = self.events.topic(_TOPICS[row.topic])
            value = row.payload.encode("utf-8")
            log.error("output to %s (%d bytes, from partition %d) refused by the bus; "
                      "dead-lettered: %s", topic, len(value), row.part, reason)
            publisher.publish(DEAD_LETTERS, DeadLetter.of(
                topic=topic, partition=-1, offset=-1, key=row.key, value=value,
                error=f"refused by the bus: {reason}", group=self.group))
            self.metrics.dead_letters.labels(topic=topic).inc()
        publisher.flush()

    # -- restoring ---------------------------------------------------------------------------

    def restore(self, parts: Iterable[int],
                rebuilt: Callable[[int], None] = lambda part: None,
                leftovers: Callable[[list[OutboxRow]], set[int]] = lambda rows: set()) -> int:
        """Make the local rows of ``parts`` the changelog's; return the changes applied.

        ``rebuilt(part)`` runs inside each partition's transaction, after the rows are in, for
        what a stage derives from them rather than logs. ``leftovers(rows)`` says which of the
        outputs this host left unforgotten on a partition it finds as it left it were
        published already (they are forgotten; the others are published).
        """
        applied = 0
        name = self.events.topic(self.topic)
        # Read as compacted: a row's last change is its state, and the topic's cleaner may
        # not have run for days.
        logs = self.events.bus.read_partitions(name, sorted(parts), latest_per_key=True,
                                               commit_key=COMMIT_MARKER.message_key)
        for part, records in sorted(logs.items()):
            end = max((r.offset + 1 for r in records), default=0)
            state, cut, last_commit = _split_at_last_commit(records)
            checkpoint = self._checkpoint(part)
            if cut:
                log.warning("%s: partition %d of %s ends with %d change(s) of a publication "
                            "cut short (a host stopped while publishing)", self.name, part,
                            name, len(cut))
            with self.transaction():
                if checkpoint is not None and last_commit < checkpoint <= end:
                    # No publication completed since this host last wrote or read the
                    # changelog: its rows stand, and one cut short since (its own, mostly)
                    # is logged again whole.
                    self._log_again(part, cut)
                    self._forget(leftovers(self.outbox({part})))
                elif records:
                    self._replace(part, state)
                    self._supersede(part, cut, state)
                    rebuilt(part)
                    applied += len(state)
                else:
                    self._seed(part)
                self._q("INSERT OR REPLACE INTO ledger_checkpoints VALUES (?, ?, ?)",
                        (self.name, part, end))
        self._in_flight.clear()
        if applied:
            log.info("%s: restored %d state change(s) of partitions %s from %s", self.name,
                     applied, sorted(parts), name)
        return applied

    def _checkpoint(self, part: int) -> int | None:
        row = self._q("SELECT next_off FROM ledger_checkpoints WHERE log = ? AND part = ?",
                      (self.name, part)).fetchone()
        return None if row is None else int(row[0])

    def _forget(self, ids: Iterable[int]) -> None:
        for i in ids:
            self._q("DELETE FROM ledger_outbox WHERE id = ?", (i,))

    def _replace(self, part: int, changes: list[StateChange]) -> None:
        self._q("INSERT INTO ledger_restoring VALUES (?)", (self.name,))
        for store in self.stores:
            extra = " AND log = ?" if store.table == _OFFSETS else ""
            params = (part, self.name) if extra else (part,)
            # Only our own table and column names are formatted in.
            self._q(f"DELETE FROM {store.table} WHERE {store.part} = ?{extra}", params)  # noqa: S608
        self._q("DELETE FROM ledger_changes WHERE log = ? AND part = ?", (self.name, part))
        self._q("DELETE FROM ledger_outbox WHERE log = ? AND part = ?", (self.name, part))
        for change in changes:
            self._apply(change)
        self._q("DELETE FROM ledger_restoring WHERE log = ?", (self.name,))

    def _supersede(self, part: int, cut: list[StateChange], state: list[StateChange]) -> None:
        """Log again, as of the changelog's last marker, each row a cut publication changed."""
        restored = {(c.store, c.key): c.row for c in state}
        for change in cut:
            self._log_change(part, change.store, change.key, restored.get((change.store,
                                                                             change.key)))

    def _log_again(self, part: int, cut: list[StateChange]) -> None:
        """Log again, as the local rows have it, each row a cut publication changed."""
        for change in cut:
            store = self._store(change.store)
            if store is None:
                continue
            where = store.key_where
            if store.logged:
                where += f" AND ({store.logged.format(row=store.table)})"
            # The update's trigger logs the row; only our own names are formatted in.
            touched = self._q(f"UPDATE {store.table} SET {store.part} = {store.part} "  # noqa: S608
                              f"WHERE {where}", change.key).rowcount
            if not touched:
                self._log_change(part, change.store, change.key, None)

    def _log_change(self, part: int, store: str, key: tuple[StateValue, ...],
                    row: dict[str, StateValue] | None) -> None:
        self._q("INSERT INTO ledger_changes (log, part, store, key, row) VALUES (?, ?, ?, ?, ?)",
                (self.name, part, store, _compact_json(list(key)),
                 None if row is None else _compact_json(row)))

    def _store(self, table: str) -> Store | None:
        """The store of a changelog's table; None for a table this release no longer keeps."""
        return next((s for s in self.stores if s.table == table), None)

    def _apply(self, change: StateChange) -> None:
        store = self._store(change.store)
        if store is None:
            return
        if change.row is None:
            where = store.key_where
            self._q(f"DELETE FROM {store.table} WHERE {where}", change.key)  # noqa: S608
            return
        columns = self._columns[store.table]
        values: list[StateValue | bytes] = [
            bytes.fromhex(str(change.row[c])) if blob and change.row.get(c) is not None
            else change.row.get(c) for c, blob in columns]
        self._q(f"INSERT OR REPLACE INTO {store.table} ({', '.join(c for c, _ in columns)}) "  # noqa: S608
                f"VALUES ({', '.join('?' * len(columns))})", values)

    def _seed(self, part: int) -> None:
        """An empty changelog: what is kept locally is all there is; log it (the update
        triggers copy each row)."""
        for store in self.stores:
            extra = " AND log = ?" if store.table == _OFFSETS else ""
            params = (part, self.name) if extra else (part,)
            self._q(f"UPDATE {store.table} SET {store.part} = {store.part} "  # noqa: S608
                    f"WHERE {store.part} = ?{extra}", params)


def _split_at_last_commit(
        records: Sequence[Record]) -> tuple[list[StateChange], list[StateChange], int]:
    """The changes up to a changelog partition's last commit marker, those after it (a
    publication cut short), and the marker's offset (-1: none); ``records`` as
    ``PartitionLog`` lists them with the marker as its commit key."""
    ends = [i for i, r in enumerate(records) if r.key == COMMIT_MARKER.message_key]
    cut_from = ends[-1] + 1 if ends else 0
    changes = [StateChange.model_validate_json(r.value) for r in records]
    return ([c for c in changes[:cut_from] if c.message_key != COMMIT_MARKER.message_key],
            changes[cut_from:], records[ends[-1]].offset if ends else -1)


def _compact_json(value: object) -> str:
    """JSON as SQLite's json functions write it (the triggers' keys and rows)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
