"""The processors' durable state: one SQLite file under ``data_dir``, rows keyed by partition.

What is kept, and under which partition (the partition of the input topic the row came from,
so that the owner of a partition owns its rows):

- the handled offsets and the output events (an outbox) of each step: kept by
  ``peacewatch.ledger``, which also copies every change of the tables below to the step's
  changelog topic, and restores a partition's rows from it when the partition moves here;
- ``seen`` / ``exact_keys`` (first step): items already classified, by id and revision, each
  with its exact-copy keys; and the first item that had each key. ``exact_keys`` is not logged:
  it is rebuilt from the seen items (``rebuild_exact_keys``), so an item costs one changelog
  message, not three; and an item that had no output (matched no issue) costs none.
- ``placed`` / ``nd_keys`` / ``stories`` / ``developments`` (second step, per issue): items
  placed in stories with their fingerprints, the near-duplicate index, the stories, and every
  development ever emitted (whose id is never emitted again). The index is not logged: it is
  rebuilt from the placed items' fingerprints (``rebuild_index``).

Several processes may share the file (SQLite WAL; one writer at a time).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from peacewatch.errors import ProcessorError
from peacewatch.models import Development, Severity, SourceRef
from peacewatch.sqlite import immediate, open_state
from processors.stories import Seen, Story

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    item_id TEXT PRIMARY KEY, part INTEGER NOT NULL, revision INTEGER NOT NULL,
    content_hash TEXT NOT NULL, at REAL NOT NULL, keys TEXT NOT NULL DEFAULT '[]',
    published INTEGER NOT NULL DEFAULT 1
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS exact_keys (
    key TEXT PRIMARY KEY, item_id TEXT NOT NULL, part INTEGER NOT NULL, at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS placed (
    issue TEXT NOT NULL, item_id TEXT NOT NULL, part INTEGER NOT NULL, revision INTEGER NOT NULL,
    story_id TEXT NOT NULL, title_words TEXT NOT NULL, body_sig BLOB NOT NULL,
    body_words INTEGER NOT NULL, text TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (issue, item_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS nd_keys (
    issue TEXT NOT NULL, key TEXT NOT NULL, item_id TEXT NOT NULL, part INTEGER NOT NULL,
    at REAL NOT NULL, PRIMARY KEY (issue, key, item_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stories (
    issue TEXT NOT NULL, story_id TEXT NOT NULL, part INTEGER NOT NULL, data TEXT NOT NULL,
    first_seen REAL NOT NULL, last_seen REAL NOT NULL, PRIMARY KEY (issue, story_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS stories_by_time ON stories (issue, last_seen);
CREATE TABLE IF NOT EXISTS developments (
    development_id TEXT PRIMARY KEY, issue TEXT NOT NULL, story_id TEXT NOT NULL,
    part INTEGER NOT NULL, data TEXT NOT NULL, detected_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS developments_by_story ON developments (issue, story_id);
"""


@dataclass(frozen=True, slots=True)
class PlacedItem:
    item_id: str
    revision: int
    story_id: str
    title_words: frozenset[str]
    body_sig: bytes
    body_words: int
    text: str
    at: float


def _ts(dt: datetime) -> float:
    return dt.timestamp()


def story_to_json(story: Story) -> str:
    return json.dumps({
        "story_id": story.story_id, "issue_id": story.issue_id, "headline": story.headline,
        "first_seen": story.first_seen.isoformat(), "last_seen": story.last_seen.isoformat(),
        "recent": [_seen_json(s) for s in story.recent],
        "item_ids": story.item_ids,
        "sources": [s.model_dump(mode="json", exclude={"schema_version"}) for s in story.sources],
        "severity": int(story.severity), "actions": story.actions, "parties": story.parties,
        "entities": story.entities, "baseline": story.baseline,
        "told": [_seen_json(s) for s in story.told],
    }, ensure_ascii=False)


