"""deploy/systemd/peacewatch@.service: systemd's own verifier accepts every instance, and each
instance name is a real peacewatch subcommand."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from peacewatch.cli import make_parser

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "systemd" / "peacewatch@.service"
INSTANCES = ("run", "collect", "process", "alert")
INSTALLED_BINARY = "/opt/peacewatch/bin/peacewatch"


def service_section() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    return parser["Service"]


@pytest.fixture(scope="module")
def systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        reason = "systemd-analyze is not installed (Debian package 'systemd')"
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return path


@pytest.mark.parametrize("instance", INSTANCES)
def test_systemd_verifies_the_unit(systemd_analyze: str, instance: str, tmp_path: Path) -> None:
    # The verifier checks that ExecStart is executable: point it at this checkout's peacewatch.
    text = UNIT.read_text(encoding="utf-8")
    assert INSTALLED_BINARY in text
    unit = tmp_path / f"peacewatch@{instance}.service"
    unit.write_text(text.replace(INSTALLED_BINARY, str(Path(sys.executable).parent /
                                                      "peacewatch")), encoding="utf-8")
    result = subprocess.run([systemd_analyze, "verify", str(unit)], capture_output=True,
                            text=True, timeout=60, check=False)
    # Unknown keys and bad values are only warnings for systemd: any output is a defect.
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and not output, output


def test_instances_are_peacewatch_commands() -> None:
    service = service_section()
    argv = service["ExecStart"].split()
    assert argv[0] == INSTALLED_BINARY and argv[-1] == "%i"
    parser = make_parser()
    for instance in INSTANCES:
        args = parser.parse_args([*argv[1:-1], instance])
        assert args.command == instance
    assert service["KillSignal"] == "SIGTERM"
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["User"] != "root"
