"""The embedded bus: Kafka's semantics in one SQLite file, for a machine with no broker.

WAL mode with ``synchronous=NORMAL`` keeps every committed transaction through a ``kill -9`` of
any process using the file. A write SQLite cannot make (a full disk, an I/O error, a lock held
too long) is ``BusUnavailable``: nothing was written, and the same write may be tried again.

Several processes may share the file: a consumer group's partitions are leased to its live
members (a member is live while it keeps polling), so two members never own one partition at
once, and a member that dies loses its leases after ``member_timeout_s``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from peacewatch.bus.base import (
    Bus,
    Consumer,
    PartitionLog,
    Producer,
    Record,
    TopicConfig,
    next_offsets,
    partition_for,
)
from peacewatch.errors import BusError, BusUnavailable, CommitFailed
from peacewatch.sqlite import immediate, open_state

_SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (
    name TEXT PRIMARY KEY, partitions INTEGER NOT NULL, compact INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS log (
    topic TEXT NOT NULL, part INTEGER NOT NULL, off INTEGER NOT NULL,
    key TEXT, value BLOB NOT NULL, ts INTEGER NOT NULL,
    PRIMARY KEY (topic, part, off)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS committed (
    grp TEXT NOT NULL, topic TEXT NOT NULL, part INTEGER NOT NULL, next_off INTEGER NOT NULL,
    PRIMARY KEY (grp, topic, part)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS members (
    grp TEXT NOT NULL, member TEXT NOT NULL, topics TEXT NOT NULL, seen REAL NOT NULL,
    PRIMARY KEY (grp, member)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS owners (
    grp TEXT NOT NULL, topic TEXT NOT NULL, part INTEGER NOT NULL, member TEXT NOT NULL,
    PRIMARY KEY (grp, topic, part)
) WITHOUT ROWID;
"""

# A compacted topic keeps the latest message per key once this many were written to it.
_COMPACT_EVERY = 5000
# How often a consumer renews its membership and re-reads the group's assignment.
_SYNC_INTERVAL_S = 0.5


def connect(path: Path) -> sqlite3.Connection:
    """A connection tuned for a shared, crash-safe log."""
    return open_state(path, error=BusError, what="embedded bus")


def _writing(conn: sqlite3.Connection) -> AbstractContextManager[sqlite3.Connection]:
    """One writer at a time, rollback on error."""
    return immediate(conn, error=BusUnavailable, what="embedded bus")


