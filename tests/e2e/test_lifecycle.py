"""The daemon's lifecycle as an operator meets it: reload, health, logs, and ``peacewatch check``.

Each test runs the real ``peacewatch`` command (embedded bus, state under tmp_path) against real
local servers: a feed server whose feeds grow while it runs, a Slack-like endpoint, aiosmtpd.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from e2e_kit import (
    ROOT,
    FeedHub,
    Mailbox,
    Peacewatch,
    SlackLike,
    loopback_collectors_toml,
    run_check,
    toml_str,
    wait_until,
    write_feed_list,
)

from peacewatch.bus import open_bus
from peacewatch.models import RAW_ITEMS
from peacewatch.settings import load_settings

GRACE_S = 8.0
NEW_ISSUE = "zaporizhzhia-npp"
# A user's own issue, appended to a copy of the shipped watchlist.
NEW_ISSUE_TOML = f"""

[[issues]]
id = "{NEW_ISSUE}"
name = "Zaporizhzhia nuclear power plant"
description = "Safety, staffing and control of the occupied nuclear plant at Enerhodar."

  [[issues.signals]]
  terms = ["zaporizhzhia nuclear*", "nuclear power plant", "nuclear plant", "znpp", "iaea"]
"""
# Our own headlines, each plainly about the plant (and nothing the shipped issues track).
PLANT_HEADLINES = [
    "IAEA inspectors rotate at the Zaporizhzhia nuclear power plant after a long delay",
    "Backup power line to the Zaporizhzhia nuclear plant cut again, IAEA team reports",
    "IAEA chief plans another visit to the nuclear power plant at Enerhodar in Ukraine",
]
PRISONER_HEADLINE = "Russia and Ukraine carry out a prisoner exchange of 150 soldiers each"


def write_config(tmp_path: Path, feed_lists: list[Path], *, hook: str,
                 name: str = "peacewatch.toml", extra: str = "", receivers: str = "") -> Path:
    config = tmp_path / name
    config.write_text(f"""
