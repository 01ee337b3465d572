"""Durable local state in SQLite, as the embedded bus and every stage keep it.

WAL mode keeps every committed transaction through a ``kill -9``; ``BEGIN IMMEDIATE`` takes the
write lock up front, so that two processes sharing a file queue instead of failing mid-way.
sqlite3's errors become the caller's stage error here, where they enter peacewatch.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Literal

from peacewatch.errors import PeacewatchError


def open_state(
    path: Path,
    *,
    error: type[PeacewatchError],
    what: str,
    schema: str = "",
    synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
) -> sqlite3.Connection:
    """Open (creating folders and tables) a state file; ``what`` names it in errors."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute("PRAGMA busy_timeout=30000")
        if schema:
            conn.executescript(schema)
    except (sqlite3.Error, OSError) as exc:
        raise error(f"{what} {path}: cannot open: {exc}") from exc
    return conn


@contextmanager
def immediate(
    conn: sqlite3.Connection, *, error: type[PeacewatchError], what: str
) -> Iterator[sqlite3.Connection]:
    """One write transaction: everything inside commits together, or rolls back on error.

    A full disk or an I/O error may end the transaction inside SQLite already, and a COMMIT
    that failed leaves it open: either way the connection is left with no transaction, so that
    the next one can begin, and the error that caused it is the one raised.
    """
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise error(f"{what}: {exc}") from exc
    try:
        yield conn
    except BaseException:
        _roll_back(conn)
        raise
    try:
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        _roll_back(conn)
        raise error(f"{what}: commit failed: {exc}") from exc


def _roll_back(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        with suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
