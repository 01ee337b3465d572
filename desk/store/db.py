"""A thin connection layer over SQLite and PostgreSQL, so that one set of queries serves both.

Queries are written with ``?`` placeholders (PostgreSQL's ``%s`` is substituted); values are
always bound, never formatted in. Each thread gets its own connection (the web server answers on
several threads while the record stage writes on its own); ``transaction()`` groups statements
into one commit.
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

    def __init__(self) -> None:
        self._local = threading.local()
        self._all: list[Any] = []
        self._guard = threading.Lock()

    @abstractmethod
    def _connect(self) -> Any:
        """A new connection for the calling thread."""

    @abstractmethod
    def describe(self) -> str:
        """Where the record is, for messages (no password)."""

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            self._local.depth = 0
            with self._guard:
                self._all.append(conn)
        return conn

    def _sql(self, sql: str) -> str:
        return sql

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            cur = self._conn().execute(self._sql(sql), tuple(params))
            rows = cur.fetchall() if cur.description is not None else []
        except (sqlite3.Error, psycopg.Error) as exc:
            self._after_error()
            raise RecordError(f"record {self.describe()}: {exc}") from exc
        self._autocommit()
        return [tuple(r) for r in rows]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; return the rows it changed."""
        try:
            cur = self._conn().execute(self._sql(sql), tuple(params))
            count = int(cur.rowcount)
        except (sqlite3.Error, psycopg.Error) as exc:
            self._after_error()
            raise RecordError(f"record {self.describe()}: {exc}") from exc
        self._autocommit()
        return count

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        try:
            conn = self._conn()
            if self.dialect == "sqlite":
                conn.executemany(sql, [tuple(r) for r in rows])
            else:
                with conn.cursor() as cur:
                    cur.executemany(self._sql(sql), [tuple(r) for r in rows])
        except (sqlite3.Error, psycopg.Error) as exc:
            self._after_error()
            raise RecordError(f"record {self.describe()}: {exc}") from exc
        self._autocommit()

    @property
    def in_transaction(self) -> bool:
        return bool(getattr(self._local, "depth", 0))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together, or not at all (nested: the outer one decides)."""
        conn = self._conn()
        if self._local.depth:
            self._local.depth += 1
            try:
                yield
            finally:
                self._local.depth -= 1
            return
        self._begin(conn)
        self._local.depth = 1
        try:
            yield
        except BaseException:
            self._local.depth = 0
            self._rollback(conn)
            raise
        self._local.depth = 0
        try:
            conn.commit()
        except (sqlite3.Error, psycopg.Error) as exc:
            self._rollback(conn)
            raise RecordError(f"record {self.describe()}: commit failed: {exc}") from exc

    @abstractmethod
    def _begin(self, conn: Any) -> None: ...

    @staticmethod
    def _rollback(conn: Any) -> None:
        with suppress(sqlite3.Error, psycopg.Error):
            conn.rollback()

    def _autocommit(self) -> None:
        if not self.in_transaction:
            self._conn().commit()

    def _after_error(self) -> None:
        if not self.in_transaction:
            self._rollback(self._conn())

    def close(self) -> None:
        with self._guard:
            conns, self._all = self._all, []
        for conn in conns:
            with suppress(sqlite3.Error, psycopg.Error):
                conn.close()
        self._local = threading.local()


class SqliteDatabase(Database):
    dialect: Dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RecordError(f"record {path}: cannot create its folder: {exc}") from exc
        self._conn()  # fail at start-up, not at the first query

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
        self._conn()

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
        # psycopg opens a transaction at the first statement; end any read left open.
        conn.commit()


def open_database(path: Path, dsn: str | None) -> Database:
    return PostgresDatabase(dsn) if dsn else SqliteDatabase(path)
