"""Fixtures of the collectors' tests: settings under tmp_path, a real embedded bus, a server."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from collectors_testkit import FeedServer

from peacewatch.bus import open_bus
from peacewatch.bus.events import EventBus
from peacewatch.settings import Settings, load_settings

MakeSettings = Callable[..., Settings]


@pytest.fixture
def make_settings(tmp_path: Path) -> MakeSettings:
    """Settings with state under tmp_path; no feed list, no document folder unless given;
    127.0.0.1 allowed as a feed address (the tests' servers live there)."""

    def make(**collectors: Any) -> Settings:
        section: dict[str, Any] = {"documents": [], "baseline_documents": [], "feed_lists": [],
                                   "allow_networks": ["127.0.0.1/32"]}
        section.update(collectors)
        return load_settings(None, data_dir=tmp_path / "data", collectors=section,
                             metrics={"enabled": False})

    return make


@pytest.fixture
def bus_for() -> Iterator[Callable[[Settings], EventBus]]:
    opened: list[EventBus] = []

    def open_(settings: Settings) -> EventBus:
        events = open_bus(settings)
        opened.append(events)
        return events

    yield open_
    for events in opened:
        events.close()


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer().start()
    yield server
    server.stop()
