"""pytest plugin: one real PostgreSQL server per test session, from Debian's packages.

Load it from tests/conftest.py (``pytest_plugins``). Tests ask for ``postgres_dsn``: a fresh,
empty database on the session's server (127.0.0.1, a free port), dropped after the test.

- ``PEACEWATCH_TEST_POSTGRES_DSN=postgresql://...`` uses that server instead (a database is
  still created per test).
- The server is started with ``initdb`` and ``pg_ctl`` of /usr/lib/postgresql/<version>/bin
  (``make system-deps`` installs them). As root it runs as the ``postgres`` user (PostgreSQL
  refuses to run as root). If it cannot start, the tests fail under ``CI=true`` and are skipped
  elsewhere, with the reason either way.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

ENV_DSN = "PEACEWATCH_TEST_POSTGRES_DSN"
_desc = pytest.StashKey[str]()


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return found[-1] if found else shutil.which(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


class PostgresServer:
    def __init__(self) -> None:
        initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise RuntimeError("initdb / pg_ctl not found: install Debian's postgresql "
                               "(make system-deps)")
        self.pg_ctl = pg_ctl
        # Not under pytest's temporary folder: the postgres user could not enter it.
        self.root = Path(tempfile.mkdtemp(prefix="peacewatch-pg-"))
        self.data = self.root / "data"
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self.port = _free_port()
        self._run([initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust",
                   "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"])
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                   f"-c unix_socket_directories={self.root} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=50")
        self._run([pg_ctl, "-D", str(self.data), "-l", str(self.root / "log"), "-o", options,
                   "-w", "-t", "60", "start"])
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, argv: list[str]) -> None:
        done = subprocess.run(_as_owner(argv), capture_output=True, text=True, timeout=120,
                              check=False)
        if done.returncode != 0:
            log = self.root / "log"
            tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
            raise RuntimeError(f"{Path(argv[0]).name} failed: {done.stderr.strip()[-800:]}"
                               f"\n{tail}")

    def stop(self) -> None:
        try:
            self._run([self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"])
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server(request: pytest.FixtureRequest) -> Iterator[str]:
    """The DSN of the session's server (its ``postgres`` database)."""
    external = os.environ.get(ENV_DSN, "").strip()
    if external:
        request.config.stash[_desc] = "external, from " + ENV_DSN
        yield external
        return
    try:
        server = PostgresServer()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        error = f"real PostgreSQL did not start: {exc}"
    else:
        error = ""
    if error:
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(error, pytrace=False)
        pytest.skip(error.splitlines()[0])
    request.config.stash[_desc] = f"127.0.0.1:{server.port} ({Path(server.pg_ctl).parts[-3]})"
    try:
        yield server.dsn
    finally:
        server.stop()


def create_database(server_dsn: str) -> str:
    """A new empty database on the server; its DSN."""
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    info = psycopg.conninfo.conninfo_to_dict(server_dsn)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in info.items()})


def drop_database(server_dsn: str, dsn: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_dsn(postgres_server: str) -> Iterator[str]:
    """A new empty database for one test."""
    dsn = create_database(postgres_server)
    yield dsn
    drop_database(postgres_server, dsn)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    if desc := config.stash.get(_desc, ""):
        terminalreporter.write_line(f"postgres: tests ran against a real server, {desc}")
