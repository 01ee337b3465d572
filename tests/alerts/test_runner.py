"""The real alerter process (``peacewatch alert``) with short real durations: quiet hours that
end a few seconds after start become one digest, then a burst of 20 developments on one issue
within group_wait arrives as one message."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alertkit import ScriptedServer, make_dev

from peacewatch.bus import open_bus
from peacewatch.models import DEVELOPMENTS, Development
from peacewatch.settings import load_settings

pytestmark = pytest.mark.slow


def wait_for(condition: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_quiet_hours_digest_then_burst_grouping_in_real_time(
        tmp_path: Path, webhook_server: ScriptedServer) -> None:
    now = datetime.now(UTC)
    quiet_end = now + timedelta(seconds=5)
    start, end = (now - timedelta(seconds=2)).strftime("%H:%M:%S"), quiet_end.strftime("%H:%M:%S")
    config = tmp_path / "alerts.toml"
    config.write_text(f"""
data_dir = "{tmp_path / 'data'}"
[metrics]
enabled = false
# Groups, digests included, are kept per partition of the developments topic (they move with
# it): one partition makes one digest of both issues.
[bus]
partitions = 1
[alerts.receivers.hook]
kind = "webhook"
url = "{webhook_server.url()}"
[alerts.default_route]
group_wait_s = 1.5
group_interval_s = 60
quiet_hours = {{ start = "{start}", end = "{end}" }}
""", encoding="utf-8")
    events = open_bus(load_settings(config))
    publisher = events.publisher()

    def publish(devs: list[Development]) -> None:
        for dev in devs:
            publisher.publish(DEVELOPMENTS, dev)
        publisher.flush()

    publish([make_dev(i, issue=("energy", "crimea")[i % 2]) for i in range(10)])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEACEWATCH_")}
    log = tmp_path / "alerter.log"
    proc = subprocess.Popen([sys.executable, "-m", "peacewatch.cli", "-c", str(config), "alert"],
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env)
    try:
        # Quiet: nothing is sent before the end of quiet hours, then exactly one digest.
        assert wait_for(lambda: webhook_server.requests, 20), log.read_text()
        assert datetime.now(UTC) >= quiet_end.replace(microsecond=0)
        digest = webhook_server.accepted[0]
        assert digest["kind"] == "digest" and len(digest["developments"]) == 10

        # After quiet hours: a burst of 20 on one issue inside group_wait is one message.
        burst = [make_dev(100 + i, issue="black-sea") for i in range(20)]
        for chunk in (burst[:7], burst[7:14], burst[14:]):
            publish(chunk)
            time.sleep(0.2)
        assert wait_for(lambda: len(webhook_server.accepted) >= 2, 15), log.read_text()
        time.sleep(2.0)  # a second message for the burst would come within group_wait
        assert len(webhook_server.accepted) == 2
        message = webhook_server.accepted[1]
        assert message["kind"] == "alert" and len(message["developments"]) == 20
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        finally:
            if proc.poll() is None:
                proc.kill()
        publisher.close()
        events.close()
    assert proc.returncode == 0, log.read_text()