@contextmanager
def _sqlite_errors(what: str) -> Iterator[None]:
    """sqlite3's errors as the bus's: a write that could not be made is worth retrying."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise BusUnavailable(f"embedded bus: {what}: {exc}") from exc
    except sqlite3.Error as exc:
        raise BusError(f"embedded bus: {what}: {exc}") from exc


class EmbeddedBus(Bus):
    backend = "embedded"

    def __init__(
        self, path: Path, *, member_timeout_s: float = 10.0, poll_interval_s: float = 0.02
    ) -> None:
        self.path = path
        self.member_timeout_s = member_timeout_s
        self.poll_interval_s = poll_interval_s
        self._conn = connect(path)
        self._conn.executescript(_SCHEMA)
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(topics)")}
        if "compact" not in columns:  # a bus file written before changelogs
            self._conn.execute(
                "ALTER TABLE topics ADD COLUMN compact INTEGER NOT NULL DEFAULT 0")

    def ensure_topics(self, topics: Sequence[TopicConfig]) -> None:
        with _writing(self._conn) as db:
            db.executemany(
                "INSERT OR IGNORE INTO topics (name, partitions, compact) VALUES (?, ?, ?)",
                [(t.name, t.partitions, int(t.compact)) for t in topics],
            )

    def read_partitions(self, topic: str, partitions: Iterable[int], *,
                        latest_per_key: bool = False,
                        commit_key: str | None = None) -> dict[int, list[Record]]:
        out: dict[int, list[Record]] = {}
        with _sqlite_errors(f"reading {topic}"):
            for part in partitions:
                log = PartitionLog(latest_per_key=latest_per_key, commit_key=commit_key)
                for off, key, value, ts in self._conn.execute(
                        "SELECT off, key, value, ts FROM log WHERE topic = ? AND part = ? "
                        "ORDER BY off", (topic, part)):
                    log.add(Record(topic, part, off, key, value, ts))
                out[part] = log.records()
        return out

    def producer(self) -> EmbeddedProducer:
        return EmbeddedProducer(connect(self.path))

    def consumer(self, group: str, topics: Sequence[str]) -> EmbeddedConsumer:
        return EmbeddedConsumer(
            connect(self.path), group, list(topics),
            member_timeout_s=self.member_timeout_s, poll_interval_s=self.poll_interval_s,
        )

    def check(self, timeout_s: float | None = None) -> None:
        try:
            self._conn.execute("SELECT count(*) FROM topics").fetchone()
        except sqlite3.Error as exc:
            raise BusError(f"embedded bus {self.path} does not answer: {exc}") from exc

    def close(self) -> None:
        self._conn.close()


def _partition_counts(db: sqlite3.Connection) -> dict[str, int]:
    return {name: n for name, n in db.execute("SELECT name, partitions FROM topics")}


class EmbeddedProducer(Producer):
    """Writes queue in memory and land in one transaction per flush (or per 1,000 messages)."""

    _BATCH = 1000

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._db = conn
        self._lock = threading.Lock()
        self._pending: list[tuple[str, int, str | None, bytes, int]] = []
        self._partitions: dict[str, int] = {}
        self._round_robin = 0
        # Messages written to each compacted topic since it was last compacted.
        self._to_compact: dict[str, int] = {}

    def _partition(self, topic: str, key: str | None, partition: int | None) -> int:
        n = self._partitions.get(topic)
        if n is None:
            self._partitions = _partition_counts(self._db)
            self._to_compact = {name: 0 for name, in self._db.execute(
                "SELECT name FROM topics WHERE compact = 1")}
            n = self._partitions.get(topic)
            if n is None:
                raise BusError(f"embedded bus: topic {topic!r} does not exist")
        if partition is not None:
            if not 0 <= partition < n:
                raise BusError(f"embedded bus: {topic} has no partition {partition}")
            return partition
        if key is None:
            self._round_robin += 1
            return self._round_robin % n
        return partition_for(key, n)

    def publish(self, topic: str, value: bytes, key: str | None = None,
                partition: int | None = None) -> None:
        with self._lock:
            part = self._partition(topic, key, partition)
            self._pending.append((topic, part, key, value, int(time.time() * 1000)))
            if len(self._pending) >= self._BATCH:
                self._write()

    def flush(self, timeout_s: float = 30.0) -> None:
        with self._lock:
            self._write()

    def _write(self) -> None:
        if not self._pending:
            return
        ends: dict[tuple[str, int], int] = {}
        with _sqlite_errors("publish failed"), _writing(self._db) as db:
            rows = []
            for topic, part, key, value, ts in self._pending:
                tp = (topic, part)
                if tp not in ends:
                    row = db.execute(
                        "SELECT max(off) FROM log WHERE topic = ? AND part = ?", tp
                    ).fetchone()
                    ends[tp] = -1 if row[0] is None else row[0]
                ends[tp] += 1
                rows.append((topic, part, ends[tp], key, value, ts))
            db.executemany("INSERT INTO log VALUES (?, ?, ?, ?, ?, ?)", rows)
            for topic, _part, *_ in self._pending:
                if topic in self._to_compact:
                    self._to_compact[topic] += 1
            for topic, written in self._to_compact.items():
                if written >= _COMPACT_EVERY:
                    _compact(db, topic)
                    self._to_compact[topic] = 0
        self._pending.clear()

    def close(self) -> None:
        self.flush()
        self._db.close()


def _compact(db: sqlite3.Connection, topic: str) -> None:
    """Keep the latest message per key of a topic (offsets stay as they were: a reader skips
    the gaps, as on a compacted Kafka topic)."""
    db.execute(
        "DELETE FROM log WHERE topic = ? AND (part, off) IN (SELECT part, off FROM ("
        "SELECT part, off, row_number() OVER (PARTITION BY part, key ORDER BY off DESC) AS n "
        "FROM log WHERE topic = ? AND key IS NOT NULL) WHERE n > 1)", (topic, topic))


class EmbeddedConsumer(Consumer):
    def __init__(
        self,
        conn: sqlite3.Connection,
        group: str,
        topics: list[str],
        *,
        member_timeout_s: float,
        poll_interval_s: float,
    ) -> None:
        self._db = conn
        self.group = group
        self.topics = topics
        self.member = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._timeout = member_timeout_s
        self._poll_interval = poll_interval_s
        self._positions: dict[tuple[str, int], int] = {}
        self._last_sync = 0.0
        self._data_version = -1
        self._closed = False
        known = _partition_counts(self._db)
        missing = [t for t in topics if t not in known]
        if missing:
            raise BusError(f"embedded bus: topics {missing} do not exist")

    # -- group membership -------------------------------------------------------------------

    def _sync(self) -> None:
        """Renew membership, hand back partitions now meant for others, take free ones."""
        now = time.time()
        with _writing(self._db) as db:
            db.execute(
                "INSERT OR REPLACE INTO members VALUES (?, ?, ?, ?)",
                (self.group, self.member, json.dumps(self.topics), now),
            )
            db.execute(
                "DELETE FROM members WHERE grp = ? AND seen < ?", (self.group, now - self._timeout)
            )
            live = {m: json.loads(t) for m, t in db.execute(
                "SELECT member, topics FROM members WHERE grp = ?", (self.group,))}
            db.execute(
                # Only "?" placeholders are formatted in; the values are bound parameters.
                f"DELETE FROM owners WHERE grp = ? AND member NOT IN ({','.join('?' * len(live))})",  # noqa: S608
                (self.group, *live),
            )
            wanted = self._wanted(live, _partition_counts(db))
            owners = {(t, p): m for t, p, m in db.execute(
                "SELECT topic, part, member FROM owners WHERE grp = ?", (self.group,))}
            for tp, owner in owners.items():
                if owner == self.member and tp not in wanted:
                    db.execute("DELETE FROM owners WHERE grp = ? AND topic = ? AND part = ?",
                               (self.group, *tp))
            for tp in wanted:
                if tp not in owners:
                    db.execute("INSERT INTO owners VALUES (?, ?, ?, ?)",
                               (self.group, *tp, self.member))
            mine = {tp for tp, m in owners.items() if m == self.member and tp in wanted}
            mine |= {tp for tp in wanted if tp not in owners}
            committed = self._committed(db)
        if mine != set(self._positions):
            self._data_version = -1  # newly owned partitions must be read even if nothing changed
        self._positions = {tp: self._positions.get(tp, committed.get(tp, 0)) for tp in mine}
        self._last_sync = now

    def _wanted(self, live: dict[str, list[str]], counts: dict[str, int]) -> set[tuple[str, int]]:
        """Partition i of a topic goes to the (i mod n)-th of its n subscribers, sorted by id."""
        wanted = set()
        for topic in self.topics:
            subscribers = sorted(m for m, ts in live.items() if topic in ts)
            me = subscribers.index(self.member)
            for part in range(counts[topic]):
                if part % len(subscribers) == me:
                    wanted.add((topic, part))
        return wanted

    def _committed(self, db: sqlite3.Connection) -> dict[tuple[str, int], int]:
        rows = db.execute(
            "SELECT topic, part, next_off FROM committed WHERE grp = ?", (self.group,)
        )
        return {(t, p): off for t, p, off in rows}

    # -- consuming ---------------------------------------------------------------------------

    def poll(self, timeout_s: float = 1.0, max_records: int = 500) -> list[Record]:
        with _sqlite_errors("poll failed"):
            deadline = time.monotonic() + timeout_s
            while True:
                if time.time() - self._last_sync >= _SYNC_INTERVAL_S:
                    self._sync()
                records = self._read(max_records)
                if records or time.monotonic() >= deadline:
                    return records
                time.sleep(min(self._poll_interval, max(0.0, deadline - time.monotonic())))

    def _read(self, max_records: int) -> list[Record]:
        # data_version changes only when another connection commits: skip reads while idle.
        version = self._db.execute("PRAGMA data_version").fetchone()[0]
        if version == self._data_version:
            return []
        records: list[Record] = []
        drained = True
        for (topic, part), pos in sorted(self._positions.items()):
            room = max_records - len(records)
            if room <= 0:
                drained = False
                break
            rows = self._db.execute(
                "SELECT off, key, value, ts FROM log WHERE topic = ? AND part = ? AND off >= ? "
                "ORDER BY off LIMIT ?",
                (topic, part, pos, room),
            ).fetchall()
            if len(rows) == room:
                drained = False
            for off, key, value, ts in rows:
                records.append(Record(topic, part, off, key, value, ts))
            if rows:
                self._positions[(topic, part)] = rows[-1][0] + 1
        if drained:
            self._data_version = version
        return records

    def commit(self, records: Sequence[Record], *, wait: bool = True) -> None:
        # A local write: waiting costs nothing, so a commit is always done on return.
        with _sqlite_errors("commit failed"):
            offsets = next_offsets(records)
            if not offsets:
                return
            with _writing(self._db) as db:
                for (topic, part), off in offsets.items():
                    owner = db.execute(
                        "SELECT member FROM owners WHERE grp = ? AND topic = ? AND part = ?",
                        (self.group, topic, part),
                    ).fetchone()
                    if owner is None or owner[0] != self.member:
                        raise CommitFailed(
                            f"embedded bus: partition {topic}[{part}] is no longer owned by "
                            f"this member of group {self.group!r}"
                        )
                    db.execute(
                        "INSERT INTO committed VALUES (?, ?, ?, ?) ON CONFLICT (grp, topic, part) "
                        "DO UPDATE SET next_off = max(next_off, excluded.next_off)",
                        (self.group, topic, part, off),
                    )

    def seek(self, positions: Mapping[tuple[str, int], int]) -> None:
        for tp, offset in positions.items():
            if tp in self._positions:
                self._positions[tp] = offset
        self._data_version = -1  # read again even if nothing was written since

    def assignment(self) -> set[tuple[str, int]]:
        with _sqlite_errors("assignment unknown"):
            if not self._last_sync:
                self._sync()
            return set(self._positions)

    def lag(self) -> dict[tuple[str, int], int]:
        with _sqlite_errors("consumer lag unknown"):
            if not self._last_sync:
                self._sync()
            committed = self._committed(self._db)
            out = {}
            for topic, part in self._positions:
                row = self._db.execute(
                    "SELECT max(off) FROM log WHERE topic = ? AND part = ?", (topic, part)
                ).fetchone()
                end = 0 if row[0] is None else row[0] + 1
                out[(topic, part)] = end - committed.get((topic, part), 0)
            return out

    def close(self) -> None:
        """Leave the group at once, so the others take over without waiting for a timeout."""
        if self._closed:
            return
        self._closed = True
        try:
            with _sqlite_errors("leaving the group"), _writing(self._db) as db:
                db.execute("DELETE FROM owners WHERE grp = ? AND member = ?",
                           (self.group, self.member))
                db.execute("DELETE FROM members WHERE grp = ? AND member = ?",
                           (self.group, self.member))
        finally:
            self._db.close()
