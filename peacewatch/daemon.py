"""The daemon's lifecycle: stages on threads, signals, a grace period, burst mode.

SIGTERM / SIGINT set a stop flag: every stage finishes the batch in hand (handle, flush, commit)
and its ``stop`` hook runs; a stage still busy after ``grace_period_s`` is abandoned and the
process exits non-zero, with its uncommitted work redelivered on the next start. SIGHUP reloads
settings; a refused reload logs why and keeps the old settings.

A step that fails with a PeacewatchError is retried after a pause that doubles up to a few
seconds; the stage has left its records to be read again (see ``EventConsumer.rewinding``).
A failure of the bus is told to the ``BusWatch`` (one log line for the process) and its retry
comes as soon as the bus is back. Any other exception is a bug: the process stops, and says so
with its exit status (``Stopped.STAGE_FAILED``), never as a clean stop.
"""

from __future__ import annotations

import enum
import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType

from peacewatch.bus.watch import BusWatch
from peacewatch.errors import BusError, BusUnavailable, ConfigError, PeacewatchError
from peacewatch.metrics import Metrics
from peacewatch.settings import Settings
from peacewatch.stage import Stage

log = logging.getLogger("peacewatch.daemon")

# A step waits at most this long for input, so a stop request is seen within it.
_STEP_TIMEOUT_S = 0.5
# A failed step is retried after a pause that doubles from the first to the longest.
_RETRY_FIRST_S = 0.5
_RETRY_LONGEST_S = 5.0
# How often each stage reports its consumer lag.
_LAG_INTERVAL_S = 5.0


class Stopped(enum.Enum):
    """How ``run_forever`` ended."""

    CLEAN = "stopped cleanly"
    ABANDONED = "stopped with work abandoned"
    STAGE_FAILED = "stopped because a stage failed"


@dataclass
class _Failures:
    """A stage's run of failed steps: how long to pause next, and what was logged already."""

    count: int = 0
    since: float = 0.0
    said: str = ""

    def pause_s(self) -> float:
        return float(min(_RETRY_FIRST_S * 2 ** (self.count - 1), _RETRY_LONGEST_S))


class Daemon:
    def __init__(
        self,
        stages: Sequence[Stage] = (),
        *,
        grace_period_s: float,
        reload_settings: Callable[[], Settings] | None = None,
        metrics: Metrics | None = None,
        watch: BusWatch | None = None,
    ) -> None:
        self.stages = list(stages)
        self.metrics = metrics
        self.watch = watch
        # Stages whose thread runs, stages whose last step failed, stages that died.
        self._running: set[str] = set()
        self._failing: set[str] = set()
        self.failed: list[str] = []
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

    def run_forever(self) -> Stopped:
        """Run until a stop signal or a stage failure; say how it ended."""
        for stage in self.stages:
            stage.start()
        threads = [
            threading.Thread(target=self._loop, args=(s,), name=f"stage-{s.name}", daemon=True)
            for s in self.stages
        ]
        if self.watch is not None:
            threading.Thread(target=self.watch.run, args=(self.stopping,), name="bus-watch",
                             daemon=True).start()
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
        if self.failed:
            return Stopped.STAGE_FAILED
        return Stopped.CLEAN if clean else Stopped.ABANDONED

    def is_ready(self) -> bool:
        """Running, no stage failing its steps, and the bus up: what /readyz answers."""
        return (self.ready.is_set() and not self.stopping.is_set() and not self._failing
                and (self.watch is None or self.watch.up))

    def _loop(self, stage: Stage) -> None:
        next_lag = 0.0
        failures = _Failures()
        self._running.add(stage.name)
        self._export_stage_up(stage)
        try:
            while not self.stopping.is_set():
                try:
                    self._apply_pending(stage)
                    stage.step(_STEP_TIMEOUT_S)
                except BusUnavailable as exc:
                    self._bus_failed(stage, exc, failures)
                    continue
                except PeacewatchError as exc:
                    self._step_failed(stage, exc, failures)
                    continue
                self._step_ok(stage, failures)
                if time.monotonic() >= next_lag:
                    self._report_lag(stage)
                    next_lag = time.monotonic() + _LAG_INTERVAL_S
        except Exception:
            log.exception("stage %s failed; stopping the process", stage.name)
            self.failed.append(stage.name)
            self.stopping.set()
        finally:
            self._running.discard(stage.name)
            self._stop(stage)

    # -- failed steps ------------------------------------------------------------------------

    def _step_failed(self, stage: Stage, exc: PeacewatchError, failures: _Failures) -> None:
        """Log a failure once (again only when it changes), then pause before the retry."""
        self._count_failure(stage, failures)
        if str(exc) != failures.said:
            failures.said = str(exc)
            log.error("stage %s: %s (retrying)", stage.name, exc)
        self._pause(failures.pause_s())

    def _bus_failed(self, stage: Stage, exc: BusUnavailable, failures: _Failures) -> None:
        """The bus failed the step: the watch says so once for the whole process, and the
        retry comes when the bus is found again (or after the pause, whichever is first)."""
        if self.watch is None:
            self._step_failed(stage, exc, failures)
            return
        self._count_failure(stage, failures)
        returns = self.watch.returns
        self.watch.stage_failed(stage.name, exc)
        log.debug("stage %s: %s", stage.name, exc)
        self._pause(failures.pause_s(), returns)

    def _count_failure(self, stage: Stage, failures: _Failures) -> None:
        if failures.count == 0:
            failures.since = time.monotonic()
        failures.count += 1
        self._failing.add(stage.name)

    def _step_ok(self, stage: Stage, failures: _Failures) -> None:
        if self.watch is not None:
            self.watch.stage_ok(stage.name)
        if failures.count == 0:
            return
        if failures.said:
            log.info("stage %s: working again after %d failed step(s) in %.1fs", stage.name,
                     failures.count, time.monotonic() - failures.since)
        self._failing.discard(stage.name)
        failures.count, failures.said = 0, ""

    def _pause(self, seconds: float, bus_returns: int | None = None) -> None:
        """Wait ``seconds``, less if a stop is asked or (given the watch's count of returns
        before the failure) the bus is found again."""
        deadline = time.monotonic() + seconds
        while not self.stopping.is_set() and (left := deadline - time.monotonic()) > 0:
            if self.watch is not None and bus_returns is not None:
                if self.watch.returns != bus_returns:
                    return
                self.watch.wait_for_return(bus_returns, min(0.2, left))
            else:
                self.stopping.wait(min(0.2, left))

    # -- metrics -----------------------------------------------------------------------------

    def _export_stage_up(self, stage: Stage) -> None:
        """peacewatch_stage_up, read when scraped: running, steps succeeding, bus up."""
        if self.metrics is None:
            return
        name = stage.name
        self.metrics.stage_up.labels(stage=name).set_function(
            lambda: float(name in self._running and name not in self._failing
                          and (self.watch is None or self.watch.up)))

    def _report_lag(self, stage: Stage) -> None:
        if self.metrics is None:
            return
        try:
            lags = stage.lag() if self.watch is None or self.watch.up else {}
        except BusError as exc:
            log.debug("stage %s: consumer lag unknown: %s", stage.name, exc)
            lags = {}  # unknown now: no series, rather than the last value frozen
        reported = {(topic, str(part)): lag for (topic, part), lag in lags.items()}
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
