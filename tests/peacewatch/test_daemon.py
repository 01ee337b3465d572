"""The daemon as a user runs it: `peacewatch run` ingests the seeds and stops cleanly on signals."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from peacewatch.bus.embedded import EmbeddedBus
from peacewatch.daemon import Daemon, Stopped
from peacewatch.errors import PeacewatchError
from peacewatch.stage import Stage, StageContext

ROOT = Path(__file__).resolve().parents[2]


def config(tmp_path: Path, seeds: Path) -> Path:
    path = tmp_path / "peacewatch.toml"
    path.write_text(
        f'data_dir = "{tmp_path / "data"}"\n'
        f'[collectors]\ndocuments = ["{seeds}"]\nbaseline_documents = ["{seeds}"]\n'
        "[metrics]\nport = 0\n[desk]\nport = 0\n[daemon]\ngrace_period_s = 20\n"
    )
    return path


def raw_items(tmp_path: Path) -> int:
    bus_file = tmp_path / "data" / "bus.sqlite3"
    if not bus_file.exists():
        return 0
    bus = EmbeddedBus(bus_file)
    try:
        row = bus._conn.execute(
            "SELECT count(*) FROM log WHERE topic = 'peacewatch.items.raw'").fetchone()
        return int(row[0])
    finally:
        bus.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_run_ingests_the_seed_documents_and_exits_cleanly_on_a_signal(
    tmp_path: Path, shared_dir: Path, sig: signal.Signals
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "peacewatch.cli", "-c", str(config(tmp_path, shared_dir / "seeds")),
         "run"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        seeds = len(list((shared_dir / "seeds").glob("*.txt")))
        while raw_items(tmp_path) < seeds and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[0]
            time.sleep(0.2)
        assert raw_items(tmp_path) == seeds
        proc.send_signal(sig)
        output, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, output
    assert "stopped cleanly" in output


class CountingStage(Stage):
    name = "counting"

    def __init__(self, ctx: StageContext, fail_every: int = 0) -> None:
        super().__init__(ctx)
        self.steps = 0
        self.stopped = False
        self.fail_every = fail_every

    def step(self, timeout_s: float) -> int:
        self.steps += 1
        if self.fail_every and self.steps % self.fail_every == 0:
            raise PeacewatchError("transient")
        time.sleep(0.01)
        return 1 if self.steps < 5 else 0

    def stop(self) -> None:
        self.stopped = True


def test_burst_mode_steps_until_a_round_does_nothing() -> None:
    stage = CountingStage(StageContext(None, None, None))  # type: ignore[arg-type]
    assert Daemon([stage], grace_period_s=1).run_once() == 4
    assert stage.stopped


def test_a_stage_error_is_logged_and_the_stage_goes_on() -> None:
    stage = CountingStage(StageContext(None, None, None), fail_every=3)  # type: ignore[arg-type]
    daemon = Daemon([stage], grace_period_s=5)
    threading.Timer(3.0, daemon.stopping.set).start()
    assert daemon.run_forever() is Stopped.CLEAN
    assert stage.steps > 3 and stage.stopped


class BuggyStage(CountingStage):
    def step(self, timeout_s: float) -> int:
        raise RuntimeError("a bug")


def test_a_stage_that_dies_of_an_unexpected_error_is_reported_as_failed() -> None:
    ctx = StageContext(None, None, None)  # type: ignore[arg-type]
    stage, healthy = BuggyStage(ctx), CountingStage(ctx)
    daemon = Daemon([stage, healthy], grace_period_s=5)
    assert daemon.run_forever() is Stopped.STAGE_FAILED
    assert stage.stopped and healthy.stopped
