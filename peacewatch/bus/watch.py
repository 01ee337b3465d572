"""Whether this process can use the bus: one log line when it goes, one when it is back.

Two kinds of evidence. A probe, run every second on the daemon's watch thread, asks the bus
whether it answers (a Kafka broker lists the topics; the embedded file can be read). The stages
report a step that failed with ``BusUnavailable`` (a publish that timed out, a write refused by
a full disk) and the next step that went through. The bus is up while the probe succeeds and no
stage is failing on it; so a broker that answers while writes still fail (a partition without a
leader yet, the embedded bus's disk full) keeps it down until a stage gets through.

The watch sets ``peacewatch_bus_up``, tells readiness, and wakes stages that wait to retry as
soon as the probe finds the bus again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from peacewatch.errors import BusError, BusUnavailable
from peacewatch.metrics import Metrics

log = logging.getLogger("peacewatch.bus")


class BusWatch:
    def __init__(self, probe: Callable[[], None], metrics: Metrics | None = None, *,
                 interval_s: float = 1.0) -> None:
        self._probe = probe
        self._metrics = metrics
        self.interval_s = interval_s
        self._changed = threading.Condition()
        self._reachable = True
        self._unreachable_because = ""
        self._failing: dict[str, str] = {}  # stage name -> why its last step failed
        self._up = True
        self._down_since = 0.0
        self._returns = 0  # how often the probe found the bus again after losing it
        self._set_gauge()

    @property
    def up(self) -> bool:
        return self._up

    @property
    def returns(self) -> int:
        """A count that grows each time the probe finds a lost bus again."""
        return self._returns

    def run(self, stopping: threading.Event) -> None:
        """Probe every ``interval_s`` until ``stopping`` is set (on a thread of its own)."""
        while not stopping.wait(self.interval_s):
            self.probe()

    def probe(self) -> None:
        try:
            self._probe()
            because = ""
        except BusError as exc:
            because = str(exc)
        with self._changed:
            if not because and not self._reachable:
                self._returns += 1
                self._changed.notify_all()
            self._reachable = not because
            self._unreachable_because = because or self._unreachable_because
            self._update()

    def stage_failed(self, stage: str, exc: BusUnavailable) -> None:
        with self._changed:
            self._failing[stage] = str(exc)
            self._update()

    def stage_ok(self, stage: str) -> None:
        if stage not in self._failing:  # the usual case: no lock taken
            return
        with self._changed:
            self._failing.pop(stage, None)
            self._update()

    def wait_for_return(self, returns: int, timeout_s: float) -> None:
        """Wait until the probe has found the bus again since ``returns`` was read, at most
        ``timeout_s``."""
        with self._changed:
            self._changed.wait_for(lambda: self._returns != returns, timeout_s)

    def _update(self) -> None:
        """Log and export a change of state (called with the lock held)."""
        up = self._reachable and not self._failing
        if up == self._up:
            return
        self._up = up
        if up:
            log.info("bus back after %.1fs", time.monotonic() - self._down_since)
        else:
            self._down_since = time.monotonic()
            because = (self._unreachable_because if not self._reachable
                       else next(iter(self._failing.values())))
            log.error("bus down: %s; the stages wait and retry until it is back", because)
        self._set_gauge()

    def _set_gauge(self) -> None:
        if self._metrics is not None:
            self._metrics.bus_up.set(1 if self._up else 0)
