"""The command line as a user meets it: help, version, clear errors with exit codes."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
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


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_run_waits_for_the_broker_within_the_limit_then_exits_3(tmp_path: Path) -> None:
    port = closed_port()
    config = tmp_path / "kafka.toml"
    config.write_text(f"data_dir = '{tmp_path / 'data'}'\n[metrics]\nenabled = false\n"
                      f"[bus.kafka]\nbootstrap_servers = ['127.0.0.1:{port}']\n"
                      "connect_timeout_s = 1\nstartup_wait_s = 4\n")
    started = time.monotonic()
    out = peacewatch("--config", str(config), "run", timeout=60)
    took = time.monotonic() - started
    assert out.returncode == 3, out.stderr
    assert 4 <= took < 30, f"gave up after {took:.1f}s"
    assert f"127.0.0.1:{port}" in out.stderr and "waiting up to 4s" in out.stderr
    assert "Traceback" not in out.stderr


# A stage whose step fails with an error nobody expected (not a PeacewatchError).
_DYING_STAGE = """
import sys
import processors.runner
def step(self, timeout_s):
    raise RuntimeError("a bug in the stage")
processors.runner.OutboxStage.step = step
from peacewatch.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_process_whose_stage_died_exits_5_not_0(tmp_path: Path) -> None:
    config = tmp_path / "embedded.toml"
    config.write_text(f"data_dir = '{tmp_path / 'data'}'\n[metrics]\nenabled = false\n")
    out = subprocess.run([sys.executable, "-c", _DYING_STAGE, "--config", str(config),
                          "process"], check=False, cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 5, out.stderr
    assert "a bug in the stage" in out.stderr
    assert "stopped cleanly" not in out.stderr
