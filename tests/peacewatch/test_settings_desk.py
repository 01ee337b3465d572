"""The desk's settings section: defaults, unknown keys refused by name, secrets kept secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from peacewatch.errors import ConfigError
from peacewatch.settings import load_settings


def test_defaults_bind_loopback_keep_forever_and_use_sqlite() -> None:
    desk = load_settings(None).desk
    assert (desk.host, desk.port, desk.serve) == ("127.0.0.1", 8787, True)
    assert desk.record.retention_days is None and desk.record.backend == "sqlite"
    assert desk.write_token is None and desk.read_token is None


def test_unknown_keys_are_refused_by_name(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[desk.record]\nretention = 30\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"desk\.record\.retention: unknown key"):
        load_settings(config)
    with pytest.raises(ConfigError, match=r"desk\.port"):
        load_settings(None, desk={"port": 70000})


def test_tokens_and_the_dsn_are_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret-token\n", encoding="utf-8")
    monkeypatch.setenv("PEACEWATCH_DESK__RECORD__POSTGRES_DSN",
                       "postgresql://pw:hunter2@127.0.0.1/pw")
    settings = load_settings(None, desk={"write_token_file": str(token)})
    desk = settings.desk
    assert desk.write_token is not None and desk.write_token.get_secret_value() == "s3cret-token"
    assert desk.record.backend == "postgresql"
    shown = repr(settings) + settings.model_dump_json()
    assert "s3cret-token" not in shown and "hunter2" not in shown
    with pytest.raises(ConfigError, match="write_token or write_token_file, not both"):
        load_settings(None, desk={"write_token": "a", "write_token_file": str(token)})
