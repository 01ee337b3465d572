"""The collectors' durable state: items already published, and feed health. SQLite, WAL.

Both tables are keyed like the topics they belong to: published items by ``item_id`` (the key of
the raw topic), feed health by ``feed_id`` (the key of the feeds topic). Feed health, the
validators (ETag, Last-Modified) among it, is kept under the feed's partition of the feeds
topic and logged to the collectors' changelog (``peacewatch.ledger``), so that a feed that
moves to another collector is polled there with its validators. Several collector
processes on one machine share the file safely. Items are recorded as published in the same
transaction that queues them in the ledger's outbox (``collectors.sink``), so that an item
recorded is in the outbox or on the bus: a crash never loses one.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import astuple, dataclass, fields
from enum import Enum
from pathlib import Path
from typing import Any

from collectors.health import FeedHealth
from peacewatch.bus.base import partition_for
from peacewatch.bus.events import EventBus
from peacewatch.errors import CollectorError
from peacewatch.ledger import Ledger, Store
from peacewatch.metrics import Metrics
from peacewatch.models import RawItem
from peacewatch.sqlite import immediate, open_state

_SCHEMA = """
CREATE TABLE IF NOT EXISTS published (
    item_id TEXT PRIMARY KEY, content_hash TEXT NOT NULL, revision INTEGER NOT NULL,
    source TEXT NOT NULL, at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS feed_health (
    feed_id TEXT PRIMARY KEY, spec_url TEXT NOT NULL, url TEXT NOT NULL, interval_s REAL NOT NULL,
    etag TEXT, last_modified TEXT, last_success_at REAL, last_error TEXT, last_error_at REAL,
    failures INTEGER NOT NULL, next_poll_at REAL NOT NULL, disabled TEXT, last_status TEXT,
    part INTEGER NOT NULL DEFAULT -1
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS announced_feeds (
    feed_id TEXT PRIMARY KEY, spec_hash TEXT NOT NULL
) WITHOUT ROWID;
"""
_HEALTH_COLUMNS = tuple(f.name for f in fields(FeedHealth))
# SQLite limits bound parameters per statement; look-ups go in chunks below it.
_CHUNK = 900


class Novelty(Enum):
    NEW = "new"
    UPDATE = "update"
    KNOWN = "known"


@dataclass(frozen=True, slots=True)
class PublishedRecord:
    content_hash: str
    revision: int


def novelty(item: RawItem, known: PublishedRecord | None) -> tuple[Novelty, int]:
    """Whether an item is new, an edit of a published one (and its revision), or known."""
    if known is None:
        return Novelty.NEW, 0
    if known.content_hash == item.content_hash:
        return Novelty.KNOWN, known.revision
    return Novelty.UPDATE, known.revision + 1


class CollectorState:
    """Thread-safe access to the state file; one connection, one writer at a time."""

    def __init__(self, path: Path, partitions: int) -> None:
        self.path = path
        self._db = open_state(path, error=CollectorError, what="collector state", schema=_SCHEMA)
        self.lock = threading.RLock()
        self.partitions = partitions
        self._migrate()

    @property
    def db(self) -> sqlite3.Connection:
        return self._db

    def _migrate(self) -> None:
        """Feed health written before it was kept by partition gets its feed's partition."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(feed_health)")}
        if "part" not in columns:
            self._db.execute(
                "ALTER TABLE feed_health ADD COLUMN part INTEGER NOT NULL DEFAULT -1")
        with self._tx() as db:
            for (feed_id,) in db.execute(
                    "SELECT feed_id FROM feed_health WHERE part < 0").fetchall():
                db.execute("UPDATE feed_health SET part = ? WHERE feed_id = ?",
                           (self.part_of(feed_id), feed_id))

    def part_of(self, feed_id: str) -> int:
        """The feed's partition of the feeds topic: its health and its items are kept under it."""
        return partition_for(feed_id, self.partitions)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        what = f"collector state {self.path}"
        with self.lock:
            try:
                with immediate(self._db, error=CollectorError, what=what) as db:
                    yield db
            except sqlite3.Error as exc:
                raise CollectorError(f"{what}: {exc}") from exc

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        with self.lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise CollectorError(f"collector state {self.path}: {exc}") from exc

    # -- published items ---------------------------------------------------------------------

    def published(self, item_ids: Iterable[str]) -> dict[str, PublishedRecord]:
        ids = list(dict.fromkeys(item_ids))
        out: dict[str, PublishedRecord] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            rows = self._read(
                "SELECT item_id, content_hash, revision FROM published WHERE item_id IN "  # noqa: S608
                f"({','.join('?' * len(chunk))})", chunk)
            for item_id, chash, revision in rows:
                out[str(item_id)] = PublishedRecord(str(chash), int(revision))
        return out

    @staticmethod
    def record_published(db: sqlite3.Connection, items: Sequence[RawItem], at: float) -> None:
        """Inside the caller's transaction: the ledger's, that queues the items."""
        if items:
            db.executemany(
                "INSERT INTO published VALUES (?, ?, ?, ?, ?) ON CONFLICT (item_id) DO UPDATE "
                "SET content_hash = excluded.content_hash, revision = excluded.revision, "
                "at = excluded.at",
                [(i.item_id, i.content_hash, i.revision, i.source, at) for i in items],
            )

    def published_count(self) -> int:
        return int(self._read("SELECT count(*) FROM published")[0][0])

    # -- feed health ---------------------------------------------------------------------------

    def health(self, feed_ids: Iterable[str] | None = None) -> dict[str, FeedHealth]:
        columns = ", ".join(_HEALTH_COLUMNS)
        if feed_ids is None:
            rows = self._read(f"SELECT {columns} FROM feed_health")  # noqa: S608
        else:
            ids = list(feed_ids)
            rows = []
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start:start + _CHUNK]
                rows += self._read(
                    f"SELECT {columns} FROM feed_health WHERE feed_id IN "  # noqa: S608
                    f"({','.join('?' * len(chunk))})", chunk)
        return {str(row[0]): _health_from_row(row) for row in rows}

    def save_health(self, healths: Sequence[FeedHealth]) -> None:
        if not healths:
            return
        marks = ", ".join("?" * (len(_HEALTH_COLUMNS) + 1))
        with self._tx() as db:
            db.executemany(
                f"INSERT OR REPLACE INTO feed_health ({', '.join(_HEALTH_COLUMNS)}, part) "  # noqa: S608
                f"VALUES ({marks})",
                [(*_health_to_row(h), self.part_of(h.feed_id)) for h in healths],
            )

    # -- feed list announcements ---------------------------------------------------------------

    def announced(self) -> dict[str, str]:
        return {str(f): str(h) for f, h in self._read(
            "SELECT feed_id, spec_hash FROM announced_feeds")}

    def record_announced(self, specs: dict[str, str]) -> None:
        with self._tx() as db:
            db.executemany("INSERT OR REPLACE INTO announced_feeds VALUES (?, ?)",
                           list(specs.items()))

    def close(self) -> None:
        with self.lock:
            self._db.close()


def collector_ledger(state: CollectorState, events: EventBus, metrics: Metrics,
                     group: str) -> Ledger:
    """The collectors' ledger: it logs feed health to the collectors' changelog, and its
    outbox holds the items recorded as published until they are on the bus."""
    return Ledger(state.db, state.lock, name="collectors",
                  stores=[Store("feed_health", ("feed_id",))], events=events, metrics=metrics,
                  error=CollectorError, group=group)


def _health_to_row(h: FeedHealth) -> tuple[object, ...]:
    row = list(astuple(h))
    # SQLite keeps infinity, but a plain large number reads back the same on every platform.
    index = _HEALTH_COLUMNS.index("next_poll_at")
    if row[index] == float("inf"):
        row[index] = 1e18
    return tuple(row)


def _health_from_row(row: Sequence[Any]) -> FeedHealth:
    values = dict(zip(_HEALTH_COLUMNS, row, strict=True))
    if float(values["next_poll_at"]) >= 1e18:
        values["next_poll_at"] = float("inf")
    return FeedHealth(**values)