def story_from_json(data: str) -> Story:
    raw: dict[str, Any] = json.loads(data)
    return Story(
        story_id=raw["story_id"], issue_id=raw["issue_id"], headline=raw["headline"],
        first_seen=datetime.fromisoformat(raw["first_seen"]),
        last_seen=datetime.fromisoformat(raw["last_seen"]),
        # A story written before stories kept their reports has none to compare with.
        recent=[_seen_from(s) for s in raw.get("recent", [])],
        item_ids=list(raw["item_ids"]),
        # Written by story_to_json from valid models: no need to validate them again.
        sources=[SourceRef.model_construct(**s) for s in raw["sources"]],
        severity=Severity(raw["severity"]), actions=list(raw["actions"]),
        parties=list(raw["parties"]), entities=list(raw.get("entities", [])),
        baseline=bool(raw["baseline"]),
        told=[_seen_from(s) for s in raw["told"]] if "told" in raw else _legacy_told(raw),
    )


def _seen_json(s: Seen) -> list[Any]:
    return [s.item_id, s.at.isoformat(), s.source, s.vector, s.language]


def _seen_from(row: list[Any]) -> Seen:
    return Seen(row[0], datetime.fromisoformat(row[1]), row[2], row[3], row[4])


def _legacy_told(raw: dict[str, Any]) -> list[Seen]:
    """A story written by the release before kept no reports: it had made its developments,
    and with no report to compare with, no later item joins it."""
    return [Seen(raw["item_ids"][-1], datetime.fromisoformat(raw["last_seen"]), "", {})]


_FILE_LOCKS: dict[Path, threading.RLock] = {}
_FILE_LOCKS_GUARD = threading.Lock()


def _file_lock(path: Path) -> threading.RLock:
    """One lock per state file in this process. The two steps write the same file from two
    threads; SQLite alone would make the second writer poll with sleeps of up to 100 ms,
    where a lock hands over as soon as the first commits. Other processes still meet
    SQLite's own lock."""
    with _FILE_LOCKS_GUARD:
        return _FILE_LOCKS.setdefault(path.resolve(), threading.RLock())


