"""The alerts stage end to end in-process: embedded bus in, a real Slack-like webhook and a
real SMTP server out, over a fake clock (the grouping timings are hours and minutes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alertkit import (
    PASSWORD,
    SLACK_PATH,
    USER,
    FakeClock,
    ScriptedServer,
    SmtpServer,
    StageRig,
    make_dev,
    received,
)

from alerts.silencing import ActiveSilence
from peacewatch.bus.base import partition_for
from peacewatch.models import Severity

# aiosmtpd warns that the implicit-TLS test server does not require TLS for AUTH (it is TLS).
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

def slack_alerts(server: ScriptedServer, **route: Any) -> dict[str, Any]:
    default = {"group_wait_s": 30, "group_interval_s": 300, "repeat_interval_s": 3600}
    default.update(route)
    return {"receivers": {"ops": {"kind": "slack", "webhook_url": server.url(SLACK_PATH),
                                  "rate_per_s": 0}},
            "default_route": default}


@pytest.fixture
def rig_factory(tmp_path: Path, clock: FakeClock) -> Iterator[Any]:
    rigs: list[StageRig] = []

    def make(alerts: dict[str, Any]) -> StageRig:
        rig = StageRig(tmp_path, alerts, clock)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.close()


def dev_ids(payloads: list[Any]) -> list[str]:
    return [line for p in payloads for line in p["text"].splitlines()]


def test_a_burst_of_20_on_one_issue_is_one_slack_message(
        rig_factory: Any, slack_server: ScriptedServer) -> None:
    rig = rig_factory(slack_alerts(slack_server))
    devs = [make_dev(i, issue="black-sea") for i in range(20)]
    for dev in devs:  # 20 developments over 19 s, inside the 30 s group_wait
        rig.publish(dev)
        rig.run(1)
    assert slack_server.requests == []
    rig.run(15)
    assert len(slack_server.accepted) == 1 and slack_server.violations == []
    message = slack_server.accepted[0]
    assert message["text"] == "New on black-sea: Test development 0 on black-sea (+19 more)"
    sent = [r for r in rig.read_records() if r.status == "sent"]
    assert len(sent) == 1
    assert set(sent[0].development_ids) == {d.development_id for d in devs}


def test_quiet_hours_turn_into_one_digest(rig_factory: Any, slack_server: ScriptedServer,
                                          clock: FakeClock) -> None:
    # The fake clock starts at 12:00 UTC: quiet until 12:30.
    rig = rig_factory(slack_alerts(slack_server,
                                   quiet_hours={"start": "11:00", "end": "12:30"}))
    devs = [make_dev(i, issue=issue) for i, issue in enumerate(
        ["black-sea", "energy", "crimea", "minerals"] * 3)]
    for dev in devs:
        rig.publish(dev)
        rig.run(60, tick=30)
    assert slack_server.requests == []
    held = [r for r in rig.read_records() if r.status == "held"]
    assert len(held) == 12
    rig.run(20 * 60, tick=60)  # past 12:30
    # A digest gathers what was held on one partition of the developments topic (groups move
    # with their partition): one per partition that held any, 12 developments in all.
    parts = {partition_for(d.issue_id, 2) for d in devs}
    digests = [m["text"] for m in slack_server.accepted]
    assert len(digests) == len(parts) and all(t.startswith("Digest: ") for t in digests)
    assert sum(int(t.split()[1]) for t in digests) == 12
    # After quiet hours, news is grouped normally again.
    rig.publish(make_dev(99, issue="energy"))
    rig.run(60)
    assert len(slack_server.accepted) == len(parts) + 1
    assert slack_server.accepted[-1]["text"].startswith("New on energy")


def test_a_change_to_an_alerted_story_is_a_follow_up(
        rig_factory: Any, slack_server: ScriptedServer) -> None:
    rig = rig_factory(slack_alerts(slack_server))
    rig.publish(make_dev(1, story="s-1"))
    rig.run(40)
    rig.publish(make_dev(2, story="s-1", kind="change", headline="Terms amended"),
                make_dev(3, story="s-2"))
    rig.run(400, tick=20)
    texts = [p["text"] for p in slack_server.accepted]
    assert len(texts) == 3
    assert texts[0].startswith("New on black-sea: Test development 1")
    assert "Update on black-sea: Terms amended" in texts
    assert "New on black-sea: Test development 3 on black-sea" in texts
    follow = [r for r in rig.read_records() if r.status == "sent" and r.follow_up]
    assert len(follow) == 1


def test_follow_up_email_threads_under_the_first(
        rig_factory: Any, smtp_starttls: SmtpServer, tls_files: tuple[Path, Path]) -> None:
    rig = rig_factory({
        "receivers": {"mail": {
            "kind": "email", "host": "127.0.0.1", "port": smtp_starttls.port,
            "username": USER, "password": PASSWORD, "ca_file": str(tls_files[0]),
            "sender": "alerts@pw.example", "to": ["desk@pw.example"]}},
        "default_route": {"group_wait_s": 0, "group_interval_s": 10}})
    rig.publish(make_dev(1, story="s-1"))
    rig.run(2)
    rig.publish(make_dev(2, story="s-1", kind="change", headline="Terms amended"))
    rig.run(15)
    rig.publish(make_dev(3, story="s-1", kind="change", headline="Terms signed"))
    rig.run(15)
    first, second, third = received(smtp_starttls, 3)
    assert first["In-Reply-To"] is None
    assert second["In-Reply-To"] == first["Message-ID"]
    assert third["In-Reply-To"] == first["Message-ID"]
    assert " ".join(third["References"].split()) == f"{first['Message-ID']} {second['Message-ID']}"


def test_baseline_silenced_and_redelivered_developments(
        rig_factory: Any, slack_server: ScriptedServer, clock: FakeClock) -> None:
    alerts = slack_alerts(slack_server, group_wait_s=0)
    alerts["silences"] = [{"issue": "crimea", "comment": "handled elsewhere"}]
    rig = rig_factory(alerts)
    assert rig.stage.store is not None
    cli_silence = rig.stage.store.add_silence(ActiveSilence("", source="TASS"), clock())
    normal = make_dev(1, severity=Severity.AGREED)
    rig.publish(make_dev(2, baseline=True), make_dev(3, issue="crimea"),
                make_dev(4, issue="energy", sources=("tass",)), normal)
    rig.run(3)
    rig.publish(normal)  # the bus may deliver a development again: it is not sent twice
    rig.run(3)
    rig.restart()
    rig.publish(normal)
    rig.run(3)
    assert len(slack_server.accepted) == 1
    records = rig.read_records()
    assert sorted(r.status for r in records) == ["sent", "silenced", "silenced"]
    why = {r.development_ids[0]: r.error for r in records if r.status == "silenced"}
    assert why == {
        make_dev(3, issue="crimea").development_id: "silenced by settings-1 (issue=crimea)",
        make_dev(4, issue="energy", sources=("tass",)).development_id:
            f"silenced by {cli_silence.silence_id} (source=TASS)",
    }
    claims = rig.stage.store.claim_counts()  # type: ignore[union-attr]
    assert claims == {"baseline": 1, "silenced": 2, "taken": 1}


def test_restart_keeps_pending_groups(rig_factory: Any, slack_server: ScriptedServer) -> None:
    rig = rig_factory(slack_alerts(slack_server))
    rig.publish(*(make_dev(i) for i in range(5)))
    rig.run(10)
    rig.restart()  # the group is half-way through its group_wait
    rig.publish(*(make_dev(i) for i in range(5, 8)))
    rig.run(30)
    assert len(slack_server.accepted) == 1
    assert slack_server.accepted[0]["text"].endswith("(+7 more)")


def test_receivers_on_one_webhook_share_its_pace(rig_factory: Any,
                                                 slack_server: ScriptedServer) -> None:
    url = slack_server.url(SLACK_PATH)
    rig = rig_factory({"receivers": {"a": {"kind": "slack", "webhook_url": url},
                                     "b": {"kind": "slack", "webhook_url": url},
                                     "c": {"kind": "console"}}})
    assert rig.stage.paces["a"] is rig.stage.paces["b"]
    assert rig.stage.paces["c"] is not rig.stage.paces["a"]


def test_reload_takes_new_routes_and_keeps_pending_groups(
        rig_factory: Any, slack_server: ScriptedServer, tmp_path: Path) -> None:
    rig = rig_factory(slack_alerts(slack_server))
    rig.publish(make_dev(1))
    rig.run(5)
    out = tmp_path / "dry-run.jsonl"
    new = slack_alerts(slack_server)
    new["receivers"]["dry"] = {"kind": "console", "path": str(out), "format": "json"}
    new["routes"] = [{"name": "energy", "receivers": ["dry"], "issues": ["energy"],
                      "group_wait_s": 0}]
    rig.stage.reload(type(rig.settings).model_validate(
        {**rig.settings.model_dump(exclude={"config_file"}), "alerts": new}))
    rig.publish(make_dev(2, issue="energy"))
    rig.run(40)
    assert len(slack_server.accepted) == 1  # the pending black-sea group survived the reload
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 and '"issue_id":"energy"' in lines[0].replace(" ", "")
