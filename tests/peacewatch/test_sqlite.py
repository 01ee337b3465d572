"""Durable state files: errors arrive as the caller's stage error, transactions are atomic."""

from __future__ import annotations

from pathlib import Path

import pytest

from peacewatch.errors import CollectorError, ProcessorError
from peacewatch.sqlite import immediate, open_state


def test_an_unusable_path_is_the_callers_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    with pytest.raises(CollectorError, match=r"collector state .*taken: cannot open"):
        open_state(tmp_path / "taken", error=CollectorError, what="collector state")


def test_a_failed_transaction_leaves_nothing_behind(tmp_path: Path) -> None:
    db = open_state(tmp_path / "s.sqlite3", error=ProcessorError, what="state",
                    schema="CREATE TABLE t (x INTEGER PRIMARY KEY);")
    with immediate(db, error=ProcessorError, what="state") as conn:
        conn.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(RuntimeError), immediate(db, error=ProcessorError, what="state") as conn:
        conn.execute("INSERT INTO t VALUES (2)")
        raise RuntimeError("handler failed half-way")
    assert db.execute("SELECT x FROM t").fetchall() == [(1,)]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
