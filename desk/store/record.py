"""The record: what the topics said, kept for analysts, and what analysts said back.

``RecordStore`` writes the projection of the topics (items, their issues with scores and
evidence, developments, stories, deliveries) idempotently, so that a redelivered message or a
rebuild writes the same rows again, and answers the reads of the API and the page. Pages of
results are keyset-paginated: a cursor is the sort key of the last row shown.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from desk.store.db import Database, Row
from desk.store.migrations import PROJECTION_TABLES, migrate
from peacewatch.models import ClassifiedItem, DeliveryRecord, Development, RawItem

VERDICTS = ("useful", "not_new", "wrong_issue")
_WORD = re.compile(r"\w+", re.UNICODE)
# Full-text queries are words; more than this many is not a search, it is a paste.
MAX_QUERY_WORDS = 12


def ts(dt: datetime | None) -> float | None:
    return dt.timestamp() if dt is not None else None


def iso(value: float | None) -> str | None:
    return datetime.fromtimestamp(value, UTC).isoformat() if value is not None else None


def query_words(q: str) -> list[str]:
    """The words of a search; punctuation and operators are not passed to the engine."""
    return _WORD.findall(q)[:MAX_QUERY_WORDS]


@dataclass(frozen=True)
class Filters:
    """What a search or a timeline is narrowed to; None: not narrowed."""

    q: str | None = None
    issue: str | None = None
    language: str | None = None
    source: str | None = None
    since: float | None = None
    until: float | None = None
    min_severity: int | None = None


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    next_cursor: tuple[Any, ...] | None


@dataclass
class Batch:
    """What one poll of the topics brought, written in one transaction."""

    raw: list[RawItem] = field(default_factory=list)
    classified: list[ClassifiedItem] = field(default_factory=list)
    developments: list[Development] = field(default_factory=list)
    deliveries: list[DeliveryRecord] = field(default_factory=list)

    def __len__(self) -> int:
        return (len(self.raw) + len(self.classified) + len(self.developments)
                + len(self.deliveries))


_ITEM_COLUMNS = ("item_id, source, source_kind, source_class, url, canonical_url, title, "
                 "summary, content, language, published_at, fetched_at, at, content_hash, "
                 "revision, baseline, kind, duplicate_of")
DEVELOPMENT_COLUMNS = "d.seq, d.development_id, d.first_seen, d.data"
ITEM_SELECT = ", ".join("i." + c.strip() for c in _ITEM_COLUMNS.split(","))


class RecordStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.applied = migrate(db)

    def close(self) -> None:
        self.db.close()

    # -- writing the projection ------------------------------------------------------------

    def write(self, batch: Batch) -> None:
        with self.db.transaction():
            for item in batch.raw:
                self._item(item, None)
            for classified in batch.classified:
                self._item(classified.item, classified)
            for development in batch.developments:
                self._development(development)
            for record in batch.deliveries:
                self._delivery(record)

    def _item(self, item: RawItem, classified: ClassifiedItem | None) -> None:
        at = ts(item.published_at or item.fetched_at)
        values = (item.item_id, item.source, item.source_kind, item.source_class, item.url,
                  item.canonical_url, item.title, item.summary, item.content,
                  (classified.language if classified else None) or item.language or None,
                  ts(item.published_at), ts(item.fetched_at), at, item.content_hash,
                  item.revision, int(item.baseline),
                  classified.kind if classified else None,
                  classified.duplicate_of if classified else None)
        # A later revision replaces the text; classification fills kind and language, and a raw
        # message arriving after its classification keeps them.
        self.db.execute(
            f"INSERT INTO items ({_ITEM_COLUMNS}) VALUES ({', '.join('?' * 18)}) "  # noqa: S608
            "ON CONFLICT (item_id) DO UPDATE SET "
            "source = excluded.source, source_class = excluded.source_class, "
            "url = excluded.url, title = excluded.title, summary = excluded.summary, "
            "content = excluded.content, language = coalesce(excluded.language, items.language), "
            "published_at = excluded.published_at, at = excluded.at, "
            "content_hash = excluded.content_hash, revision = excluded.revision, "
            "kind = coalesce(excluded.kind, items.kind), "
            "duplicate_of = coalesce(excluded.duplicate_of, items.duplicate_of) "
            "WHERE excluded.revision >= items.revision", values)
        if classified is not None:
            self.db.executemany(
                "INSERT INTO item_issues VALUES (?, ?, ?, ?, ?) ON CONFLICT (item_id, issue_id) "
                "DO UPDATE SET score = excluded.score, evidence = excluded.evidence",
                [(item.item_id, m.issue_id, m.score, json.dumps(m.evidence, ensure_ascii=False),
                  at) for m in classified.issues])

    def _development(self, d: Development) -> None:
        evidence = "\n".join(d.evidence)
        trigger = d.item_ids[-1] if d.item_ids else None
        changed = self.db.execute(
            "INSERT INTO developments (development_id, issue_id, story_id, kind, headline, "
            "evidence, severity, action, first_seen, detected_at, baseline, trigger_item, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (development_id) "
            "DO NOTHING",
            (d.development_id, d.issue_id, d.story_id, d.kind, d.headline, evidence,
             int(d.severity), d.action, ts(d.first_seen), ts(d.detected_at), int(d.baseline),
             trigger, d.model_dump_json()))
        if changed == 0:
            return  # a development never changes: this is a redelivery
        self.db.executemany(
            "INSERT INTO development_sources VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            [(d.development_id, s.source, s.source_class) for s in d.sources])
        self.db.executemany(
            "INSERT INTO development_items VALUES (?, ?) ON CONFLICT DO NOTHING",
            [(d.development_id, i) for i in d.item_ids])
        self.db.execute(
            "INSERT INTO stories VALUES (?, ?, ?, ?, ?, ?, 1) ON CONFLICT (story_id) DO UPDATE SET "
            "headline = CASE WHEN excluded.first_seen < stories.first_seen "
            "THEN excluded.headline ELSE stories.headline END, "
            "first_seen = min(stories.first_seen, excluded.first_seen), "
            "last_seen = max(stories.last_seen, excluded.last_seen), "
            "severity = max(stories.severity, excluded.severity), "
            "developments = stories.developments + 1"
            if self.db.dialect == "sqlite" else
            "INSERT INTO stories VALUES (?, ?, ?, ?, ?, ?, 1) ON CONFLICT (story_id) DO UPDATE SET "
            "headline = CASE WHEN excluded.first_seen < stories.first_seen "
            "THEN excluded.headline ELSE stories.headline END, "
            "first_seen = least(stories.first_seen, excluded.first_seen), "
            "last_seen = greatest(stories.last_seen, excluded.last_seen), "
            "severity = greatest(stories.severity, excluded.severity), "
            "developments = stories.developments + 1",
            (d.story_id, d.issue_id, d.headline, ts(d.first_seen), ts(d.first_seen),
             int(d.severity)))

    def _delivery(self, r: DeliveryRecord) -> None:
        self.db.execute(
            "INSERT INTO deliveries VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (delivery_id) "
            "DO UPDATE SET status = excluded.status, attempts = excluded.attempts, "
            "error = excluded.error, at = excluded.at",
            (r.delivery_id, r.receiver, r.channel, r.status, r.attempts, r.error, ts(r.at)))
        self.db.executemany(
            "INSERT INTO delivery_developments VALUES (?, ?) ON CONFLICT DO NOTHING",
            [(r.delivery_id, d) for d in r.development_ids])

    def reset_projection(self) -> None:
        """Empty what mirrors the topics (feedback and replays stay): before a rebuild."""
        with self.db.transaction():
            for table in PROJECTION_TABLES:
                self.db.execute(f"DELETE FROM {table}")  # noqa: S608 (a fixed table name)

    def prune(self, before: float) -> int:
        """Forget what is older than ``before`` (item time); return the items forgotten."""
        with self.db.transaction():
            old = "SELECT development_id FROM developments WHERE first_seen < ?"
            for table in ("development_sources", "development_items", "delivery_developments"):
                self.db.execute(f"DELETE FROM {table} WHERE development_id IN ({old})",  # noqa: S608
                                (before,))
            self.db.execute("DELETE FROM developments WHERE first_seen < ?", (before,))
            self.db.execute("DELETE FROM stories WHERE last_seen < ?", (before,))
            self.db.execute("DELETE FROM deliveries WHERE at < ?", (before,))
            self.db.execute("DELETE FROM item_issues WHERE at < ?", (before,))
            return self.db.execute("DELETE FROM items WHERE at < ?", (before,))

    # -- reading: issues ---------------------------------------------------------------------

    def issue_ids(self) -> list[str]:
        return [r[0] for r in self.db.query(
            "SELECT DISTINCT issue_id FROM developments UNION "
            "SELECT DISTINCT issue_id FROM item_issues ORDER BY 1")]

    def issue_developments(self, issue: str, min_severity: int = 0) -> list[Development]:
        """An issue's developments at or above a severity, oldest first (the state of play)."""
        return [Development.model_validate_json(r[0]) for r in self.db.query(
            "SELECT data FROM developments WHERE issue_id = ? AND severity >= ? "
            "ORDER BY first_seen, seq", (issue, min_severity))]

    def latest_developments(self, issue: str, limit: int) -> list[Row]:
        return self.db.query(
            f"SELECT {DEVELOPMENT_COLUMNS} FROM developments d WHERE issue_id = ? "  # noqa: S608
            "ORDER BY first_seen DESC, seq DESC LIMIT ?", (issue, limit))

    def counts(self, issue: str) -> tuple[int, int, float | None]:
        """(developments, items, latest item time) of an issue."""
        dev = self.db.query("SELECT count(*) FROM developments WHERE issue_id = ?", (issue,))
        items = self.db.query("SELECT count(*), max(at) FROM item_issues WHERE issue_id = ?",
                              (issue,))
        return int(dev[0][0]), int(items[0][0]), items[0][1]

    def volume(self, issue: str, until: float, buckets: int, width_s: float) -> list[int]:
        """Items per bucket of ``width_s`` seconds, the last bucket ending at ``until``."""
        start = until - buckets * width_s
        rows = self.db.query(
            "SELECT CAST((at - ?) / ? AS INTEGER) AS b, count(*) FROM item_issues "
            "WHERE issue_id = ? AND at > ? AND at <= ? GROUP BY b", (start, width_s, issue,
                                                                    start, until))
        out = [0] * buckets
        for bucket, count in rows:
            out[min(max(int(bucket), 0), buckets - 1)] += int(count)
        return out

    # -- reading: developments, stories, items -----------------------------------------------

    @staticmethod
    def _fts5_query(words: list[str]) -> str:
        """Each word as a quoted FTS5 string: no operator of the user's reaches the engine."""
        return " ".join('"' + w.replace('"', "") + '"' for w in words)

    def _match(self, table: str, words: list[str], alias: str) -> tuple[str, list[Any]]:
        if self.db.dialect == "sqlite":
            expr = self._fts5_query(words)
            # The table is one of two fixed names; the words are a bound parameter.
            return (f"{alias}.seq IN (SELECT rowid FROM {table}_fts WHERE {table}_fts MATCH ?)",  # noqa: S608
                    [expr])
        return f"{alias}.search @@ plainto_tsquery('simple', ?)", [" ".join(words)]

    def developments(self, f: Filters, cursor: tuple[Any, ...] | None, limit: int, *,
                     ascending: bool = False) -> Page:
        where, params = ["1 = 1"], []
        if f.q:
            clause, p = self._match("developments", query_words(f.q), "d")
            where.append(clause)
            params += p
        if f.issue:
            where.append("d.issue_id = ?")
            params.append(f.issue)
        if f.min_severity:
            where.append("d.severity >= ?")
            params.append(f.min_severity)
        if f.since is not None:
            where.append("d.first_seen >= ?")
            params.append(f.since)
        if f.until is not None:
            where.append("d.first_seen < ?")
            params.append(f.until)
        if f.source:
            where.append("EXISTS (SELECT 1 FROM development_sources s WHERE "
                         "s.development_id = d.development_id AND s.source = ?)")
            params.append(f.source)
        if f.language:
            where.append("EXISTS (SELECT 1 FROM items i WHERE i.item_id = d.trigger_item "
                         "AND i.language = ?)")
            params.append(f.language)
        order = "ASC" if ascending else "DESC"
        if cursor is not None:
            where.append(f"(d.first_seen, d.seq) {'>' if ascending else '<'} (?, ?)")
            params += [cursor[0], cursor[1]]
        rows = self.db.query(
            f"SELECT {DEVELOPMENT_COLUMNS} FROM developments d "  # noqa: S608
            f"WHERE {' AND '.join(where)} ORDER BY d.first_seen {order}, d.seq {order} LIMIT ?",
            (*params, limit + 1))
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(rows, (rows[-1][2], rows[-1][0]) if more else None)

    def development(self, development_id: str) -> Development | None:
        rows = self.db.query("SELECT data FROM developments WHERE development_id = ?",
                             (development_id,))
        return Development.model_validate_json(rows[0][0]) if rows else None

    def deliveries_of(self, development_ids: Sequence[str]) -> dict[str, list[Row]]:
        """development id -> [(receiver, channel, status, at, error)] of its deliveries."""
        if not development_ids:
            return {}
        marks = ", ".join("?" * len(development_ids))
        out: dict[str, list[Row]] = {}
        for row in self.db.query(
                "SELECT dd.development_id, r.receiver, r.channel, r.status, r.at, r.error "  # noqa: S608
                "FROM delivery_developments dd JOIN deliveries r "
                f"ON r.delivery_id = dd.delivery_id WHERE dd.development_id IN ({marks}) "
                "ORDER BY r.at", tuple(development_ids)):
            out.setdefault(row[0], []).append(row[1:])
        return out

    def stories(self, f: Filters, cursor: tuple[Any, ...] | None, limit: int) -> Page:
        where, params = ["1 = 1"], []
        if f.q:
            clause, p = self._match("developments", query_words(f.q), "d")
            where.append("st.story_id IN (SELECT d.story_id FROM developments d WHERE "  # noqa: S608
                         f"{clause})")
            params += p
        for column, value in (("st.issue_id", f.issue),):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if f.source:
            where.append("st.story_id IN (SELECT d.story_id FROM developments d JOIN "
                         "development_sources s ON s.development_id = d.development_id "
                         "WHERE s.source = ?)")
            params.append(f.source)
        if f.since is not None:
            where.append("st.last_seen >= ?")
            params.append(f.since)
        if f.until is not None:
            where.append("st.first_seen < ?")
            params.append(f.until)
        if cursor is not None:
            where.append("(st.first_seen, st.story_id) < (?, ?)")
            params += [cursor[0], cursor[1]]
        rows = self.db.query(
            "SELECT st.story_id, st.issue_id, st.headline, st.first_seen, st.last_seen, "  # noqa: S608
            "st.severity, st.developments FROM stories st "
            f"WHERE {' AND '.join(where)} ORDER BY st.first_seen DESC, st.story_id DESC LIMIT ?",
            (*params, limit + 1))
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(rows, (rows[-1][3], rows[-1][0]) if more else None)

    def story(self, story_id: str) -> Row | None:
        rows = self.db.query(
            "SELECT story_id, issue_id, headline, first_seen, last_seen, severity, developments "
            "FROM stories WHERE story_id = ?", (story_id,))
        return rows[0] if rows else None

    def story_developments(self, story_id: str) -> list[Row]:
        return self.db.query(
            f"SELECT {DEVELOPMENT_COLUMNS} FROM developments d WHERE story_id = ? "  # noqa: S608
            "ORDER BY first_seen, seq", (story_id,))

    def items(self, f: Filters, cursor: tuple[Any, ...] | None, limit: int) -> Page:
        where: list[str] = ["1 = 1"]
        params: list[Any] = []
        source = "items i"
        if f.q and self.db.dialect == "sqlite":
            # The full-text index walks its matches newest first and stops at the page's end,
            # however many rows match (an IN (...) list would collect every match first).
            source = "items_fts JOIN items i ON i.seq = items_fts.rowid"
            where.append("items_fts MATCH ?")
            params.append(self._fts5_query(query_words(f.q)))
        elif f.q:
            clause, p = self._match("items", query_words(f.q), "i")
            where.append(clause)
            params += p
        if f.issue:
            where.append("EXISTS (SELECT 1 FROM item_issues ii WHERE ii.item_id = i.item_id "
                         "AND ii.issue_id = ?)")
            params.append(f.issue)
        for column, value in (("i.language", f.language), ("i.source", f.source)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if f.since is not None:
            where.append("i.at >= ?")
            params.append(f.since)
        if f.until is not None:
            where.append("i.at < ?")
            params.append(f.until)
        if cursor is not None:
            where.append("i.seq < ?")
            params.append(cursor[0])
        # Newest recorded first: the record's own order, which an index serves at any size.
        order = "items_fts.rowid" if source.startswith("items_fts") else "i.seq"
        rows = self.db.query(
            f"SELECT i.seq, {ITEM_SELECT} FROM {source} "  # noqa: S608
            f"WHERE {' AND '.join(where)} ORDER BY {order} DESC LIMIT ?",
            (*params, limit + 1))
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(rows, (rows[-1][0],) if more else None)

    def items_by_id(self, item_ids: Iterable[str]) -> dict[str, Row]:
        ids = list(dict.fromkeys(item_ids))
        out: dict[str, Row] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ", ".join("?" * len(chunk))
            for row in self.db.query(
                    f"SELECT i.seq, {ITEM_SELECT} "  # noqa: S608
                    f"FROM items i WHERE i.item_id IN ({marks})", tuple(chunk)):
                out[row[1]] = row
        return out

    def item_issues(self, item_ids: Sequence[str]) -> dict[str, list[Row]]:
        """item id -> [(issue, score, evidence JSON)]."""
        if not item_ids:
            return {}
        marks = ", ".join("?" * len(item_ids))
        out: dict[str, list[Row]] = {}
        for row in self.db.query(
                "SELECT item_id, issue_id, score, evidence FROM item_issues "  # noqa: S608
                f"WHERE item_id IN ({marks}) ORDER BY score DESC", tuple(item_ids)):
            out.setdefault(row[0], []).append(row[1:])
        return out

    def like_scan(self, needle: str, limit: int) -> list[Row]:
        """The plain way to search, for the benchmark's comparison: LIKE over every item."""
        pattern = f"%{needle}%"
        return self.db.query(
            "SELECT seq, item_id FROM items WHERE title LIKE ? OR summary LIKE ? "
            "ORDER BY seq DESC LIMIT ?", (pattern, pattern, limit))

    def sources(self) -> list[str]:
        return [r[0] for r in self.db.query("SELECT DISTINCT source FROM items ORDER BY 1")]

    def languages(self) -> list[str]:
        return [r[0] for r in self.db.query(
            "SELECT DISTINCT language FROM items WHERE language IS NOT NULL ORDER BY 1")]

    def item_times(self, before: float | None = None) -> list[Row]:
        """(item_id, ...) rows of every item at or after ``before``, oldest first (replays)."""
        return self.db.query(
            f"SELECT i.seq, {ITEM_SELECT} "  # noqa: S608
            "FROM items i WHERE i.at >= ? ORDER BY i.at, i.item_id",
            (before if before is not None else float("-inf"),))

    # -- feedback ----------------------------------------------------------------------------

    def add_feedback(self, development: Development, verdict: str, note: str, via: str) -> Row:
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO feedback (development_id, issue_id, verdict, note, via, at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (development.development_id, development.issue_id, verdict, note, via,
                 time.time()))
            rows = self.db.query(
                "SELECT seq, development_id, issue_id, verdict, note, via, at FROM feedback "
                "WHERE development_id = ? ORDER BY seq DESC LIMIT 1",
                (development.development_id,))
        return rows[0]

    def feedback(self, issue: str | None, development_id: str | None,
                 cursor: tuple[Any, ...] | None, limit: int) -> Page:
        where, params = ["1 = 1"], []
        for column, value in (("issue_id", issue), ("development_id", development_id)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if cursor is not None:
            where.append("seq < ?")
            params.append(cursor[0])
        rows = self.db.query(
            "SELECT seq, development_id, issue_id, verdict, note, via, at FROM feedback "  # noqa: S608
            f"WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT ?", (*params, limit + 1))
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(rows, (rows[-1][0],) if more else None)

    def feedback_counts(self, development_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        if not development_ids:
            return {}
        marks = ", ".join("?" * len(development_ids))
        out: dict[str, dict[str, int]] = {}
        for dev, verdict, n in self.db.query(
                "SELECT development_id, verdict, count(*) FROM feedback "  # noqa: S608
                f"WHERE development_id IN ({marks}) GROUP BY development_id, verdict",
                tuple(development_ids)):
            out.setdefault(dev, {})[verdict] = int(n)
        return out

    def latest_verdicts(self) -> list[Row]:
        """(development id, issue, verdict) of the latest feedback on each development."""
        return self.db.query(
            "SELECT f.development_id, f.issue_id, f.verdict FROM feedback f "
            "WHERE f.seq = (SELECT max(g.seq) FROM feedback g "
            "WHERE g.development_id = f.development_id) ORDER BY f.development_id")

    def precision_by_issue(self) -> dict[str, tuple[int, int]]:
        """issue -> (developments judged useful, developments judged), latest verdict each."""
        out: dict[str, list[int]] = {}
        for _, issue, verdict in self.latest_verdicts():
            counts = out.setdefault(issue, [0, 0])
            counts[0] += verdict == "useful"
            counts[1] += 1
        return {k: (v[0], v[1]) for k, v in out.items()}

    # -- watchlist replays -------------------------------------------------------------------

    def save_replay(self, watchlist: str, since: float | None, items: int,
                    result: dict[str, Any]) -> int:
        with self.db.transaction():
            self.db.execute("INSERT INTO replays (watchlist, since, at, items, result) "
                            "VALUES (?, ?, ?, ?, ?)",
                            (watchlist, since, time.time(), items,
                             json.dumps(result, ensure_ascii=False)))
            return int(self.db.query("SELECT max(seq) FROM replays")[0][0])

    def replays(self, limit: int) -> list[Row]:
        return self.db.query("SELECT seq, watchlist, since, at, items, result FROM replays "
                             "ORDER BY seq DESC LIMIT ?", (limit,))
