"""The record's schema as numbered migrations, run at start-up (``migrate``).

Each migration is SQL for both databases; ``{seq}`` is the dialect's auto-increment key. A
migration runs once, in one transaction, and is recorded in ``schema_migrations``; workers that
start together take turns (SQLite's write lock, PostgreSQL's advisory lock). A record newer than
this release (a version it does not know) is refused rather than misread.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from desk.store.db import Database
from peacewatch.errors import RecordError

_SEQ = {"sqlite": "INTEGER PRIMARY KEY", "postgresql": "BIGSERIAL PRIMARY KEY"}
# Any fixed number: the key of PostgreSQL's advisory lock taken while migrating.
_LOCK_KEY = 7_211_012


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    common: tuple[str, ...]
    sqlite: tuple[str, ...] = ()
    postgresql: tuple[str, ...] = ()


_PROJECTION = (
    """CREATE TABLE items (
        seq {seq}, item_id TEXT NOT NULL UNIQUE, source TEXT NOT NULL,
        source_kind TEXT NOT NULL, source_class TEXT, url TEXT, canonical_url TEXT,
        title TEXT NOT NULL, summary TEXT NOT NULL, content TEXT NOT NULL, language TEXT,
        published_at DOUBLE PRECISION, fetched_at DOUBLE PRECISION NOT NULL,
        at DOUBLE PRECISION NOT NULL, content_hash TEXT NOT NULL, revision INTEGER NOT NULL,
        baseline INTEGER NOT NULL, kind TEXT, duplicate_of TEXT)""",
    "CREATE INDEX items_by_time ON items (at)",
    "CREATE INDEX items_by_source ON items (source, at)",
    """CREATE TABLE item_issues (
        item_id TEXT NOT NULL, issue_id TEXT NOT NULL, score DOUBLE PRECISION NOT NULL,
        evidence TEXT NOT NULL, at DOUBLE PRECISION NOT NULL, PRIMARY KEY (item_id, issue_id))""",
    "CREATE INDEX item_issues_by_issue ON item_issues (issue_id, at)",
    """CREATE TABLE developments (
        seq {seq}, development_id TEXT NOT NULL UNIQUE, issue_id TEXT NOT NULL,
        story_id TEXT NOT NULL, kind TEXT NOT NULL, headline TEXT NOT NULL,
        evidence TEXT NOT NULL, severity INTEGER NOT NULL, action TEXT NOT NULL,
        first_seen DOUBLE PRECISION NOT NULL, detected_at DOUBLE PRECISION NOT NULL,
        baseline INTEGER NOT NULL, trigger_item TEXT, data TEXT NOT NULL)""",
    "CREATE INDEX developments_by_issue ON developments (issue_id, first_seen, seq)",
    "CREATE INDEX developments_by_story ON developments (story_id)",
    """CREATE TABLE development_sources (
        development_id TEXT NOT NULL, source TEXT NOT NULL, source_class TEXT,
        PRIMARY KEY (development_id, source))""",
    "CREATE INDEX development_sources_by_source ON development_sources (source)",
    """CREATE TABLE development_items (
        development_id TEXT NOT NULL, item_id TEXT NOT NULL,
        PRIMARY KEY (development_id, item_id))""",
    "CREATE INDEX development_items_by_item ON development_items (item_id)",
    """CREATE TABLE stories (
        story_id TEXT PRIMARY KEY, issue_id TEXT NOT NULL, headline TEXT NOT NULL,
        first_seen DOUBLE PRECISION NOT NULL, last_seen DOUBLE PRECISION NOT NULL,
        severity INTEGER NOT NULL, developments INTEGER NOT NULL)""",
    "CREATE INDEX stories_by_issue ON stories (issue_id, first_seen)",
    """CREATE TABLE deliveries (
        delivery_id TEXT PRIMARY KEY, receiver TEXT NOT NULL, channel TEXT NOT NULL,
        status TEXT NOT NULL, attempts INTEGER NOT NULL, error TEXT,
        at DOUBLE PRECISION NOT NULL)""",
    """CREATE TABLE delivery_developments (
        delivery_id TEXT NOT NULL, development_id TEXT NOT NULL,
        PRIMARY KEY (delivery_id, development_id))""",
    "CREATE INDEX delivery_developments_by_development ON delivery_developments (development_id)",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "projection of the topics", _PROJECTION),
    Migration(
        2, "full-text search", (),
        sqlite=(
            # External-content FTS5 tables: the text is stored once, in items / developments.
            """CREATE VIRTUAL TABLE items_fts USING fts5(title, summary, content,
                content='items', content_rowid='seq', tokenize='unicode61 remove_diacritics 2')""",
            """CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN
                INSERT INTO items_fts (rowid, title, summary, content)
                VALUES (new.seq, new.title, new.summary, substr(new.content, 1, 20000)); END""",
            """CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN
                INSERT INTO items_fts (items_fts, rowid, title, summary, content)
                VALUES ('delete', old.seq, old.title, old.summary, substr(old.content, 1, 20000));
                END""",
            """CREATE TRIGGER items_fts_update AFTER UPDATE ON items BEGIN
                INSERT INTO items_fts (items_fts, rowid, title, summary, content)
                VALUES ('delete', old.seq, old.title, old.summary, substr(old.content, 1, 20000));
                INSERT INTO items_fts (rowid, title, summary, content)
                VALUES (new.seq, new.title, new.summary, substr(new.content, 1, 20000)); END""",
            """CREATE VIRTUAL TABLE developments_fts USING fts5(headline, evidence,
                content='developments', content_rowid='seq',
                tokenize='unicode61 remove_diacritics 2')""",
            """CREATE TRIGGER developments_fts_insert AFTER INSERT ON developments BEGIN
                INSERT INTO developments_fts (rowid, headline, evidence)
                VALUES (new.seq, new.headline, new.evidence); END""",
            """CREATE TRIGGER developments_fts_delete AFTER DELETE ON developments BEGIN
                INSERT INTO developments_fts (developments_fts, rowid, headline, evidence)
                VALUES ('delete', old.seq, old.headline, old.evidence); END""",
            """CREATE TRIGGER developments_fts_update AFTER UPDATE ON developments BEGIN
                INSERT INTO developments_fts (developments_fts, rowid, headline, evidence)
                VALUES ('delete', old.seq, old.headline, old.evidence);
                INSERT INTO developments_fts (rowid, headline, evidence)
                VALUES (new.seq, new.headline, new.evidence); END""",
        ),
        postgresql=(
            """ALTER TABLE items ADD COLUMN search tsvector GENERATED ALWAYS AS (
                to_tsvector('simple', title || ' ' || summary || ' ' || left(content, 20000)))
                STORED""",
            "CREATE INDEX items_search ON items USING GIN (search)",
            """ALTER TABLE developments ADD COLUMN search tsvector GENERATED ALWAYS AS (
                to_tsvector('simple', headline || ' ' || evidence)) STORED""",
            "CREATE INDEX developments_search ON developments USING GIN (search)",
        ),
    ),
    Migration(3, "feedback and watchlist replays", (
        """CREATE TABLE feedback (
            seq {seq}, development_id TEXT NOT NULL, issue_id TEXT NOT NULL,
            verdict TEXT NOT NULL, note TEXT NOT NULL, via TEXT NOT NULL,
            at DOUBLE PRECISION NOT NULL)""",
        "CREATE INDEX feedback_by_development ON feedback (development_id, seq)",
        "CREATE INDEX feedback_by_issue ON feedback (issue_id, seq)",
        """CREATE TABLE replays (
            seq {seq}, watchlist TEXT NOT NULL, since DOUBLE PRECISION,
            at DOUBLE PRECISION NOT NULL, items INTEGER NOT NULL, result TEXT NOT NULL)""",
    )),
    Migration(
        4, "finer word statistics for the search planner", (),
        postgresql=(
            # With the default statistics a word the sample did not see is guessed to match
            # thousands of rows, and "newest 25 matches" walks the whole table backwards
            # looking for them; finer statistics send rare words to the GIN index.
            "ALTER TABLE items ALTER COLUMN search SET STATISTICS 2000",
            "ALTER TABLE developments ALTER COLUMN search SET STATISTICS 2000",
        ),
    ),
)
LATEST = MIGRATIONS[-1].version
# Tables that only mirror the topics: emptied by `peacewatch record rebuild`.
PROJECTION_TABLES = ("delivery_developments", "deliveries", "stories", "development_items",
                     "development_sources", "developments", "item_issues", "items")


def _statements(migration: Migration, db: Database) -> list[str]:
    own = migration.sqlite if db.dialect == "sqlite" else migration.postgresql
    return [s.replace("{seq}", _SEQ[db.dialect]) for s in (*migration.common, *own)]


def migrate(db: Database) -> list[int]:
    """Apply the migrations this record lacks; return their versions."""
    applied: list[int] = []
    with db.transaction():
        if db.dialect == "postgresql":
            db.query("SELECT pg_advisory_xact_lock(?)", (_LOCK_KEY,))
        db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                   "name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)")
        done = {int(r[0]) for r in db.query("SELECT version FROM schema_migrations")}
        unknown = sorted(v for v in done if v > LATEST)
        if unknown:
            raise RecordError(f"record {db.describe()} has schema version {unknown[-1]}, newer "
                              f"than this release knows ({LATEST}); upgrade peacewatch")
        for migration in MIGRATIONS:
            if migration.version in done:
                continue
            for statement in _statements(migration, db):
                db.execute(statement)
            db.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                       (migration.version, migration.name, time.time()))
            applied.append(migration.version)
    return applied


def schema_version(db: Database) -> int:
    rows = db.query("SELECT max(version) FROM schema_migrations")
    return int(rows[0][0] or 0) if rows else 0
