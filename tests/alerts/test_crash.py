"""SIGKILL of a real alerter process mid-delivery, then a restart: every development is
notified, none twice to the same receiver.

The alerter runs as ``python -m peacewatch.cli -c alerts.toml alert`` against an embedded bus
file. The webhook server holds one request open; the test SIGKILLs the alerter while that
request is in flight (the remote has not answered, so it has not committed it), then restarts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from alertkit import SLACK_PATH, ScriptedServer, make_dev

from peacewatch.bus import open_bus
from peacewatch.models import DELIVERIES, DEVELOPMENTS
from peacewatch.settings import load_settings

pytestmark = pytest.mark.slow

N_DEVS = 30
ISSUES = ("black-sea", "energy", "crimea", "minerals", "guarantees")


def write_config(tmp_path: Path, hook: ScriptedServer, chat: ScriptedServer) -> Path:
    config = tmp_path / "alerts.toml"
    config.write_text(f"""
data_dir = "{tmp_path / 'data'}"

[bus]
partitions = 3
[bus.embedded]
member_timeout_s = 1.0

[metrics]
enabled = false

[alerts.receivers.hook]
kind = "webhook"
url = "{hook.url('/hook')}"
timeout_s = 20

[alerts.receivers.chat]
kind = "slack"
webhook_url = "{chat.url(SLACK_PATH)}"
rate_per_s = 50
burst = 5

[alerts.default_route]
group_by = ["story"]
group_wait_s = 0.2
group_interval_s = 0.2
""", encoding="utf-8")
    return config


def start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEACEWATCH_")}
    return subprocess.Popen(
        [sys.executable, "-m", "peacewatch.cli", "-c", str(config), "alert"],
        stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env)


def hook_ids(server: ScriptedServer) -> Counter[str]:
    return Counter(d["development_id"] for p in server.accepted for d in p["developments"])


def chat_headlines(server: ScriptedServer) -> Counter[str]:
    return Counter(p["text"] for p in server.accepted)


def test_sigkill_mid_delivery_then_restart(tmp_path: Path) -> None:
    hook = ScriptedServer()
    chat = ScriptedServer(slack=True, valid_path=SLACK_PATH)
    config = write_config(tmp_path, hook, chat)
    settings = load_settings(config)
    devs = [make_dev(i, issue=ISSUES[i % len(ISSUES)]) for i in range(N_DEVS)]
    events = open_bus(settings)
    publisher = events.publisher()
    for dev in devs:
        publisher.publish(DEVELOPMENTS, dev)
    publisher.flush()
    publisher.close()

    hook.hold_on = 6  # the sixth webhook request stays in flight until the process is dead
    log = tmp_path / "alerter.log"
    first = start(config, log)
    try:
        assert hook.held.wait(30), log.read_text()
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    hook.release(accept=False)  # the connection died before the remote committed it
    held_key = hook.requests[5][1]["Idempotency-Key"]
    assert len(hook.accepted) == 5

    second = start(config, log)
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            if len(hook_ids(hook)) == N_DEVS and len(chat_headlines(chat)) == N_DEVS:
                break
            time.sleep(0.1)
        time.sleep(0.5)  # anything sent twice would arrive now
        second.send_signal(signal.SIGTERM)
        assert second.wait(20) == 0, log.read_text()
    finally:
        if second.poll() is None:
            second.kill()
        hook.close()
        chat.close()

    expected = {d.development_id for d in devs}
    assert set(hook_ids(hook)) == expected, log.read_text()
    assert max(hook_ids(hook).values()) == 1
    assert len(chat_headlines(chat)) == N_DEVS and max(chat_headlines(chat).values()) == 1
    assert chat.violations == []
    # The interrupted notification was sent again with the same idempotency key.
    keys = [headers["Idempotency-Key"] for _, headers, _ in hook.requests]
    assert keys.count(held_key) == 2
    assert "mid-delivery" in log.read_text()

    reader = events.consumer("test-reader", [DELIVERIES])
    sent: Counter[tuple[str, str]] = Counter()
    for _ in range(10):
        for envelope in reader.poll(0.2, 1000):
            record = envelope.event
            if record.status == "sent":
                sent.update((record.receiver, d) for d in record.development_ids)
    reader.close()
    events.close()
    assert set(sent) == {(r, d) for r in ("hook", "chat") for d in expected}
    assert max(sent.values()) == 1
