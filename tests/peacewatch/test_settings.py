"""One settings object: file + environment, unknown keys and bad values refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from peacewatch.errors import ConfigError
from peacewatch.settings import load_settings


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_use_the_embedded_bus() -> None:
    settings = load_settings()
    assert settings.bus.backend == "embedded"
    assert (settings.seeds_dir / "feeds.toml").parent.name == "seeds"


def test_toml_and_yaml_files_are_read(tmp_path: Path) -> None:
    toml = write(tmp_path, "a.toml", '[bus]\npartitions = 3\n[bus.kafka]\n'
                 'bootstrap_servers = ["127.0.0.1:9999"]\n')
    yaml_file = write(tmp_path, "a.yaml", "bus:\n  partitions: 5\n")
    assert load_settings(toml).bus.partitions == 3
    assert load_settings(toml).bus.backend == "kafka"
    assert load_settings(yaml_file).bus.partitions == 5


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = write(tmp_path, "a.toml", "[bus]\npartitions = 3\ntopic_prefix = 'x'\n")
    monkeypatch.setenv("PEACEWATCH_BUS__PARTITIONS", "7")
    settings = load_settings(toml)
    assert settings.bus.partitions == 7
    assert settings.bus.topic_prefix == "x"


def test_config_file_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PEACEWATCH_CONFIG", str(write(tmp_path, "c.toml", "data_dir = '/tmp/x'")))
    assert load_settings().data_dir == Path("/tmp/x")


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[bus.kafka]\nbootstrap_serverz = ['x']\n", "bus.kafka.bootstrap_serverz: unknown key"),
        ("[bus]\npartitions = 0\n", "bus.partitions"),
        ("[logging]\nlevel = 'loud'\n", "logging.level"),
        ("nonsense = 1\n", "nonsense: unknown key"),
        ("[bus.kafka]\nstartup_wait_s = -1\n", "bus.kafka.startup_wait_s"),
        ("[bus.kafka]\nstartup_wait = 30\n", "bus.kafka.startup_wait: unknown key"),
        ("[bus.kafka]\nreconnect_backoff_max_s = 0\n", "bus.kafka.reconnect_backoff_max_s"),
        ("[collectors]\nmax_item_bytes = 100\n", "collectors.max_item_bytes"),
    ],
)
def test_bad_keys_and_values_are_refused_by_name(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load_settings(write(tmp_path, "bad.toml", text))


def test_unknown_environment_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PEACEWATCH_BUSS__PARTITIONS", "3")
    with pytest.raises(ConfigError, match="PEACEWATCH_BUSS__PARTITIONS"):
        load_settings()


def test_bad_environment_value_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PEACEWATCH_BUS__PARTITIONS", "many")
    with pytest.raises(ConfigError, match=r"bus\.partitions"):
        load_settings()


def test_broken_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid"):
        load_settings(write(tmp_path, "b.toml", "[bus\n"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")
