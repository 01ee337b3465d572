"""The whole pipeline as a user runs it, on a real Kafka broker.

A real local HTTP server publishes an RSS feed that grows while `peacewatch run` polls it; a real
SMTP server (aiosmtpd) and a Slack-like webhook endpoint receive the notifications. Every new
relevant item must become a notification on both receivers, the irrelevant one none, and the
latency from the feed's change to each notification is measured and printed.
"""

from __future__ import annotations

import json
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from e2e_kit import FeedHub, Mailbox, SlackLike, loopback_collectors_toml, write_feed_list

ROOT = Path(__file__).resolve().parents[2]

# Our own headlines, written for this test; each is plainly about one tracked issue.
RELEVANT = [
    ("Russia and Ukraine agree an Easter truce along the whole front line", "ceasefire"),
    ("US envoy arrives in Moscow for peace talks with Putin on ending the war in Ukraine",
     "negotiations"),
    ("EU adopts new sanctions on Russia's shadow fleet of oil tankers", "sanctions"),
    ("Ukraine and Russia swap hundreds of prisoners of war in UAE-mediated exchange",
     "prisoners"),
]
IRRELEVANT = "Local bakery wins national bread award for third year running"


def write_config(tmp_path: Path, bootstrap: str, feed_url: str, hook: str, smtp_port: int) -> Path:
    feeds = tmp_path / "feeds.toml"
    write_feed_list(feeds, {"wire": feed_url})
    config = tmp_path / "peacewatch.toml"
    config.write_text(f"""
data_dir = "{tmp_path / 'data'}"
[bus]
topic_prefix = "e2e-{tmp_path.name[-12:]}"
partitions = 2
[bus.kafka]
bootstrap_servers = ["{bootstrap}"]
session_timeout_s = 6
[metrics]
port = 0
[desk]
port = 0
{loopback_collectors_toml([feeds])}
[alerts.receivers.slack]
kind = "slack"
webhook_url = "{hook}"
rate_per_s = 20
burst = 20
[alerts.receivers.mail]
kind = "email"
host = "127.0.0.1"
port = {smtp_port}
security = "none"
sender = "peacewatch@example.test"
to = ["desk@example.test"]
[alerts.default_route]
receivers = ["slack", "mail"]
group_by = ["issue", "story"]
group_wait_s = 0
group_interval_s = 0
""")
    return config


@pytest.mark.kafka
def test_new_feed_items_become_notifications_on_slack_and_email(
    kafka_bootstrap: str, feed_hub: FeedHub, slack_like: SlackLike, mailbox: Mailbox,
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, kafka_bootstrap, feed_hub.url("wire"), slack_like.url,
                          mailbox.port)
    proc = subprocess.Popen([sys.executable, "-m", "peacewatch.cli", "-c", str(config), "run"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log: list[str] = []
    threading.Thread(target=lambda: log.extend(proc.stdout or []), daemon=True).start()
    try:
        time.sleep(4)  # let the stages join their groups; the feed is empty so far
        for title, _issue in RELEVANT[:2]:
            feed_hub.add("wire", title, f"{title}. Officials confirmed the step on Tuesday.")
        feed_hub.add("wire", IRRELEVANT, "The bakery has won for three years.")
        time.sleep(3)
        for title, _issue in RELEVANT[2:]:
            feed_hub.add("wire", title, f"{title}. Officials confirmed the step on Tuesday.")

        deadline = time.monotonic() + 90
        latencies: dict[str, float] = {}
        while time.monotonic() < deadline and len(latencies) < len(RELEVANT):
            for at, _path, payload in list(slack_like.posts):
                text = json.dumps(payload, ensure_ascii=False)
                for title, _ in RELEVANT:
                    if title in text and title not in latencies:
                        latencies[title] = at - feed_hub.added_at[title]
            time.sleep(0.2)
        time.sleep(2)  # anything more that would arrive (duplicates, the irrelevant item)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        finally:
            proc.kill()

    output = "".join(log)
    assert set(latencies) == {t for t, _ in RELEVANT}, output[-3000:]
    assert slack_like.count(IRRELEVANT) == 0
    mail_text = " ".join(m.get_body(("plain",)).get_content()  # type: ignore[union-attr]
                         for m in mailbox.messages)
    for title, _ in RELEVANT:
        assert title in mail_text, f"no email for {title!r}"
    assert proc.returncode == 0, output[-3000:]
    values = sorted(latencies.values())
    print(f"\ne2e latency feed change -> Slack notification over {len(values)} items: "
          f"min {values[0]:.2f}s, median {statistics.median(values):.2f}s, "
          f"max {values[-1]:.2f}s (poll interval 1-2 s, group_wait 0)")
