"""The whole pipeline rides out a bus that fails under it, as an operator would meet it.

Each test runs the real ``peacewatch run`` against a steady stream of items from a local feed
server, with a webhook endpoint on 127.0.0.1 counting the notifications per item, and then
faults the bus: a Kafka broker of the test's own stopped, SIGKILLed, or started only after
peacewatch; the embedded bus's disk filled up. Through each fault the process stays up, says
once that the bus is down and once that it is back, shows not-ready on /readyz and
``peacewatch_bus_up 0`` meanwhile, and in the end every item is notified exactly once.
"""

from __future__ import annotations

import errno
import os
import re
import resource
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import kafka_broker
import pytest
from e2e_kit import (
    FeedHub,
    Headlines,
    Peacewatch,
    Stream,
    Webhook,
    toml_str,
    wait_until,
    write_webhook_pipeline_config,
)

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.timeout(300)]

ISSUES = {"prisoners": "prisoner exchange", "ceasefire": "ceasefire", "grain": "grain corridor"}
FEEDS = ["wire-a", "wire-b"]
GRACE_S = 8.0
# Long enough for every stage to meet the outage (consumer lag is looked up every 5 s, a
# request times out after 5 s here, a group member after 6 s), far shorter than the issue's
# 20 s to keep the suite lean.
OUTAGE_S = 12.0
BUS_DOWN = re.compile(r"peacewatch\.bus: bus down")
BUS_BACK = re.compile(r"peacewatch\.bus: bus back")


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    with Webhook().running() as hook:
        yield hook


def write_config(tmp_path: Path, feed_hub: FeedHub, hook: Webhook, bus: str) -> Path:
    return write_webhook_pipeline_config(
        tmp_path, bus=bus, issues=ISSUES, feeds={f: feed_hub.url(f) for f in FEEDS},
        hook_url=hook.url, grace_period_s=GRACE_S)


def kafka_bus(bootstrap: str, *, startup_wait_s: float = 60) -> str:
    return f"""
[bus]
partitions = 2
[bus.kafka]
bootstrap_servers = [{toml_str(bootstrap)}]
session_timeout_s = 6
request_timeout_s = 5
connect_timeout_s = 5
startup_wait_s = {startup_wait_s}
"""


def ready(pw: Peacewatch) -> bool:
    assert pw.alive, f"{pw.name} exited\n{pw.tail()}"
    return pw.get("/readyz")[0] == 200


def bus_up(pw: Peacewatch) -> float:
    return pw.metric("peacewatch_bus_up")


def every_item_notified_once(stream: Stream, hook: Webhook, pw: Peacewatch) -> None:
    """Wait until each item added so far is notified; then no item may be notified twice."""
    markers = list(stream.added)
    wait_until("every item notified", lambda: all(hook.counts(markers).values()), 90, 0.5,
               lambda: f"missing {[m for m, n in hook.counts(markers).items() if not n]}\n"
                       f"{pw.tail(60)}")
    time.sleep(3)  # a second notification of an item would come by now
    twice = {m: n for m, n in hook.counts(markers).items() if n != 1}
    assert not twice, f"items notified more than once: {twice}"
    assert len(hook.posts) == len(markers), f"{len(hook.posts)} posts for {len(markers)} items"


def lines_between(pw: Peacewatch, start: int, end: int | None = None) -> list[str]:
    with pw._lock:
        return pw.lines[start:end]


def assert_one_line_each_way(pw: Peacewatch, since: int) -> None:
    lines = lines_between(pw, since)
    down = [line for line in lines if BUS_DOWN.search(line)]
    back = [line for line in lines if BUS_BACK.search(line)]
    assert len(down) == 1 and len(back) == 1, "".join(lines)
    assert not any("stopping the process" in line for line in lines), "".join(lines)


def start_pipeline(config: Path, peacewatch: Callable[..., Peacewatch], feed_hub: FeedHub,
                   hook: Webhook) -> tuple[Peacewatch, Stream]:
    pw = peacewatch(config, "run")
    wait_until("ready", lambda: ready(pw), 60, 0.3, pw.tail)
    stream = Stream(feed_hub, FEEDS, Headlines(ISSUES.values()), 0.3).start()
    wait_until("notifications flowing", lambda: len(hook.posts) >= 3, 60, 0.3, pw.tail)
    return pw, stream


# -- Kafka: a broker stopped or killed under a running pipeline ------------------------------


@pytest.mark.parametrize("fault", ["stop", "sigkill"])
def test_the_pipeline_rides_out_a_broker_outage(
    fault: str, private_broker: kafka_broker.Broker, feed_hub: FeedHub, webhook: Webhook,
    peacewatch: Callable[..., Peacewatch], tmp_path: Path, measured: Callable[[str], None],
) -> None:
    config = write_config(tmp_path, feed_hub, webhook, kafka_bus(private_broker.bootstrap))
    pw, stream = start_pipeline(config, peacewatch, feed_hub, webhook)
    assert bus_up(pw) == 1

    mark = pw.mark()
    down_at = time.time()
    if fault == "stop":
        private_broker.stop()
    else:
        private_broker.kill()
    wait_until("/readyz 503 with the broker gone", lambda: not ready(pw), 20, 0.2, pw.tail)
    assert bus_up(pw) == 0
    time.sleep(max(0.0, down_at + OUTAGE_S - time.time()))
    assert pw.alive, pw.tail()

    private_broker.restart()
    back_at = time.time()
    wait_until("/readyz 200 with the broker back", lambda: ready(pw), 60, 0.2, pw.tail)
    ready_after = time.time() - back_at
    assert bus_up(pw) == 1
    wait_until("an item added after the restart notified",
               lambda: webhook.first_at(stream.since(back_at)), 60, 0.3, pw.tail)
    flowing_after = (webhook.first_at(stream.since(back_at)) or 0) - back_at
    stream.stop()
    every_item_notified_once(stream, webhook, pw)
    assert_one_line_each_way(pw, mark)
    measured(f"broker {fault}, down {back_at - down_at:.1f}s: ready {ready_after:.1f}s after "
             f"it was back, first new item notified after {flowing_after:.1f}s; "
             f"{len(stream.added)} items, each notified once")
    rc, _ = pw.terminate(GRACE_S + 10)
    assert rc == 0, pw.tail()


