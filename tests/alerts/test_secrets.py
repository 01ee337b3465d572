"""Secrets never reach logs, errors, records or metrics — checked with real failing webhooks
whose URLs carry a secret token, and with every logger captured at DEBUG."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from alertkit import FakeClock, Reply, ScriptedServer, StageRig, free_port, make_dev
from prometheus_client import generate_latest

from alerts.channels import SlackNotifier
from alerts.notification import make_notification
from peacewatch.errors import PermanentDeliveryError
from peacewatch.settings.alerts import SlackReceiver

SECRET = "xoxb-Sup3rS3cretT0ken-4242"
SLACK_SECRET = "T9999/B9999/Zq8sEcReTpAtH0000"


def test_no_secret_in_logs_errors_records_or_metrics(
        tmp_path: Path, clock: FakeClock, slack_server: ScriptedServer,
        webhook_server: ScriptedServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    # A server that echoes the request line in its error, as some do.
    webhook_server.script = [Reply(500, f"cannot handle /hook?token={SECRET}"),
                             Reply(400, f"bad token {SECRET}")]
    alerts: dict[str, Any] = {
        "receivers": {
            # Slack answers 404 no_service for a webhook that does not exist.
            "chat": {"kind": "slack", "rate_per_s": 0,
                     "webhook_url": slack_server.url(f"/services/{SLACK_SECRET}")},
            "hook": {"kind": "webhook", "url": webhook_server.url(f"/hook?token={SECRET}"),
                     "authorization": f"Bearer {SECRET}"},
            "gone": {"kind": "webhook",
                     "url": f"http://127.0.0.1:{free_port()}/in/{SECRET}"},
        },
        "default_route": {"group_wait_s": 0},
        "retry": {"base_s": 1, "max_attempts": 2},
    }
    rig = StageRig(tmp_path, alerts, clock)
    try:
        rig.publish(make_dev(1))
        rig.run(10)
        records = rig.read_records()
        assert rig.stage.store is not None
        dead = rig.stage.store.dead()
    finally:
        rig.close()

    assert sorted(r.receiver for r in records if r.status == "dead") == ["chat", "gone", "hook"]
    assert any("HTTP 404 no_service" in (r.error or "") for r in records)
    assert any("HTTP 500" in (r.error or "") for r in records)
    # Every request was made, with the secret, to the servers: the test is not vacuous.
    assert any(SECRET in path for path, _, _ in webhook_server.requests)
    assert any(SLACK_SECRET in path for path, _, _ in slack_server.requests)
    # httpx logged its request lines at INFO: they were captured, and masked.
    assert "HTTP Request: POST" in caplog.text

    texts = [caplog.text, *(r.model_dump_json() for r in records),
             *(str(e) for _, _, e in dead), generate_latest(rig.metrics.registry).decode()]
    for text in texts:
        assert SECRET not in text
        assert SLACK_SECRET not in text
        assert "Zq8sEcReTpAtH0000" not in text


def test_a_failing_send_raises_an_error_without_the_secret(
        slack_server: ScriptedServer) -> None:

    notifier = SlackNotifier("chat", SlackReceiver(
        kind="slack", webhook_url=f"http://127.0.0.1:{slack_server.port}/x/{SLACK_SECRET}"))
    n = make_notification(receiver="chat", route="r", group="g", kind="alert",
                          developments=(make_dev(1),), now=make_dev(1).detected_at)
    with pytest.raises(PermanentDeliveryError) as info:
        notifier.send(n)
    assert SLACK_SECRET not in str(info.value) and info.value.__cause__ is None
    assert SLACK_SECRET not in repr(SlackReceiver(kind="slack", webhook_url="http://h/" +
                                                  SLACK_SECRET))
