"""The daemon's lifecycle: stages on threads, signals, a grace period, burst mode.

SIGTERM / SIGINT set a stop flag: every stage finishes the batch in hand (handle, flush, commit)
and its ``stop`` hook runs; a stage still busy after ``grace_period_s`` is abandoned and the
process exits non-zero, with its uncommitted work redelivered on the next start. SIGHUP reloads
settings; a refused reload logs why and keeps the old settings.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType

from peacewatch.errors import ConfigError, PeacewatchError
from peacewatch.metrics import Metrics
from peacewatch.settings import Settings
from peacewatch.stage import Stage

log = logging.getLogger("peacewatch.daemon")

# A step waits at most this long for input, so a stop request is seen within it.
_STEP_TIMEOUT_S = 0.5
# After an unexpected error a stage pauses before its next step, so it cannot spin.
_ERROR_PAUSE_S = 2.0
# How often each stage reports its consumer lag.
_LAG_INTERVAL_S = 5.0


class Daemon:
    def __init__(
        self,
        stages: Sequence[Stage],
        *,
        grace_period_s: float,
        reload_settings: Callable[[], Settings] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.stages = list(stages)
        self.metrics = metrics
        self._lag_labels: dict[str, set[tuple[str, str]]] = {}
        # Validated reloads waiting to be applied by each stage's own thread.
        self._pending: dict[str, Callable[[], None]] = {}
        self._pending_lock = threading.Lock()
        self.grace_period_s = grace_period_s
        self.reload_settings = reload_settings
        self.stopping = threading.Event()
        self.ready = threading.Event()

    # -- signals ---------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGINT, self._on_stop_signal)
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, self._on_reload_signal)

    def _on_stop_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping.is_set():
            return
        log.info("received %s: stopping (grace period %.0fs)",
                 signal.Signals(signum).name, self.grace_period_s)
        self.stopping.set()

    def _on_reload_signal(self, signum: int, frame: FrameType | None) -> None:
        # Reload on a thread: a signal handler must not block on stage locks.
        threading.Thread(target=self.reload, name="reload", daemon=True).start()

    def reload(self) -> None:
        """Two phases: every stage checks the new settings; only if all accept do they apply."""
        if self.reload_settings is None:
            return
        try:
            settings = self.reload_settings()
            appliers = {stage.name: stage.prepare_reload(settings) for stage in self.stages}
        except (ConfigError, PeacewatchError) as exc:
            log.error("reload refused, keeping the previous settings: %s", exc)
            return
        with self._pending_lock:
            self._pending.update(appliers)
        log.info("settings reloaded")

    def _apply_pending(self, stage: Stage) -> None:
        with self._pending_lock:
            apply = self._pending.pop(stage.name, None)
        if apply is not None:
            apply()

    # -- running ---------------------------------------------------------------------------

    def run_once(self, *, settle_s: float = 0.0, max_s: float = 3600.0) -> int:
        """Burst mode: step every stage until nothing is left; return items handled.

        Nothing is left when a whole round did nothing and no stage has uncommitted input. On
        Kafka a first round can be empty only because the group is still being joined, so the
        burst also lasts at least ``settle_s``.
        """
        total = 0
        started = time.monotonic()
        for stage in self.stages:
            stage.start()
        try:
            while not self.stopping.is_set() and time.monotonic() - started < max_s:
                done = sum(stage.step(0.2) for stage in self.stages)
                total += done
                settled = time.monotonic() - started >= settle_s
                if done == 0 and settled and not any(
                        any(stage.lag().values()) for stage in self.stages):
                    break
        finally:
            self._stop_all()
        return total

    def run_forever(self) -> bool:
        """Run until a stop signal; return True if every stage stopped within the grace period."""
        for stage in self.stages:
            stage.start()
        threads = [
            threading.Thread(target=self._loop, args=(s,), name=f"stage-{s.name}", daemon=True)
            for s in self.stages
        ]
        for t in threads:
            t.start()
        self.ready.set()
        log.info("running stages: %s", ", ".join(s.name for s in self.stages))
        while not self.stopping.wait(0.5):
            if not any(t.is_alive() for t in threads):
                break
        deadline = time.monotonic() + self.grace_period_s
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        clean = not any(t.is_alive() for t in threads)
        if not clean:
            log.error("stages still busy after the grace period: %s",
                      [t.name for t in threads if t.is_alive()])
        return clean

    def _loop(self, stage: Stage) -> None:
        next_lag = 0.0
        self._set_up(stage, 1)
        try:
            while not self.stopping.is_set():
                try:
                    self._apply_pending(stage)
                    stage.step(_STEP_TIMEOUT_S)
                    if time.monotonic() >= next_lag:
                        self._report_lag(stage)
                        next_lag = time.monotonic() + _LAG_INTERVAL_S
                except PeacewatchError as exc:
                    log.error("stage %s: %s", stage.name, exc)
                    self.stopping.wait(_ERROR_PAUSE_S)
        except Exception:
            log.exception("stage %s failed; stopping the process", stage.name)
            self.stopping.set()
        finally:
            self._set_up(stage, 0)
            self._stop(stage)

    def _set_up(self, stage: Stage, value: int) -> None:
        if self.metrics is not None:
            self.metrics.stage_up.labels(stage=stage.name).set(value)

    def _report_lag(self, stage: Stage) -> None:
        if self.metrics is None:
            return
        reported = {(topic, str(part)): lag for (topic, part), lag in stage.lag().items()}
        # A partition that moved to another process must not keep its last value here.
        for topic, part in self._lag_labels.get(stage.name, set()) - set(reported):
            self.metrics.consumer_lag.remove(stage.name, topic, part)
        for (topic, part), lag in reported.items():
            self.metrics.consumer_lag.labels(stage=stage.name, topic=topic, partition=part).set(lag)
        self._lag_labels[stage.name] = set(reported)

    def _stop_all(self) -> None:
        for stage in self.stages:
            self._stop(stage)

    @staticmethod
    def _stop(stage: Stage) -> None:
        try:
            stage.stop()
        except Exception:
            log.exception("stage %s did not stop cleanly", stage.name)