def test_run_waits_for_a_broker_that_starts_after_it(
    private_broker: kafka_broker.Broker, feed_hub: FeedHub, webhook: Webhook,
    peacewatch: Callable[..., Peacewatch], tmp_path: Path,
) -> None:
    private_broker.stop()
    config = write_config(tmp_path, feed_hub, webhook,
                          kafka_bus(private_broker.bootstrap, startup_wait_s=60))
    pw = peacewatch(config, "run")
    pw.wait_for(r"bus not reachable yet.*waiting up to 60s", 30)
    assert pw.get("/healthz")[0] == 200 and not ready(pw) and bus_up(pw) == 0
    time.sleep(6)  # longer than a connect attempt: the old behaviour exited 3 by now
    assert pw.alive, pw.tail()

    private_broker.restart()
    wait_until("ready once the broker is up", lambda: ready(pw), 60, 0.3, pw.tail)
    assert bus_up(pw) == 1
    stream = Stream(feed_hub, FEEDS, Headlines(ISSUES.values()), 0.3).start()
    wait_until("a few items added", lambda: len(stream.added) >= 5, 30, 0.2)
    stream.stop()
    every_item_notified_once(stream, webhook, pw)
    rc, _ = pw.terminate(GRACE_S + 10)
    assert rc == 0, pw.tail()


# -- the embedded bus on a full disk -----------------------------------------------------------


class FullDisk:
    """A disk that can be filled up and freed again under a running process.

    As root, a small tmpfs is mounted for the data_dir and filled with a ballast file until
    the kernel says ENOSPC. Elsewhere, the process's RLIMIT_FSIZE is set to 0 (Python ignores
    SIGXFSZ, so a write that would grow a file fails with EFBIG): like a full disk, writes
    inside space a file already has still succeed, and nothing can grow.
    """

    def __init__(self, where: Path) -> None:
        self.where = where
        where.mkdir()
        self.mounted = os.geteuid() == 0 and shutil.which("mount") is not None and \
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(where)],
                           capture_output=True, check=False).returncode == 0
        self.how = "a 64 MiB tmpfs filled up" if self.mounted else "RLIMIT_FSIZE=0"

    def fill(self, pid: int) -> None:
        if not self.mounted:
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))
            return
        with (self.where / "ballast").open("wb", buffering=0) as ballast:
            for chunk in (1 << 20, 4096, 512):
                try:
                    while True:
                        ballast.write(b"\0" * chunk)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, exc

    def free(self, pid: int) -> None:
        if self.mounted:
            (self.where / "ballast").unlink()
        else:
            resource.prlimit(pid, resource.RLIMIT_FSIZE,
                             (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

    def close(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.where)], check=False)


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[FullDisk]:
    disk = FullDisk(tmp_path / "disk")
    yield disk
    disk.close()


def test_the_embedded_bus_on_a_full_disk_loses_nothing(
    full_disk: FullDisk, feed_hub: FeedHub, webhook: Webhook,
    peacewatch: Callable[..., Peacewatch], measured: Callable[[str], None],
) -> None:
    config = write_config(full_disk.where, feed_hub, webhook, "")
    pw, stream = start_pipeline(config, peacewatch, feed_hub, webhook)
    assert pw.proc is not None
    mark = pw.mark()
    full_at = time.time()
    full_disk.fill(pw.proc.pid)
    # Not ready can come first (a failing step) and the bus's down line a moment later.
    wait_until("/readyz 503 and the bus down on a full disk",
               lambda: not ready(pw) and bus_up(pw) == 0, 30, 0.2, pw.tail)
    time.sleep(max(0.0, full_at + 8 - time.time()))  # items keep arriving meanwhile
    assert pw.alive, pw.tail()

    full_disk.free(pw.proc.pid)
    freed_at = time.time()
    wait_until("/readyz 200 with space freed", lambda: ready(pw), 60, 0.2, pw.tail)
    ready_after = time.time() - freed_at
    wait_until("the bus up again", lambda: bus_up(pw) == 1, 30, 0.2, pw.tail)
    wait_until("an item added after the space was freed notified",
               lambda: webhook.first_at(stream.since(freed_at)), 60, 0.3, pw.tail)
    stream.stop()
    every_item_notified_once(stream, webhook, pw)
    assert_one_line_each_way(pw, mark)
    measured(f"full disk ({full_disk.how}) for {freed_at - full_at:.1f}s: ready "
             f"{ready_after:.1f}s after space was freed; {len(stream.added)} items, each "
             f"notified once")
    rc, _ = pw.terminate(GRACE_S + 10)
    assert rc == 0, pw.tail()
