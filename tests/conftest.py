"""Session-wide fixtures: the real Kafka broker (started once per session) and bus factories."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from peacewatch.bus.base import Bus
from peacewatch.bus.embedded import EmbeddedBus
from peacewatch.bus.kafka import KafkaBus
from peacewatch.settings.bus import KafkaSettings

pytest_plugins = ["kafka_broker_fixture", "postgres_fixture"]

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


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
