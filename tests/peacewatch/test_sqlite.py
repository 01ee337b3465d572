"""Durable state files: errors arrive as the caller's stage error, transactions are atomic."""

from __future__ import annotations

import sqlite3
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


def test_a_full_disk_in_a_transaction_is_the_callers_error_and_leaves_none_open(
    tmp_path: Path,
) -> None:
    """SQLite rolls a transaction back by itself on a full disk: the error raised is still the
    stage's own, and the next transaction can begin once there is room again."""
    conn = open_state(tmp_path / "state.sqlite3", error=ProcessorError, what="state",
                      schema="CREATE TABLE t (v BLOB);")
    conn.execute("PRAGMA max_page_count = 20")  # a disk that holds 20 pages
    with pytest.raises(ProcessorError, match="full"), \
            immediate(conn, error=ProcessorError, what="state"):
        for _ in range(100):
            try:
                conn.execute("INSERT INTO t VALUES (?)", (b"x" * 4000,))
            except sqlite3.Error as exc:
                raise ProcessorError(f"state: {exc}") from exc
    assert not conn.in_transaction
    conn.execute("PRAGMA max_page_count = 100000")  # space freed
    with immediate(conn, error=ProcessorError, what="state"):
        conn.execute("INSERT INTO t VALUES (x'00')")
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 1
