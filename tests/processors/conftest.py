"""Fixtures of the processors' tests; the helpers live in ``proc_testkit``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from proc_testkit import WATCHLIST

from processors.classify import IssueClassifier
from processors.watchlist import Watchlist, load_watchlist


@pytest.fixture(scope="session")
def watchlist() -> Watchlist:
    return load_watchlist(WATCHLIST)


@pytest.fixture(scope="session")
def watchlist_text() -> str:
    return WATCHLIST.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def classifier(watchlist: Watchlist) -> IssueClassifier:
    return IssueClassifier(watchlist)
