"""Fixtures of the end-to-end tests: real local servers and peacewatch subprocesses."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from e2e_kit import FeedHub, Mailbox, Peacewatch, SlackLike


@pytest.fixture
def feed_hub() -> Iterator[FeedHub]:
    with FeedHub().running() as hub:
        yield hub


@pytest.fixture
def slack_like() -> Iterator[SlackLike]:
    with SlackLike().running() as hook:
        yield hook


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox().start()
    yield box
    box.stop()


@pytest.fixture
def peacewatch() -> Iterator[Callable[..., Peacewatch]]:
    """Start ``peacewatch -c CONFIG COMMAND...``; whatever a test leaves running is killed."""
    started: list[Peacewatch] = []

    def start(config: Path, *command: str, name: str = "") -> Peacewatch:
        proc = Peacewatch(config, *command, name=name).start()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()
