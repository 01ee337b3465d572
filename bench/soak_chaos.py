"""The soak's faults: stage processes under a supervisor that SIGKILLs them on a seeded
schedule and starts them again, and broker restarts on the three-broker cluster.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from kafka import KafkaAdminClient
from kafka.errors import KafkaError
from kafka_broker import Cluster

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Fault:
    at: float  # seconds after the soak started
    target: str  # a stage name, or "broker"
    how: str  # "SIGKILL" for a stage; "stop" or "kill" for a broker


def spread(rng: random.Random, count: int, start: float, end: float, gap: float) -> list[float]:
    """``count`` random moments in [start, end], at least ``gap`` apart (narrowed when the
    span is too short): uniform points in the span left over, each shifted by the gaps
    before it."""
    gap = min(gap, (end - start) / max(count, 1))
    free = end - start - gap * (count - 1)
    return [start + x + i * gap for i, x in enumerate(sorted(rng.uniform(0, free)
                                                             for _ in range(count)))]


def schedule(seed: int, stages: list[str], kills: int, duration: float,
             brokers: list[int]) -> tuple[list[Fault], list[tuple[float, int, str]]]:
    """Stage SIGKILLs and broker restarts at seeded moments. The first and last 15 s are
    left calm: the stream is warming up, then every item must be settled before the end. A
    stage is not killed again within 10 s, so that most kills meet a stage at work, not one
    starting up; the two broker restarts are at least a quarter of the run apart."""
    rng = random.Random(seed)
    faults = [Fault(at, stage, "SIGKILL") for stage in stages
              for at in spread(rng, kills, 15, duration - 15, 10)]
    picked = rng.sample(brokers, k=min(2, len(brokers)))
    times = spread(rng, len(picked), duration * 0.2, duration * 0.8, duration * 0.25)
    # One clean restart (SIGTERM, as an upgrade does) and one crash (SIGKILL, as a lost VM).
    restarts = [(at, node, how) for at, node, how in zip(times, picked, ("stop", "kill"),
                                                         strict=False)]
    return sorted(faults, key=lambda f: f.at), restarts


def rss_mib(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return float("nan")
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Stage:
    """One ``peacewatch COMMAND`` process, started again whenever it dies (as systemd's
    ``Restart=always`` would). Its metrics port is fixed for the run, so a restarted process
    answers /readyz where the last one did."""

    name: str
    config: Path
    port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    kills: int = 0
    unexpected: list[str] = field(default_factory=list)
    _log: IO[bytes] | None = None

    def start(self) -> None:
        env = dict(os.environ, PEACEWATCH_METRICS__PORT=str(self.port))
        if self._log is None:
            self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "peacewatch.cli", "-c", str(self.config), self.name],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT)
        self.started_at = time.time()

    def kill(self) -> None:
        """SIGKILL, then start again at once."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.kills += 1
        self.start()

    def check(self) -> None:
        """A process that ended on its own is a fault of its own: noted, then restarted."""
        if self.proc is not None and self.proc.poll() is not None:
            self.unexpected.append(f"{self.name} exited {self.proc.returncode} after "
                                   f"{time.time() - self.started_at:.0f}s")
            self.start()

    def ready(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.port}/readyz"
            with urllib.request.urlopen(url, timeout=1) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def rss(self) -> float:
        return rss_mib(self.proc.pid) if self.proc is not None else float("nan")

    def stop(self, timeout: float) -> int | None:
        """SIGTERM and wait: the exit code, or None when it had to be killed."""
        try:
            return self._terminate(timeout)
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None

    def _terminate(self, timeout: float) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc is not None else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


def fully_replicated(bootstrap: str, prefix: str) -> bool:
    """Every partition of the soak's topics led and on all three in-sync replicas."""
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","),
                                 reconnect_backoff_max_ms=1000, request_timeout_ms=5000)
    except KafkaError:
        return False
    try:
        topics = [t for t in admin.list_topics() if t.startswith(f"{prefix}.")]
        parts = [p for t in admin.describe_topics(topics) for p in t["partitions"]]
    except KafkaError:
        return False
    finally:
        admin.close()
    return bool(parts) and all(len(p["isr_nodes"]) == 3 and p["leader_id"] >= 0
                               for p in parts)


@dataclass
class BrokerChaos:
    """Restarts brokers at their moments, on a thread of its own that lives until ``close``:
    a broker started from a thread dies with that thread (the launcher's PDEATHSIG), and a
    restart blocks for seconds that the stage kills must not wait for."""

    cluster: Cluster
    prefix: str
    restarts: list[tuple[float, int, str]]
    t0: float
    done: list[tuple[Fault, float, float]] = field(default_factory=list)  # fault, at, whole
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> BrokerChaos:
        self._thread = threading.Thread(target=self._run, name="soak-brokers", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        for at, node, how in self.restarts:
            if self._stop.wait(max(0.0, self.t0 + at - time.time())):
                break
            try:
                self._restart(node, how)
            except Exception as exc:  # reported, and the soak fails on it
                self.errors.append(f"restart of broker {node} ({how}): {exc}")
        self._stop.wait()  # keep the brokers this thread started alive until the end

    def _restart(self, node: int, how: str) -> None:
        broker = self.cluster.broker(node)
        at = time.time()
        if how == "kill":
            broker.kill()
        else:
            broker.stop()
        broker.restart()
        deadline = time.time() + 120
        while not fully_replicated(self.cluster.bootstrap, self.prefix):
            if time.time() > deadline:
                raise TimeoutError("partitions not on three in-sync replicas after 120 s")
            time.sleep(0.5)
        self.done.append((Fault(at - self.t0, "broker", f"{how} node {node}"), at,
                          time.time() - at))

    def close(self) -> None:
        """Once the cluster is stopped: let the thread end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
