"""Fixtures of the processors' tests; the helpers live in ``proc_testkit``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from proc_testkit import REPO

from processors.classify import IssueClassifier
from processors.watchlist import Watchlist, load_watchlist

WATCHLIST = REPO / "seeds" / "watchlist.toml"
BASELINE = REPO / "seeds" / "baseline.toml"


@pytest.fixture(scope="session")
def watchlist() -> Watchlist:
    return load_watchlist(WATCHLIST)


@pytest.fixture(scope="session")
def classifier(watchlist: Watchlist) -> IssueClassifier:
    return IssueClassifier(watchlist)


def bootstrap_for(backend: str, request: pytest.FixtureRequest) -> str:
    """The Kafka bootstrap address for the kafka backend (the session's real broker)."""
    if backend != "kafka":
        return ""
    return str(request.getfixturevalue("kafka_bootstrap"))