data_dir = {toml_str(tmp_path / 'data')}
[metrics]
port = 0
[desk]
port = 0
[daemon]
grace_period_s = {GRACE_S}
{loopback_collectors_toml(feed_lists)}
{extra}
[alerts.receivers.slack]
kind = "slack"
webhook_url = {toml_str(hook)}
rate_per_s = 20
burst = 20
{receivers}
[alerts.default_route]
group_by = ["issue", "story"]
group_wait_s = 0
group_interval_s = 0
""", encoding="utf-8")
    return config


def issue_count(watchlist: Path) -> int:
    return sum(line.strip() == "[[issues]]" for line in watchlist.read_text().splitlines())


def classified(pw: Peacewatch, issue: str) -> float:
    return pw.metric("peacewatch_items_classified_total", issue=issue)


# -- (a) SIGHUP ----------------------------------------------------------------------------


def test_sighup_reloads_the_watchlist_and_refuses_invalid_settings(
    feed_hub: FeedHub, slack_like: SlackLike, peacewatch: Callable[..., Peacewatch],
    tmp_path: Path,
) -> None:
    feeds = write_feed_list(tmp_path / "feeds.toml", {"wire": feed_hub.url("wire")})
    config = write_config(tmp_path, [feeds], hook=slack_like.url)
    pw = peacewatch(config, "run")
    wait_until("ready", lambda: pw.get("/readyz")[0] == 200, 30, detail=pw.tail)

    # Before the reload the issue does not exist: an item about the plant is not labelled so.
    feed_hub.add("wire", PLANT_HEADLINES[0], f"{PLANT_HEADLINES[0]}.")
    wait_until("the first item processed",
               lambda: pw.metric("peacewatch_items_processed_total") >= 1, 30, detail=pw.tail)
    assert classified(pw, NEW_ISSUE) == 0

    watchlist = tmp_path / "watchlist.toml"
    watchlist.write_text((ROOT / "seeds" / "watchlist.toml").read_text(encoding="utf-8")
                         + NEW_ISSUE_TOML, encoding="utf-8")
    write_config(tmp_path, [feeds], hook=slack_like.url,
                 extra=f"[processors]\nwatchlist = {toml_str(watchlist)}\n")
    mark = pw.mark()
    pw.send(signal.SIGHUP)
    pw.wait_for(r"settings reloaded", 15, after=mark)
    pw.wait_for(rf"watchlist reloaded: {issue_count(watchlist)} issues", 5, after=mark)

    feed_hub.add("wire", PLANT_HEADLINES[1], f"{PLANT_HEADLINES[1]}.")
    wait_until(f"an item classified as {NEW_ISSUE}", lambda: classified(pw, NEW_ISSUE) >= 1,
               30, detail=pw.tail)
    wait_until(f"the {NEW_ISSUE} development on Slack",
               lambda: slack_like.count(PLANT_HEADLINES[1].split(",")[0]), 30, detail=pw.tail)

    # An unknown key: the reload is refused, naming the key; the process keeps the settings
    # it had (the new issue still applies) and stays healthy.
    config.write_text(config.read_text() + "\n[processors.neardup]\nthreshhold = 0.3\n")
    mark = pw.mark()
    pw.send(signal.SIGHUP)
    refused = pw.wait_for(r"reload refused.*", 15, after=mark).group(0)
    assert "threshhold" in refused and "unknown key" in refused, refused
    time.sleep(1)
    assert "settings reloaded" not in "".join(pw.lines[mark:])
    assert pw.alive and pw.get("/healthz")[0] == 200 and pw.get("/readyz")[0] == 200
    feed_hub.add("wire", PLANT_HEADLINES[2], f"{PLANT_HEADLINES[2]}.")
    wait_until(f"a second item classified as {NEW_ISSUE}",
               lambda: classified(pw, NEW_ISSUE) >= 2, 30, detail=pw.tail)

    rc, _ = pw.terminate(GRACE_S + 10)
    assert rc == 0, pw.tail()


def test_a_refused_reload_changes_nothing(
    feed_hub: FeedHub, slack_like: SlackLike, peacewatch: Callable[..., Peacewatch],
    tmp_path: Path,
) -> None:
    first = write_feed_list(tmp_path / "feeds.toml", {"wire": feed_hub.url("wire")})
    config = write_config(tmp_path, [first], hook=slack_like.url)
    pw = peacewatch(config, "run")
    wait_until("ready", lambda: pw.get("/readyz")[0] == 200, 30, detail=pw.tail)
    wait_until("the first feed polled", feed_hub.polls, 15, detail=pw.tail)

    # Valid settings that add a feed, but name a watchlist that is not valid: all or nothing.
    second = write_feed_list(tmp_path / "more-feeds.toml", {"late": feed_hub.url("late")})
    broken = tmp_path / "watchlist.toml"
    broken.write_text('version = 1\n[context]\nterms = ["ukrain*"]\n[[issues]]\nid = "Bad Id"\n')
    write_config(tmp_path, [first, second], hook=slack_like.url,
                 extra=f"[processors]\nwatchlist = {toml_str(broken)}\n")
    mark, sent = pw.mark(), time.time()
    pw.send(signal.SIGHUP)
    pw.wait_for(r"reload refused", 15, after=mark)
    time.sleep(4)  # the feed interval is 1 s: a feed taken on would be polled by now
    late = [r for r in feed_hub.polls(sent) if r.feed == "late"]
    assert not late, f"a refused reload added a feed: {len(late)} polls of it\n{pw.tail(8)}"

    # The same change with a valid watchlist is taken: the check above could see the feed.
    broken.write_text((ROOT / "seeds" / "watchlist.toml").read_text(encoding="utf-8"))
    mark = pw.mark()
    pw.send(signal.SIGHUP)
    pw.wait_for(r"settings reloaded", 15, after=mark)
    wait_until("the added feed polled",
               lambda: any(r.feed == "late" for r in feed_hub.polls()), 15, detail=pw.tail)
    rc, _ = pw.terminate(GRACE_S + 10)
    assert rc == 0, pw.tail()


# -- (b) /healthz and /readyz ------------------------------------------------------------------


def test_healthz_and_readyz_follow_the_lifecycle_and_in_flight_work_is_finished(
    feed_hub: FeedHub, slack_like: SlackLike, peacewatch: Callable[..., Peacewatch],
    tmp_path: Path,
) -> None:
    feed_hub.slow["wire"] = 3.0  # every poll of the feed is in flight for 3 s
    feeds = write_feed_list(tmp_path / "feeds.toml", {"wire": feed_hub.url("wire")})
    config = write_config(tmp_path, [feeds], hook=slack_like.url)
    pw = peacewatch(config, "run")
    assert pw.get("/healthz")[0] == 200
    readiness: list[int] = []
    while (status := pw.get("/readyz")[0]) != 200 and len(readiness) < 300:
        readiness.append(status)
        time.sleep(0.1)
    assert status == 200, f"/readyz never 200: {readiness}\n{pw.tail()}"
    assert set(readiness) <= {503}, readiness
    assert pw.get("/metrics")[0] == 200 and pw.get("/nothing")[0] == 404

    # SIGTERM while a poll is in flight: not ready at once, alive until the poll is finished
    # and its item published, then a clean exit within the grace period.
    feed_hub.request_started.clear()
    wait_until("a poll in flight", feed_hub.request_started.is_set, 15, 0.05, pw.tail)
    feed_hub.add("wire", PRISONER_HEADLINE, f"{PRISONER_HEADLINE}, officials said.")
    time.sleep(0.3)
    pw.send(signal.SIGTERM)
    started = time.monotonic()
    # The signal is handled asynchronously: allow a moment, far less than the 3 s poll.
    wait_until("/readyz 503 after SIGTERM", lambda: pw.get("/readyz")[0] == 503, 1.5, 0.05,
               pw.tail)
    assert pw.get("/healthz")[0] == 200 and pw.alive
    rc = pw.proc.wait(timeout=GRACE_S + 10) if pw.proc else None
    seconds = time.monotonic() - started
    assert rc == 0, pw.tail()
    assert 2.0 < seconds < GRACE_S + 3, f"stopped after {seconds:.1f}s"
    assert "stopped cleanly" in pw.output

    # The poll that was in flight was finished: its item is on the raw topic.
    events = open_bus(load_settings(config))
    try:
        reader = events.consumer("e2e-reader", [RAW_ITEMS])
        titles: list[str] = []
        while batch := reader.poll(0.5, 500):
            titles += [env.event.title for env in batch]
        reader.close()
    finally:
        events.close()
    assert PRISONER_HEADLINE in titles, titles


# -- (c) logs ------------------------------------------------------------------------------


def test_json_logs_one_object_per_line_and_no_secret_anywhere(
    feed_hub: FeedHub, mailbox: Mailbox, peacewatch: Callable[..., Peacewatch],
    tmp_path: Path,
) -> None:
    token = "xoxTopSecretWebhookToken42"
    password = "pw-Sup3rSecret-smtp-9"
    failing = SlackLike(fail_status=404)  # answers with the request path in its error body
    with failing.running(f"/services/T0SECRETTEAM/B0SECRETHOOK/{token}"):
        feeds = write_feed_list(tmp_path / "feeds.toml", {"wire": feed_hub.url("wire")})
        # STARTTLS against a server without TLS: the mail delivery fails, with a password set.
        mail = f"""
