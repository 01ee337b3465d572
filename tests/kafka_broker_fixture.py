"""pytest plugin: real Apache Kafka brokers for the tests.

Load it from tests/conftest.py with ``pytest_plugins = ["kafka_broker_fixture"]`` (tests/ and
scripts/ on sys.path).

- ``kafka_bootstrap`` ("127.0.0.1:PORT"): one broker shared by the whole session.
- ``private_broker``: a fresh broker of the test's own, which it may stop, kill and restart.
- ``kafka_cluster``: three brokers (replication factor 3, min.insync.replicas=2) shared by the
  session, started on first use; a test that stops or kills one restarts it before it ends.

- ``PEACEWATCH_TEST_KAFKA_BOOTSTRAP=host:port`` uses that broker instead of starting one.
- If the broker cannot start: the tests fail under ``CI=true`` (a CI run must not go green by
  skipping them) and are skipped elsewhere, with the reason either way.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

try:
    import kafka_broker
except ImportError:  # loaded by file path, without scripts/ on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    import kafka_broker

T = TypeVar("T")
ENV_BOOTSTRAP = "PEACEWATCH_TEST_KAFKA_BOOTSTRAP"
FIXTURE = "kafka_bootstrap"

# Where the session's broker is ("" until the fixture runs) and how many tests used it.
_broker_desc = pytest.StashKey[str]()
_used_count = pytest.StashKey[int]()
_start_error = pytest.StashKey[str]()
_ran = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def kafka_bootstrap(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """bootstrap.servers of a real single-node broker shared by the whole session."""
    stash = request.config.stash
    external = os.environ.get(ENV_BOOTSTRAP, "").strip()
    if external:
        stash[_broker_desc] = f"{external} (external, from {ENV_BOOTSTRAP})"
        yield external
        return
    try:
        broker = kafka_broker.start_broker(tmp_path_factory.mktemp("kafka"))
    except (kafka_broker.BrokerError, OSError) as exc:
        error = f"real Kafka broker did not start: {exc}"
    else:
        error = ""
    if error:  # outside the except block, so that the report is not a chained traceback
        stash[_start_error] = error.splitlines()[0]
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(error, pytrace=False)  # with the broker's log tail
        pytest.skip(stash[_start_error])
    stash[_broker_desc] = f"{broker.bootstrap} (Apache Kafka {kafka_broker.KAFKA_VERSION})"
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


def _started(start: Callable[[], T]) -> T:
    """What ``start`` returns; if it fails: fail the test under CI=true, skip it elsewhere."""
    try:
        return start()
    except (kafka_broker.BrokerError, OSError) as exc:
        error = f"real Kafka broker did not start: {exc}"
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(error, pytrace=False)
    pytest.skip(error.splitlines()[0])


@pytest.fixture
def private_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[kafka_broker.Broker]:
    """A single broker of this test's own, on its own data dir and ports."""
    workdir = tmp_path_factory.mktemp("kafka-private")
    broker = _started(lambda: kafka_broker.start_broker(workdir))
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[kafka_broker.Cluster]:
    """Three brokers, each also a controller voter; every topic has three replicas."""
    workdir = tmp_path_factory.mktemp("kafka-cluster")
    cluster = _started(lambda: kafka_broker.start_cluster(workdir, 3))
    try:
        yield cluster
    finally:
        cluster.stop()


def pytest_runtest_call(item: pytest.Item) -> None:
    # Called only once setup has succeeded: the test body really runs.
    item.stash[_ran] = True


@pytest.fixture(autouse=True)
def _count_kafka_tests(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    # Checked at teardown because request.fixturenames then also holds the fixtures taken with
    # request.getfixturevalue() (by the test or by other fixtures), which item.fixturenames lacks.
    if request.node.stash.get(_ran, False) and FIXTURE in request.fixturenames:
        request.config.stash[_used_count] = request.config.stash.get(_used_count, 0) + 1


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    if error := config.stash.get(_start_error, ""):
        terminalreporter.write_line(f"kafka: {error}")
    elif desc := config.stash.get(_broker_desc, ""):
        n = config.stash.get(_used_count, 0)
        terminalreporter.write_line(f"kafka: {n} tests ran against real broker {desc}")
