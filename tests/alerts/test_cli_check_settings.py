"""``peacewatch silence``, ``peacewatch check`` for alerts, and the alerts settings section."""

from __future__ import annotations

from pathlib import Path

import pytest
from alertkit import PASSWORD, SLACK_PATH, USER, ScriptedServer, SmtpServer, free_port

from alerts.check import check
from peacewatch.cli import main
from peacewatch.errors import ConfigError
from peacewatch.settings import Settings, load_settings

# aiosmtpd warns that the implicit-TLS test server does not require TLS for AUTH (it is TLS).
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

def config(tmp_path: Path, body: str = "") -> Path:
    path = tmp_path / "pw.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n{body}', encoding="utf-8")
    return path


def test_silence_add_list_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = config(tmp_path, '[[alerts.silences]]\nissue = "crimea"\ncomment = "from file"\n')
    assert main(["-c", str(cfg), "silence", "add", "--source", "TASS", "--for", "2h",
                 "--comment", "noisy"]) == 0
    added = capsys.readouterr().out
    assert added.startswith("silence ") and "source=TASS until" in added
    silence_id = added.split()[1].rstrip(":")
    assert main(["-c", str(cfg), "silence", "list"]) == 0
    listed = capsys.readouterr().out
    assert "settings-1\tactive\tissue=crimea" in listed
    assert f"{silence_id}\tactive\tsource=TASS" in listed and "# noisy" in listed
    assert main(["-c", str(cfg), "silence", "remove", silence_id]) == 0
    assert main(["-c", str(cfg), "silence", "remove", silence_id]) == 1
    capsys.readouterr()
    assert main(["-c", str(cfg), "silence", "list"]) == 0
    assert silence_id not in capsys.readouterr().out


@pytest.mark.parametrize(("args", "message"), [
    (["add"], "give --issue, --source or --keyword"),
    (["add", "--issue", "x", "--for", "soon"], "duration 'soon'"),
    (["add", "--issue", "x", "--until", "2025-01-01T00:00"], "give a UTC offset"),
    (["remove", "settings-1"], "comes from settings"),
])
def test_silence_refuses_bad_input_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           args: list[str], message: str) -> None:
    assert main(["-c", str(config(tmp_path)), "silence", *args]) == 2
    assert message in capsys.readouterr().err


def test_secrets_come_from_files_and_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret_file = tmp_path / "hook.secret"
    secret_file.write_text("http://127.0.0.1:9/services/T/B/filetoken\n", encoding="utf-8")
    cfg = config(tmp_path, f"""
[alerts.receivers.chat]
kind = "slack"
webhook_url_file = "{secret_file}"
[alerts.receivers.mail]
kind = "email"
host = "127.0.0.1"
username = "u"
sender = "a@b.example"
to = ["c@d.example"]
""")
    monkeypatch.setenv("PEACEWATCH_ALERTS__RECEIVERS__MAIL__PASSWORD", "env-password")
    settings = load_settings(cfg)
    chat, mail = settings.alerts.receivers["chat"], settings.alerts.receivers["mail"]
    assert chat.webhook_url.get_secret_value().endswith("/filetoken")  # type: ignore[union-attr]
    assert mail.password.get_secret_value() == "env-password"  # type: ignore[union-attr]
    assert "filetoken" not in repr(settings) and "env-password" not in repr(settings)


@pytest.mark.parametrize(("body", "message"), [
    ('[alerts.receivers.chat]\nkind = "slack"\n', "alerts.receivers.chat.slack"),
    ('[alerts.receivers.chat]\nkind = "pager"\n', "alerts.receivers.chat"),
    ('[alerts.default_route]\nreceivers = ["nobody"]\n', "unknown receivers ['nobody']"),
    ('[[alerts.routes]]\nname = "r"\nreceivers = ["console"]\nmin_severity = "huge"\n',
     "unknown severity 'huge'"),
    ('[alerts.default_route]\ntimezone = "Mars/Olympus"\n', "unknown timezone"),
    ('[alerts]\ngroup_wait = 3\n', "alerts.group_wait: unknown key"),
    ('[[alerts.silences]]\ncomment = "all"\n', "needs issue, source or keyword"),
])
def test_bad_settings_name_the_key(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(config(tmp_path, body))
    assert message in str(info.value)


def test_check_reaches_receivers_without_sending(
        tmp_path: Path, slack_server: ScriptedServer, webhook_server: ScriptedServer,
        smtp_starttls: SmtpServer, tls_files: tuple[Path, Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    # Slack refuses an empty message with 400 no_text: the webhook is valid, nothing posted.
    settings = Settings.model_validate({"data_dir": tmp_path, "alerts": {"receivers": {
        "chat": {"kind": "slack", "webhook_url": slack_server.url(SLACK_PATH)},
        "bad": {"kind": "slack", "webhook_url": slack_server.url("/services/X/Y/nope")},
        "hook": {"kind": "webhook", "url": webhook_server.url()},
        "down": {"kind": "webhook", "url": f"http://127.0.0.1:{free_port()}/x"},
        "mail": {"kind": "email", "host": "127.0.0.1", "port": smtp_starttls.port,
                 "username": USER, "password": PASSWORD, "ca_file": str(tls_files[0]),
                 "sender": "a@pw.example", "to": ["b@pw.example"]},
        "console": {"kind": "console", "path": str(tmp_path / "out.jsonl")},
    }}})
    assert check(settings) == 2
    out = capsys.readouterr().out.splitlines()
    assert "alerts receiver chat (slack): ok (webhook valid" in out[0]
    assert "alerts receiver bad (slack): FAILED" in out[1] and "404 no_service" in out[1]
    assert out[2].startswith("alerts receiver hook (webhook): ok")
    assert out[3].startswith("alerts receiver down (webhook): FAILED")
    assert out[4] == "alerts receiver mail (email): ok (starttls, authenticated)"
    assert out[5].startswith("alerts receiver console (console): ok")
    assert slack_server.accepted == [] and webhook_server.requests == []
    assert smtp_starttls.sink.messages == []
