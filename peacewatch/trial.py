"""Trying a watchlist on items already read, without alerting anyone: the core's side.

The desk keeps the items; the processors know how to judge them. Neither imports the other: the
processors' module ``trial`` implements ``WatchlistTrial`` and is found by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, cast

from peacewatch.errors import PeacewatchError
from peacewatch.models import Development, RawItem
from peacewatch.settings import Settings
from peacewatch.stage import stage_module


class WatchlistTrial(Protocol):
    def developments(self, settings: Settings, watchlist: Path,
                     items: Sequence[RawItem]) -> list[Development]:
        """The developments these items make with this watchlist (in time order; pure: no
        bus, no state, no alert)."""


def watchlist_trial() -> WatchlistTrial:
    module = stage_module("processors", "trial")
    if module is None or not hasattr(module, "developments"):
        raise PeacewatchError("the processors package has no watchlist trial (processors.trial)")
    return cast(WatchlistTrial, module)
