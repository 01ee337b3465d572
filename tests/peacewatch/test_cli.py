"""The command line as a user meets it: help, version, clear errors with exit codes."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from peacewatch import __version__

ROOT = Path(__file__).resolve().parents[2]


def peacewatch(*args: str, env: dict[str, str] | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "peacewatch.cli", *args], check=False, cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout)


def test_help_lists_the_commands() -> None:
    out = peacewatch("--help")
    assert out.returncode == 0
    for command in ("run", "collect", "process", "alert", "serve", "check", "record", "feedback",
                    "replay"):
        assert command in out.stdout


def test_version() -> None:
    out = peacewatch("--version")
    assert out.stdout.strip() == f"peacewatch {__version__}"


def test_bad_config_key_exits_2_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[bus]\npartitons = 3\n")
    out = peacewatch("--config", str(config), "check")
    assert out.returncode == 2
    assert "bus.partitons: unknown key" in out.stderr


def test_unreachable_broker_exits_3_within_seconds(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "kafka.toml"
    config.write_text(f"[bus.kafka]\nbootstrap_servers = ['127.0.0.1:{port}']\n"
                      "connect_timeout_s = 2\n")
    out = peacewatch("--config", str(config), "check", timeout=30)
    assert out.returncode == 3
    assert f"127.0.0.1:{port}" in out.stderr
    assert "Traceback" not in out.stderr
