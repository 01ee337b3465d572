"""`peacewatch check` for the desk: the record opens, the address is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from desk.check import check
from peacewatch.settings import load_settings


def test_check_opens_the_record_and_names_the_address(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    settings = load_settings(None, data_dir=tmp_path, desk={"host": "0.0.0.0"})
    assert check(settings) == 0
    out = capsys.readouterr().out
    assert "desk: record" in out and "schema version 4" in out
    assert "http://0.0.0.0:8787/ (not loopback: set read_token)" in out
    broken = load_settings(None, data_dir=tmp_path, desk={"record": {
        "postgres_dsn": "postgresql://nobody@127.0.0.1:1/none"}})
    assert check(broken) == 1
    assert "desk: record FAILED" in capsys.readouterr().out
