"""``peacewatch process`` killed with SIGKILL mid-stream, twice, then restarted: every item is
classified and the developments are exactly those of an uninterrupted run, each once."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from proc_testkit import (
    REPO,
    Reader,
    bootstrap_for,
    context,
    make_settings,
    publish,
    reference_run,
    synthetic_items,
)

from peacewatch.models import CLASSIFIED_ITEMS, DEVELOPMENTS, RAW_ITEMS
from peacewatch.settings import Settings

pytestmark = pytest.mark.timeout(300)
TOTAL = 600


def write_config(path: Path, settings: Settings, backend: str) -> Path:
    kafka = ""
    if backend == "kafka":
        servers = ", ".join(f'"{s}"' for s in settings.bus.kafka.bootstrap_servers)
        kafka = (f"[bus.kafka]\nbootstrap_servers = [{servers}]\nsession_timeout_s = 6.0\n"
                 "max_poll_interval_s = 30.0\n")
    p = settings.processors
    path.write_text(f"""
data_dir = "{settings.data_dir}"
[bus]
topic_prefix = "{settings.bus.topic_prefix}"
partitions = {settings.bus.partitions}
[bus.embedded]
member_timeout_s = 1.0
{kafka}
[processors]
group = "{p.group}"
stories_group = "{p.stories_group}"
batch_size = 10
[metrics]
enabled = false
[logging]
level = "warning"
""", encoding="utf-8")
    return path


def progress(settings: Settings) -> int:
    """Raw items the processor has handled so far (from its own state file)."""
    path = settings.path(settings.processors.state_path)
    if not path.exists():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        row = db.execute("SELECT sum(next_off) FROM ledger_offsets WHERE log = 'classify'"
                         ).fetchone()
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0
    finally:
        db.close()
    return int(row[0] or 0)


def start(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "peacewatch.cli", "-c", str(config),
                             "process"], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def kill_at(process: subprocess.Popen[bytes], settings: Settings, handled: int) -> int:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        done = progress(settings)
        if done >= handled:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return done
        time.sleep(0.005)
    stderr = process.stderr.read().decode() if process.stderr else ""
    raise AssertionError(f"processor did not get to {handled} items: {stderr[-2000:]}")


def test_sigkill_twice_mid_stream_then_restart(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, unique: str
) -> None:
    items = synthetic_items(TOTAL, seed=11)
    reference = reference_run(items, tmp_path)
    expected = reference.development_ids
    settings = make_settings(tmp_path, backend=backend, partitions=1, unique=unique,
                             bootstrap=bootstrap_for(backend, request))
    ctx = context(settings)
    publish(ctx.events, RAW_ITEMS, items)
    config = write_config(tmp_path / "peacewatch.toml", settings, backend)

    first = kill_at(start(config), settings, TOTAL // 4)
    assert first < TOTAL, "the first kill should land mid-stream"
    second = kill_at(start(config), settings, first + TOTAL // 4)
    assert second < TOTAL, "the second kill should land mid-stream"

    last = start(config)
    developments = Reader(ctx.events, DEVELOPMENTS, f"read-d-{unique}")
    classified = Reader(ctx.events, CLASSIFIED_ITEMS, f"read-c-{unique}")
    try:
        developments.until(lambda d: len({e.development_id for e in d}) >= len(expected)
                           and progress(settings) == TOTAL, timeout_s=120)
        classified.until(lambda c: {e.item.item_id for e in c} == reference.classified_ids,
                         timeout_s=60)
        time.sleep(1.0)  # anything emitted twice would show up by now
        developments.read()
    finally:
        last.send_signal(signal.SIGTERM)
        assert last.wait(timeout=30) == 0
    ids = [d.development_id for d in developments.events]
    assert [i for i, n in Counter(ids).items() if n > 1] == [], "a development was emitted twice"
    assert set(ids) == set(expected)
    developments.close()
    classified.close()
    ctx.events.close()
