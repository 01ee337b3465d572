"""Trying a watchlist on items already read, without alerting anyone: the core's side.

The desk keeps the items; the processors know how to judge them. Neither imports the other: the
processors' module ``trial`` implements ``WatchlistTrial`` and is found as the entry point
``processors`` of the ``peacewatch.watchlist_trials`` group (``pyproject.toml``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Protocol, runtime_checkable

from peacewatch.models import Development, RawItem
from peacewatch.plugins import find_entry_point, load_entry_point, not_satisfied
from peacewatch.settings import Settings

WATCHLIST_TRIALS_GROUP = "peacewatch.watchlist_trials"


@runtime_checkable
class WatchlistTrial(Protocol):
    def developments(self, settings: Settings, watchlist: Path,
                     items: Sequence[RawItem]) -> list[Development]:
        """The developments these items make with this watchlist (in time order; pure: no
        bus, no state, no alert)."""


def watchlist_trial(found: Iterable[EntryPoint] | None = None) -> WatchlistTrial:
    entry_point = find_entry_point(WATCHLIST_TRIALS_GROUP, "processors", found)
    trial = load_entry_point(entry_point)
    if not isinstance(trial, WatchlistTrial):
        raise not_satisfied(entry_point, trial, "WatchlistTrial", ("developments",))
    return trial
