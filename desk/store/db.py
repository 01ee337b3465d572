"""A thin connection layer over SQLite and PostgreSQL, so that one set of queries serves both.

Queries are written with ``?`` placeholders (PostgreSQL's ``%s`` is substituted); values are
always bound, never formatted in. Connections come from a small pool: a statement borrows one,
a ``transaction()`` holds one for the thread until it commits (the web server answers on many
threads while the record stage writes on its own).
"""

from __future__ import annotations

import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Literal

import psycopg

from peacewatch.errors import RecordError

Dialect = Literal["sqlite", "postgresql"]
Row = tuple[Any, ...]


class Database(ABC):
    dialect: Dialect
    # Idle connections kept for reuse; more are opened when needed, and closed when returned
    # to a full pool.
    POOL_SIZE = 8

    def __init__(self) -> None:
        # The connection a thread holds: during one statement, or one transaction.
        self._local = threading.local()
        self._idle: list[Any] = []
        self._guard = threading.Lock()
        self._closed = False

    @abstractmethod
    def _connect(self) -> Any:
        """A new connection."""

    @abstractmethod
    def describe(self) -> str:
        """Where the record is, for messages (no password)."""

    def _sql(self, sql: str) -> str:
        return sql

    @contextmanager
    def _borrow(self) -> Iterator[Any]:
        """The thread's connection in a transaction, else one from the pool for a statement.

        The web server answers each connection on a thread of its own: a connection per
        thread would be one per client, kept for ever; a pool keeps a few, shared.
        """
        held = getattr(self._local, "conn", None)
        if held is not None:
            yield held
            return
        conn = self._take()
        try:
            yield conn
            conn.commit()  # a read, too: PostgreSQL must not sit idle in a transaction
        except BaseException:
            self._rollback(conn)
            raise
        finally:
            self._give(conn)

    def _take(self) -> Any:
        with self._guard:
            if self._idle:
                return self._idle.pop()
        return self._connect()

    def _give(self, conn: Any) -> None:
        with self._guard:
            if not self._closed and len(self._idle) < self.POOL_SIZE:
                self._idle.append(conn)
                return
        with suppress(sqlite3.Error, psycopg.Error):
            conn.close()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            with self._borrow() as conn:
                cur = conn.execute(self._sql(sql), tuple(params))
                rows = cur.fetchall() if cur.description is not None else []
        except (sqlite3.Error, psycopg.Error) as exc:
            raise RecordError(f"record {self.describe()}: {exc}") from exc
        return [tuple(r) for r in rows]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; return the rows it changed."""
        try:
            with self._borrow() as conn:
                return int(conn.execute(self._sql(sql), tuple(params)).rowcount)
        except (sqlite3.Error, psycopg.Error) as exc:
            raise RecordError(f"record {self.describe()}: {exc}") from exc

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        try:
            with self._borrow() as conn:
                if self.dialect == "sqlite":
                    conn.executemany(sql, [tuple(r) for r in rows])
                else:
                    with conn.cursor() as cur:
                        cur.executemany(self._sql(sql), [tuple(r) for r in rows])
        except (sqlite3.Error, psycopg.Error) as exc:
            raise RecordError(f"record {self.describe()}: {exc}") from exc

    @property
    def in_transaction(self) -> bool:
        return getattr(self._local, "conn", None) is not None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together, or not at all (nested: the outer one decides)."""
        if self.in_transaction:
            yield
            return
        conn = self._take()
        try:
            self._begin(conn)
        except BaseException:
            self._give(conn)
            raise
        self._local.conn = conn
        try:
            yield
        except BaseException:
            self._rollback(conn)
            raise
        else:
            try:
                conn.commit()
            except (sqlite3.Error, psycopg.Error) as exc:
                self._rollback(conn)
                raise RecordError(f"record {self.describe()}: commit failed: {exc}") from exc
        finally:
            self._local.conn = None
            self._give(conn)

    @abstractmethod
    def _begin(self, conn: Any) -> None: ...

    @staticmethod
    def _rollback(conn: Any) -> None:
        with suppress(sqlite3.Error, psycopg.Error):
            conn.rollback()

    def close(self) -> None:
        with self._guard:
            idle, self._idle = self._idle, []
            self._closed = True
        for conn in idle:
            with suppress(sqlite3.Error, psycopg.Error):
                conn.close()


class SqliteDatabase(Database):
    dialect: Dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RecordError(f"record {path}: cannot create its folder: {exc}") from exc
        self._give(self._connect())  # fail at start-up, not at the first query

    def describe(self) -> str:
        return str(self.path)

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False,
                                   isolation_level="DEFERRED")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise RecordError(f"record {self.path}: cannot open: {exc}") from exc
        return conn

    def _begin(self, conn: Any) -> None:
        try:
            if conn.in_transaction:
                conn.commit()
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise RecordError(f"record {self.path}: {exc}") from exc


class PostgresDatabase(Database):
    dialect: Dialect = "postgresql"

    def __init__(self, dsn: str) -> None:
        super().__init__()
        self._dsn = dsn
        self._give(self._connect())

    def describe(self) -> str:
        try:
            info = psycopg.conninfo.conninfo_to_dict(self._dsn)
        except psycopg.ProgrammingError:
            return "postgresql (unparsable dsn)"
        return (f"postgresql://{info.get('user', '')}@{info.get('host', '')}:"
                f"{info.get('port', '5432')}/{info.get('dbname', '')}")

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self._dsn, connect_timeout=10)
        except psycopg.Error as exc:
            # psycopg's message names host and port, never the password.
            raise RecordError(f"record {self.describe()}: cannot connect: {exc}") from exc

    def _sql(self, sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    def _begin(self, conn: Any) -> None:
        # psycopg opens a transaction at the first statement (connections are returned to the
        # pool committed, so nothing is open now).
        return None


def open_database(path: Path, dsn: str | None) -> Database:
    return PostgresDatabase(dsn) if dsn else SqliteDatabase(path)
