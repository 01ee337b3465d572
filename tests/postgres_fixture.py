"""pytest plugin: one real PostgreSQL server per test session, from Debian's packages.

Load it from tests/conftest.py (``pytest_plugins``). Tests ask for ``postgres_dsn``: a fresh,
empty database on the session's server (127.0.0.1, a free port), dropped after the test.

- ``PEACEWATCH_TEST_POSTGRES_DSN=postgresql://...`` uses that server instead (a database is
  still created per test).
- The server is ``scripts/postgres_server.py``'s: ``initdb`` and ``pg_ctl`` of
  /usr/lib/postgresql/<version>/bin (``make system-deps`` installs them); as root it runs as
  the ``postgres`` user (PostgreSQL refuses to run as root). If it cannot start, the tests
  fail under ``CI=true`` and are skipped elsewhere, with the reason either way.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    from postgres_server import PostgresServer, create_database, drop_database
except ImportError:  # loaded by file path, without scripts/ on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    from postgres_server import PostgresServer, create_database, drop_database

ENV_DSN = "PEACEWATCH_TEST_POSTGRES_DSN"
_desc = pytest.StashKey[str]()


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


__all__ = ["create_database", "drop_database"]
