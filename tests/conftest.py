"""Session-wide fixtures: the real Kafka broker (started once per session), bus factories, and
the measurements tests report at the end of the run."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from peacewatch.bus.base import Bus
from peacewatch.bus.embedded import EmbeddedBus
from peacewatch.bus.kafka import KafkaBus
from peacewatch.settings.bus import KafkaSettings

pytest_plugins = ["kafka_broker_fixture", "postgres_fixture"]

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

_measured = pytest.StashKey[list[str]]()


@pytest.fixture
def measured(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Report a measurement (a time to recover, say) in the run's summary, passed or not:
    measured, never asserted."""
    lines = request.config.stash.setdefault(_measured, [])
    return lambda line: lines.append(f"{request.node.name}: {line}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    for line in config.stash.get(_measured, []):
        terminalreporter.write_line(f"measured: {line}")


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not beside the project")
    return SHARED


@pytest.fixture(params=["embedded", "kafka"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def open_test_bus(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Bus:
    if backend == "kafka":
        bootstrap = request.getfixturevalue("kafka_bootstrap")
        return KafkaBus(KafkaSettings(bootstrap_servers=[bootstrap], connect_timeout_s=10,
                                      session_timeout_s=6))
    return EmbeddedBus(tmp_path / "bus.sqlite3", member_timeout_s=3.0)


@pytest.fixture
def raw_bus(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bus]:
    bus = open_test_bus(backend, request, tmp_path)
    yield bus
    bus.close()


@pytest.fixture
def unique() -> str:
    """A fresh name, so tests sharing one broker never see each other's topics or groups."""
    return uuid.uuid4().hex[:10]
