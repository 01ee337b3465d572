"""The desk's fixtures: a record on SQLite and on the session's real PostgreSQL."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# desk_kit (sample messages) is imported by the tests by name.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from desk.store.db import open_database
from desk.store.record import RecordStore


@pytest.fixture(params=["sqlite", "postgresql"])
def record_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(record_backend: str, request: pytest.FixtureRequest,
          tmp_path: Path) -> Iterator[RecordStore]:
    dsn = request.getfixturevalue("postgres_dsn") if record_backend == "postgresql" else None
    record = RecordStore(open_database(tmp_path / "record.sqlite3", dsn))
    yield record
    record.close()
