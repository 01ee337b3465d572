"""The delivery log: the alerts stage's durable state, one SQLite file under data_dir.

What it remembers, so that a restart (even after SIGKILL) notifies every development and none
twice to the same receiver:

- ``claims``: (receiver, development) pairs already taken in, the idempotency key of intake.
  A development redelivered by the bus after a crash finds its claim and is skipped.
- ``pending`` and ``groups``: developments waiting in a group, and each group's timings, so the
  grouper is rebuilt as it was.
- ``outbox``: each notification decided by the grouper, keyed by its notification id, with its
  state: ``queued`` → ``sending`` (intent, committed before the remote is contacted) → ``sent``
  or ``dead``. A row found in ``sending`` at start-up was interrupted mid-delivery and is sent
  again: the remote may have accepted it just before the crash, the one residual window (a
  round trip plus one SQLite commit). Webhooks get an Idempotency-Key and email the same
  Message-ID, so such a receiver can drop the copy; Slack cannot.
- ``stories``: the Message-IDs of each story's messages per receiver, for follow-up threading.
- ``silences``: silences added with ``peacewatch silence add``.

DeliveryRecords are not kept here: the caller writes each into the alerts' ledger outbox
(``peacewatch.ledger``), under the partition of the notification or development it reports, in
the same transaction as the state change it reports; ``Ledger.publish`` sends them to the
deliveries topic (none is lost). A ``records`` table of an older release is read once at start
(``legacy_records``), published, and dropped.

Every row but the silences belongs to one partition of the developments topic
(``part``: the partition of the development it came from; a group gathers the developments of
one partition). ``peacewatch.ledger`` logs those rows to the alerts' changelog, and restores a
partition's rows from it when the partition moves to this worker: several alerters, on one
host or several, share the work, each sending the notifications of its own partitions. Pacing
per webhook is then per worker.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alerts.grouping import GroupKey, GroupState, Timing
from alerts.notification import Notification
from alerts.silencing import ActiveSilence
from peacewatch.errors import AlertError
from peacewatch.models import DeliveryRecord, Development
from peacewatch.sqlite import immediate, open_state

_SCHEMA = """
CREATE TABLE IF NOT EXISTS claims (
    receiver TEXT NOT NULL, development_id TEXT NOT NULL, status TEXT NOT NULL, at TEXT NOT NULL,
    note TEXT, part INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (receiver, development_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending (
    receiver TEXT NOT NULL, development_id TEXT NOT NULL, route TEXT NOT NULL,
    grp TEXT NOT NULL, payload TEXT NOT NULL, part INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (receiver, development_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS part_groups (
    part INTEGER NOT NULL, receiver TEXT NOT NULL, route TEXT NOT NULL, grp TEXT NOT NULL,
    timing TEXT NOT NULL, opened_at TEXT NOT NULL, last_flushed_at TEXT, flush_at TEXT,
    digest INTEGER NOT NULL, PRIMARY KEY (part, receiver, route, grp)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
    notification_id TEXT PRIMARY KEY, receiver TEXT NOT NULL, payload TEXT NOT NULL,
    state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, error TEXT,
    part INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_attempt_at);
CREATE TABLE IF NOT EXISTS stories (
    receiver TEXT NOT NULL, story_id TEXT NOT NULL, thread TEXT NOT NULL,
    part INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (receiver, story_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS silences (
    silence_id TEXT PRIMARY KEY, issue TEXT, source TEXT, keyword TEXT, starts_at TEXT,
    ends_at TEXT, comment TEXT NOT NULL, created_at TEXT NOT NULL
);
"""

OPEN_STATES = ("queued", "sending")
# The tables of one partition's state, as the alerts' ledger logs them (table, primary key).
PARTITIONED = (("claims", ("receiver", "development_id")),
               ("pending", ("receiver", "development_id")),
               ("part_groups", ("part", "receiver", "route", "grp")),
               ("outbox", ("notification_id",)),
               ("stories", ("receiver", "story_id")))


@dataclass(frozen=True, slots=True)
class PendingItem:
    """A development waiting in a group for one receiver."""

    development: Development
    route: str
    receiver: str


@dataclass(frozen=True, slots=True)
class OutboxRow:
    notification: Notification
    state: str
    attempts: int
    next_attempt_at: float
    error: str | None
    part: int  # the partition of the developments topic it belongs to


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(UTC).isoformat()


def _dt(s: str | None) -> datetime | None:
    return None if s is None else datetime.fromisoformat(s)


def _timing_json(t: Timing) -> str:
    return json.dumps([t.group_wait.total_seconds(), t.group_interval.total_seconds(),
                       t.repeat_interval.total_seconds()])


class DeliveryLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        # NORMAL: a "sent" mark outlives a power cut on the changelog, published as soon as it
        # is made; an fsync per mark would only widen the window in which it is not there yet.
        self.db = open_state(path, error=AlertError, what="delivery log")
        _migrate(self.db)
        self.lock = threading.RLock()

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        with self.lock, immediate(self.db, error=AlertError,
                                  what=f"delivery log {self.path}") as db:
            yield db

    # -- intake ------------------------------------------------------------------------------

    @staticmethod
    def claim(db: sqlite3.Connection, receiver: str, dev_id: str, status: str, *, at: datetime,
              part: int, note: str | None = None) -> bool:
        cur = db.execute("INSERT OR IGNORE INTO claims VALUES (?, ?, ?, ?, ?, ?)",
                         (receiver, dev_id, status, _iso(at), note, part))
        return cur.rowcount == 1

    def claimed(self, pairs: Iterable[tuple[str, str]]) -> frozenset[tuple[str, str]]:
        """Which (receiver, development id) pairs are claimed already."""
        return self._existing("claims", "development_id", pairs)

    def told(self, pairs: Iterable[tuple[str, str]]) -> frozenset[tuple[str, str]]:
        """Which (receiver, story id) pairs have had a message (a thread to follow up)."""
        return self._existing("stories", "story_id", pairs)

    def _existing(self, table: str, column: str,
                  pairs: Iterable[tuple[str, str]]) -> frozenset[tuple[str, str]]:
        wanted = set(pairs)
        if not wanted:
            return frozenset()
        # Only our own table and column names are formatted in.
        rows = self.db.execute(
            f"SELECT receiver, {column} FROM {table} WHERE {column} IN "  # noqa: S608
            "(SELECT value FROM json_each(?))",
            (json.dumps(sorted({second for _, second in wanted})),))
        return frozenset(pair for pair in ((r, c) for r, c in rows) if pair in wanted)

    @staticmethod
    def add_pending(db: sqlite3.Connection, item: PendingItem, grp: str, part: int) -> None:
        db.execute("INSERT OR REPLACE INTO pending VALUES (?, ?, ?, ?, ?, ?)",
                   (item.receiver, item.development.development_id, item.route, grp,
                    item.development.model_dump_json(), part))

    @staticmethod
    def save_group(db: sqlite3.Connection, g: GroupState[PendingItem], part: int) -> None:
        receiver, route, grp = g.key
        db.execute(
            "INSERT OR REPLACE INTO part_groups VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (part, receiver, route, grp, _timing_json(g.timing), _iso(g.opened_at),
             _iso(g.last_flushed_at), _iso(g.flush_at), int(g.digest)))

    @staticmethod
    def drop_group(db: sqlite3.Connection, key: GroupKey, part: int) -> None:
        db.execute("DELETE FROM part_groups WHERE part = ? AND receiver = ? AND route = ? "
                   "AND grp = ?", (part, *key))

    def load_groups(self, part: int) -> list[GroupState[PendingItem]]:
        """The groups of one partition, with their pending developments."""
        states: dict[GroupKey, GroupState[PendingItem]] = {}
        for receiver, route, grp, timing, opened, last, flush, digest in self.db.execute(
                "SELECT receiver, route, grp, timing, opened_at, last_flushed_at, flush_at, "
                "digest FROM part_groups WHERE part = ?", (part,)):
            wait, interval, repeat = json.loads(timing)
            states[(receiver, route, grp)] = GroupState(
                key=(receiver, route, grp), timing=Timing.of_seconds(wait, interval, repeat),
                opened_at=_dt(opened) or datetime.now(UTC), last_flushed_at=_dt(last),
                flush_at=_dt(flush), digest=bool(digest))
        for receiver, route, grp, payload in self.db.execute(
                "SELECT receiver, route, grp, payload FROM pending WHERE part = ?", (part,)):
            dev = Development.model_validate_json(payload)
            state = states.get((receiver, route, grp))
            if state is not None:
                state.pending.append(PendingItem(dev, route, receiver))
        for state in states.values():
            state.pending.sort(key=lambda p: (p.development.detected_at,
                                              p.development.development_id))
        return list(states.values())

    # -- flushing ----------------------------------------------------------------------------

    @staticmethod
    def enqueue(db: sqlite3.Connection, n: Notification, now: datetime, part: int) -> bool:
        """Queue a notification and drop its developments from pending, in the caller's tx."""
        cur = db.execute(
            "INSERT OR IGNORE INTO outbox VALUES (?, ?, ?, 'queued', 0, ?, ?, ?, NULL, ?)",
            (n.notification_id, n.receiver, n.model_dump_json(), now.timestamp(), _iso(now),
             _iso(now), part))
        db.executemany("DELETE FROM pending WHERE receiver = ? AND development_id = ?",
                       [(n.receiver, d) for d in n.development_ids])
        return cur.rowcount == 1

    def thread(self, receiver: str, story_id: str) -> tuple[str, ...]:
        row = self.db.execute("SELECT thread FROM stories WHERE receiver = ? AND story_id = ?",
                              (receiver, story_id)).fetchone()
        return tuple(json.loads(row[0])) if row else ()

    def story_known(self, receiver: str, story_id: str) -> bool:
        return bool(self.thread(receiver, story_id))

    @staticmethod
    def extend_thread(db: sqlite3.Connection, receiver: str, story_id: str,
                      message_id: str, part: int) -> None:
        row = db.execute("SELECT thread FROM stories WHERE receiver = ? AND story_id = ?",
                         (receiver, story_id)).fetchone()
        thread: list[str] = json.loads(row[0]) if row else []
        if message_id not in thread:
            # The first message stays first; References keep the first and the latest few.
            thread = [*thread, message_id]
            thread = thread[:1] + thread[1:][-9:]
        db.execute("INSERT OR REPLACE INTO stories VALUES (?, ?, ?, ?)",
                   (receiver, story_id, json.dumps(thread), part))

    # -- delivery ----------------------------------------------------------------------------

    def due(self, now: datetime, parts: Iterable[int], limit: int = 100) -> list[OutboxRow]:
        """Notifications of the partitions ``parts`` due now."""
        rows = self.db.execute(
            "SELECT payload, state, attempts, next_attempt_at, error, part FROM outbox "
            "WHERE state IN ('queued', 'sending') AND next_attempt_at <= ? AND part IN "
            "(SELECT value FROM json_each(?)) ORDER BY next_attempt_at, created_at LIMIT ?",
            (now.timestamp(), json.dumps(sorted(parts)), limit))
        return [OutboxRow(Notification.model_validate_json(p), s, a, t, e, part)
                for p, s, a, t, e, part in rows]

    def next_attempt(self, parts: Iterable[int]) -> float | None:
        row = self.db.execute(
            "SELECT min(next_attempt_at) FROM outbox WHERE state IN ('queued', 'sending') "
            "AND part IN (SELECT value FROM json_each(?))", (json.dumps(sorted(parts)),)
        ).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def interrupted(self) -> list[str]:
        return [r[0] for r in self.db.execute(
            "SELECT notification_id FROM outbox WHERE state = 'sending'")]

    def mark_sending(self, nid: str, attempts: int, now: datetime) -> None:
        with self.tx() as db:
            db.execute("UPDATE outbox SET state = 'sending', attempts = ?, updated_at = ? "
                       "WHERE notification_id = ?", (attempts, _iso(now), nid))

    @staticmethod
    def mark_done(db: sqlite3.Connection, nid: str, state: str, *, attempts: int,
                  now: datetime, error: str | None = None) -> None:
        """``sent`` or ``dead``, in the caller's transaction (with the record that reports it)."""
        db.execute("UPDATE outbox SET state = ?, attempts = ?, updated_at = ?, error = ? "
                   "WHERE notification_id = ?", (state, attempts, _iso(now), error, nid))

    @staticmethod
    def mark_retry(db: sqlite3.Connection, nid: str, *, attempts: int, next_at: datetime,
                   now: datetime, error: str) -> None:
        """Queued again for ``next_at``, in the caller's transaction (with its record)."""
        db.execute("UPDATE outbox SET state = 'queued', attempts = ?, next_attempt_at = ?, "
                   "updated_at = ?, error = ? WHERE notification_id = ?",
                   (attempts, next_at.timestamp(), _iso(now), error, nid))

    def outbox_counts(self) -> dict[str, int]:
        return {s: n for s, n in self.db.execute(
            "SELECT state, count(*) FROM outbox GROUP BY state")}

    def dead(self) -> list[tuple[str, str, str | None]]:
        return list(self.db.execute(
            "SELECT notification_id, receiver, error FROM outbox WHERE state = 'dead' "
            "ORDER BY updated_at"))

    # -- records of an older release ----------------------------------------------------------

    def legacy_records(self) -> list[DeliveryRecord] | None:
        """The records an older release left in its own ``records`` table (None: no table)."""
        if not self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                               "AND name = 'records'").fetchone():
            return None
        return [DeliveryRecord.model_validate_json(p) for p, in self.db.execute(
            "SELECT payload FROM records ORDER BY seq")]

    def drop_legacy_records(self) -> None:
        """The ``records`` table goes, once what it held is on the bus."""
        with self.tx() as db:
            db.execute("DROP TABLE IF EXISTS records")

    # -- silences ----------------------------------------------------------------------------

    def add_silence(self, s: ActiveSilence, now: datetime) -> ActiveSilence:
        sid = s.silence_id or uuid.uuid4().hex[:10]
        with self.tx() as db:
            db.execute("INSERT INTO silences VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (sid, s.issue, s.source, s.keyword, _iso(s.starts_at), _iso(s.ends_at),
                        s.comment, _iso(now)))
        return ActiveSilence(sid, s.issue, s.source, s.keyword, s.starts_at, s.ends_at,
                             s.comment)

    def remove_silence(self, silence_id: str) -> bool:
        with self.tx() as db:
            return db.execute("DELETE FROM silences WHERE silence_id = ?",
                              (silence_id,)).rowcount == 1

    def silences(self) -> list[ActiveSilence]:
        return [ActiveSilence(sid, issue, source, keyword, _dt(start), _dt(end), comment)
                for sid, issue, source, keyword, start, end, comment, _ in self.db.execute(
                    "SELECT * FROM silences ORDER BY created_at")]

    def silences_version(self) -> tuple[int, Any]:
        """Changes when silences change (cheap to poll every step)."""
        row = self.db.execute("SELECT count(*), max(created_at) FROM silences").fetchone()
        return (int(row[0]), row[1])

    def claim_counts(self) -> dict[str, int]:
        return {s: n for s, n in self.db.execute(
            "SELECT status, count(*) FROM claims GROUP BY status")}


def _migrate(db: sqlite3.Connection) -> None:
    """Tables as this release keeps them; the rows of a log written before partitions were
    kept become partition 0's."""
    db.executescript(_SCHEMA)
    for table in ("claims", "pending", "outbox", "stories"):
        columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if "part" not in columns:
            db.execute(f"ALTER TABLE {table} ADD COLUMN part INTEGER NOT NULL DEFAULT 0")
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'groups'").fetchone():
        db.executescript("BEGIN; INSERT OR IGNORE INTO part_groups SELECT 0, * FROM groups; "
                         "DROP TABLE groups; COMMIT;")
