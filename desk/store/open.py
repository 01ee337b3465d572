"""The record of the settings: SQLite under data_dir, or PostgreSQL when a DSN is set."""

from __future__ import annotations

from desk.store.db import open_database
from desk.store.record import RecordStore
from peacewatch.settings import Settings


def open_record(settings: Settings) -> RecordStore:
    """Open (and migrate) the record; RecordError when it cannot be."""
    record = settings.desk.record
    dsn = record.postgres_dsn.get_secret_value() if record.postgres_dsn is not None else None
    return RecordStore(open_database(settings.path(record.path), dsn))