class ProcessorState:
    """The SQLite state; every method is one statement, grouped by ``transaction()``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = open_state(path, error=ProcessorError, what="processor state", schema=_SCHEMA)
        self._lock = _file_lock(path)
        self._migrate()

    def _migrate(self) -> None:
        """A state file of the release before: seen items had no keys column, and exact keys
        were logged (their triggers go; the keys of items seen then are kept locally)."""
        with self.transaction():
            columns = {r[1] for r in self._q("PRAGMA table_info(seen)")}
            if "keys" not in columns:
                self._q("ALTER TABLE seen ADD COLUMN keys TEXT NOT NULL DEFAULT '[]'")
            if "published" not in columns:
                self._q("ALTER TABLE seen ADD COLUMN published INTEGER NOT NULL DEFAULT 1")
            for event in ("insert", "update", "delete"):
                self._q(f"DROP TRIGGER IF EXISTS ledger_exact_keys_{event}")

    @property
    def db(self) -> sqlite3.Connection:
        return self._db

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One writer at a time; everything inside commits together or not at all."""
        with self._lock, immediate(self._db, error=ProcessorError,
                                   what=f"processor state {self.path}"):
            yield

    def _q(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        try:
            return self._db.execute(sql, tuple(params))
        except sqlite3.Error as exc:
            raise ProcessorError(f"processor state {self.path}: {exc}") from exc

    # -- first step: seen items ---------------------------------------------------------------

    def seen(self, item_id: str) -> tuple[int, str] | None:
        row = self._q("SELECT revision, content_hash FROM seen WHERE item_id = ?",
                      (item_id,)).fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def mark_seen(self, item_id: str, part: int, revision: int, content_hash: str,
                  keys: Iterable[str], *, published: bool = True) -> None:
        """Keeps the time the item was first seen: the exact keys are rebuilt in that order.
        ``published``: the item had an output (only those are logged to the changelog)."""
        self._q("INSERT INTO seen VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (item_id) DO UPDATE "
                "SET part = excluded.part, revision = excluded.revision, "
                "content_hash = excluded.content_hash, keys = excluded.keys, "
                "published = excluded.published",
                (item_id, part, revision, content_hash, time.time(), json.dumps(list(keys)),
                 int(published)))

    def exact_owner(self, keys: Iterable[str]) -> str | None:
        for key in keys:
            row = self._q("SELECT item_id FROM exact_keys WHERE key = ?", (key,)).fetchone()
            if row:
                return str(row[0])
        return None

    def claim_keys(self, keys: Iterable[str], item_id: str, part: int,
                   at: float | None = None) -> None:
        now = time.time() if at is None else at
        for key in keys:
            self._q("INSERT OR IGNORE INTO exact_keys VALUES (?, ?, ?, ?)",
                    (key, item_id, part, now))

    def rebuild_exact_keys(self, part: int) -> None:
        """A partition's exact keys again, from its seen items, the first seen first."""
        self._q("DELETE FROM exact_keys WHERE part = ?", (part,))
        for item_id, keys, at in self._q("SELECT item_id, keys, at FROM seen WHERE part = ? "
                                         "ORDER BY at, item_id", (part,)).fetchall():
            self.claim_keys(json.loads(keys), item_id, part, at)

    # -- second step: placed items and the near-duplicate index --------------------------------

    def placed(self, issue: str, item_id: str) -> PlacedItem | None:
        row = self._q("SELECT item_id, revision, story_id, title_words, body_sig, body_words, "
                      "text, at FROM placed WHERE issue = ? AND item_id = ?",
                      (issue, item_id)).fetchone()
        return self._placed(row) if row else None

    @staticmethod
    def _placed(row: tuple[Any, ...]) -> PlacedItem:
        return PlacedItem(row[0], int(row[1]), row[2], frozenset(row[3].split()), row[4],
                          int(row[5]), row[6], float(row[7]))

    def save_placed(self, issue: str, part: int, item: PlacedItem) -> None:
        self._q("INSERT OR REPLACE INTO placed VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (issue, item.item_id, part, item.revision, item.story_id,
                 " ".join(sorted(item.title_words)), item.body_sig, item.body_words,
                 item.text, item.at))

    def keep_fuller(self, issue: str, item_id: str, text: str) -> None:
        """A placed item's text, when ``text`` is longer (the first copy stands, with the
        fuller text of a later one)."""
        self._q("UPDATE placed SET text = ? WHERE issue = ? AND item_id = ? "
                "AND length(text) < length(?)", (text, issue, item_id, text))

    def candidates(self, issue: str, keys: Iterable[str], since: float,
                   limit: int) -> list[PlacedItem]:
        """Placed items sharing index keys: those sharing the most first (then the most
        recent), at most ``limit``."""
        keys = list(keys)
        if not keys:
            return []
        marks = ",".join("?" * len(keys))
        rows = self._q(
            # Only "?" placeholders are formatted in; the values are bound parameters.
            f"SELECT item_id, count(*) AS n, max(at) AS t FROM nd_keys WHERE issue = ? "  # noqa: S608
            f"AND key IN ({marks}) AND at >= ? GROUP BY item_id ORDER BY n DESC, t DESC "
            "LIMIT ?", (issue, *keys, since, limit)).fetchall()
        if not rows:
            return []
        order = {r[0]: n for n, r in enumerate(rows)}
        marks = ",".join("?" * len(order))
        placed = [self._placed(r) for r in self._q(
            # Only "?" placeholders are formatted in; the values are bound parameters. The
            # text is left out (candidates are many; see placed() for one item's text).
            "SELECT item_id, revision, story_id, title_words, body_sig, body_words, '', at "  # noqa: S608
            f"FROM placed WHERE issue = ? AND item_id IN ({marks})",
            (issue, *order))]
        return sorted(placed, key=lambda p: order[p.item_id])

    def rebuild_index(self, part: int, keys_of: Callable[[PlacedItem], Iterable[str]]) -> None:
        """The near-duplicate index of a partition again, from its placed items."""
        self._q("DELETE FROM nd_keys WHERE part = ?", (part,))
        for row in self._q("SELECT issue, item_id, revision, story_id, title_words, body_sig, "
                           "body_words, '', at FROM placed WHERE part = ?", (part,)).fetchall():
            placed = self._placed(row[1:])
            self.index(row[0], part, placed.item_id, keys_of(placed), placed.at)

    def index(self, issue: str, part: int, item_id: str, keys: Iterable[str], at: float) -> None:
        try:
            self._db.executemany("INSERT OR IGNORE INTO nd_keys VALUES (?, ?, ?, ?, ?)",
                                 [(issue, key, item_id, part, at) for key in keys])
        except sqlite3.Error as exc:
            raise ProcessorError(f"processor state {self.path}: {exc}") from exc

    # -- stories and developments ------------------------------------------------------------

    def stories(self, issue: str, since: float, until: float | None = None) -> list[Story]:
        """An issue's stories last seen at or after ``since`` (and before ``until``)."""
        rows = self._q("SELECT data FROM stories WHERE issue = ? AND last_seen >= ? "
                       "AND last_seen < ? ORDER BY first_seen",
                       (issue, since, float("inf") if until is None else until)).fetchall()
        return [story_from_json(r[0]) for r in rows]

    def story(self, issue: str, story_id: str) -> Story | None:
        row = self._q("SELECT data FROM stories WHERE issue = ? AND story_id = ?",
                      (issue, story_id)).fetchone()
        return story_from_json(row[0]) if row else None

    def save_story(self, story: Story, part: int) -> None:
        self._q("INSERT OR REPLACE INTO stories VALUES (?, ?, ?, ?, ?, ?)",
                (story.issue_id, story.story_id, part, story_to_json(story),
                 _ts(story.first_seen), _ts(story.last_seen)))

    def has_development(self, development_id: str) -> bool:
        return self._q("SELECT 1 FROM developments WHERE development_id = ?",
                       (development_id,)).fetchone() is not None

    def save_development(self, development: Development, part: int) -> None:
        self._q("INSERT INTO developments VALUES (?, ?, ?, ?, ?, ?)",
                (development.development_id, development.issue_id, development.story_id, part,
                 development.model_dump_json(), _ts(development.detected_at)))

    def timeline(self, issue: str) -> list[tuple[Story | None, list[Development]]]:
        """An issue's developments, grouped by story in the order the stories began, each with
        its story while the state still keeps it (developments outlive story retention)."""
        stories = {s.story_id: s for s in (story_from_json(r[0]) for r in self._q(
            "SELECT data FROM stories WHERE issue = ?", (issue,)))}
        devs: dict[str, list[Development]] = {}
        for (data,) in self._q("SELECT data FROM developments WHERE issue = ?", (issue,)):
            d = Development.model_validate_json(data)
            devs.setdefault(d.story_id, []).append(d)
        for story_id in stories:
            devs.setdefault(story_id, [])
        for items in devs.values():
            items.sort(key=lambda d: (d.first_seen, d.detected_at))

        def began(story_id: str) -> datetime:
            story = stories.get(story_id)
            return story.first_seen if story is not None else devs[story_id][0].first_seen

        return [(stories.get(sid), devs[sid]) for sid in sorted(devs, key=lambda i: (began(i), i))]

    def developments(self) -> list[Development]:
        """Every development emitted, oldest first."""
        return [Development.model_validate_json(r[0]) for r in self._q(
            "SELECT data FROM developments ORDER BY detected_at, development_id")]

    def placements(self) -> dict[tuple[str, str], str]:
        """(issue, item id) -> story id, for the items still in the index."""
        return {(r[0], r[1]): r[2] for r in self._q("SELECT issue, item_id, story_id FROM placed")}

    def issues(self) -> list[str]:
        return [r[0] for r in self._q("SELECT DISTINCT issue FROM stories ORDER BY issue")]

    # -- housekeeping ------------------------------------------------------------------------

    def prune_seen(self, *, before: float) -> None:
        """Forget the seen items and exact keys processed before ``before`` (first step)."""
        with self.transaction():
            self._q("DELETE FROM seen WHERE at < ?", (before,))
            self._q("DELETE FROM exact_keys WHERE at < ?", (before,))

    def prune_stories(self, *, index_before: float, stories_before: float) -> None:
        """Forget, by item time, the near-duplicate index and the stories (second step)."""
        with self.transaction():
            self._q("DELETE FROM nd_keys WHERE at < ?", (index_before,))
            self._q("DELETE FROM placed WHERE at < ?", (index_before,))
            self._q("DELETE FROM stories WHERE last_seen < ?", (stories_before,))
