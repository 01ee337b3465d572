"""The two clocks a stage can run on: the wall's, or the stream's own (item time).

Live, every decision that depends on time (a story's window, an alert group's wait) runs on
the wall clock. A replay of an archive must make the same decisions as the live run did, so
with ``daemon.clock = "item"`` those decisions run on item time instead: the latest
publication time the stage has seen, which never goes back. When a replay's input runs dry,
its time moves on by itself to whatever was still due (``ItemClock.advance``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from peacewatch.models import utcnow

Clock = Callable[[], datetime]


class ItemClock:
    """The stream's time: the latest item time seen so far (until the first, the wall's)."""

    def __init__(self) -> None:
        self._now: datetime | None = None
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now if self._now is not None else utcnow()

    def advance(self, at: datetime) -> None:
        """Move to ``at`` if that is later; time never goes back."""
        with self._lock:
            if self._now is None or at > self._now:
                self._now = at


def stage_clock(mode: str) -> Clock | ItemClock:
    """The clock of ``daemon.clock``: ``utcnow`` for "wall", a new ``ItemClock`` for "item"."""
    return ItemClock() if mode == "item" else utcnow