[alerts.receivers.mail]
kind = "email"
host = "127.0.0.1"
port = {mailbox.port}
security = "starttls"
username = "desk"
password = "{password}"
sender = "peacewatch@example.test"
to = ["desk@example.test"]
"""
        config = write_config(tmp_path, [feeds], hook=failing.url, receivers=mail,
                              extra="[logging]\njson_format = true\n"
                                    "[alerts.retry]\nbase_s = 0.5\nmax_attempts = 2\n")
        secrets = [failing.url, failing.url.split("127.0.0.1:", 1)[1].split("/", 1)[1], token,
                   "T0SECRETTEAM/B0SECRETHOOK", password]
        pw = peacewatch(config, "run")
        wait_until("ready", lambda: pw.get("/readyz")[0] == 200, 30, detail=pw.tail)
        feed_hub.add("wire", PRISONER_HEADLINE, f"{PRISONER_HEADLINE}, officials said.")

        def failed(receiver: str) -> bool:
            return pw.metric("peacewatch_notifications_failed_total", receiver=receiver) >= 1

        wait_until("both deliveries failing", lambda: failed("slack") and failed("mail"), 40,
                   detail=pw.tail)
        assert failing.posts, "the Slack-like endpoint was never reached"
        mark = pw.mark()
        pw.send(signal.SIGHUP)
        pw.wait_for("settings reloaded", 15, after=mark)
        metrics_text = pw.get("/metrics")[1]
        check = run_check(config)
        rc, _ = pw.terminate(GRACE_S + 10)
    assert rc == 0, pw.tail()

    records = []
    for number, line in enumerate(pw.output.splitlines(), 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"output line {number} is not JSON: {line!r}")
        assert isinstance(record, dict), line
        assert {"ts", "level", "logger", "msg"} <= set(record), line
        assert all(isinstance(record[k], str) for k in ("ts", "level", "logger", "msg")), line
        records.append(record)
    # The failures were logged (so the secrets were at risk of being printed) ...
    alert_warnings = [r["msg"] for r in records if r["logger"].startswith("peacewatch.alerts")
                      and r["level"] in ("warning", "error")]
    assert any("slack" in m for m in alert_warnings), alert_warnings
    assert any("mail" in m for m in alert_warnings), alert_warnings
    assert "FAILED" in check.stdout, check.stdout + check.stderr
    # ... and no secret is in the logs, the check's output or the metrics.
    for where, text in (("log", pw.output), ("check stdout", check.stdout),
                        ("check stderr", check.stderr), ("/metrics", metrics_text)):
        for secret in secrets:
            assert secret not in text, f"secret {secret!r} in the {where}"


# -- (d) peacewatch check ------------------------------------------------------------------


def test_check_reaches_smtp_and_slack_and_names_the_receiver_that_fails(
    feed_hub: FeedHub, slack_like: SlackLike, mailbox: Mailbox, tmp_path: Path,
) -> None:
    feeds = write_feed_list(tmp_path / "feeds.toml", {"wire": feed_hub.url("wire")})
    mail = f"""
[alerts.receivers.mail]
kind = "email"
host = "127.0.0.1"
port = {mailbox.port}
security = "none"
sender = "peacewatch@example.test"
to = ["desk@example.test"]
"""
    config = write_config(tmp_path, [feeds], hook=slack_like.url, receivers=mail)
    ok = run_check(config)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "alerts receiver slack (slack): ok" in ok.stdout, ok.stdout
    assert "alerts receiver mail (email): ok" in ok.stdout, ok.stdout
    assert not slack_like.posts and not mailbox.messages, "check sent a notification"

    mailbox.stop()  # the SMTP port is now closed
    failed = run_check(config)
    assert failed.returncode != 0, failed.stdout + failed.stderr
    lines = failed.stdout.splitlines()
    assert any(line.startswith("alerts receiver mail (email): FAILED") for line in lines), lines
    assert "alerts receiver slack (slack): ok" in failed.stdout, lines
