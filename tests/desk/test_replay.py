"""`peacewatch replay --watchlist NEW.toml`: the record's items through a changed watchlist,
without alerting; the developments added and removed per issue are printed and kept for the
page."""

from __future__ import annotations

from pathlib import Path

import pytest
from desk_kit import raw
from prometheus_client import CollectorRegistry

from desk.app import DeskApp
from desk.context import DeskContext
from desk.http import Request
from desk.store.open import open_record
from desk.store.record import Batch
from peacewatch.cli import main
from peacewatch.metrics import Metrics
from peacewatch.settings import load_settings

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
GRAIN_ISSUE = '''
[[issues]]
id = "grain-exports"
name = "Grain exports"
description = "Ukraine's grain exports by sea."

  [[issues.signals]]
  terms = ["grain export*", "grain ship*"]
'''


def changed_watchlist(tmp_path: Path) -> Path:
    """The seeds' watchlist without the prisoners issue, and with a grain-exports issue."""
    text = (SEEDS / "watchlist.toml").read_text(encoding="utf-8")
    head, *issues = text.split("\n[[issues]]\n")
    kept = [block for block in issues if not block.startswith('id = "prisoners"')]
    assert len(kept) == len(issues) - 1
    path = tmp_path / "new-watchlist.toml"
    path.write_text("\n[[issues]]\n".join([head, *kept]) + GRAIN_ISSUE, encoding="utf-8")
    return path


def test_a_changed_watchlist_adds_and_removes_developments(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PEACEWATCH_DATA_DIR", str(tmp_path))
    settings = load_settings(None)
    store = open_record(settings)
    store.write(Batch(raw=[
        raw(1, "Russia and Ukraine sign deal to resume grain exports from Black Sea ports"),
        raw(2, "Prisoner exchange: 144 Ukrainian soldiers return home", days=1),
        raw(3, "Zelensky rejects ceasefire that would freeze the front line", days=40),
    ]))
    store.close()
    assert main(["replay", "--watchlist", str(changed_watchlist(tmp_path)),
                 "--since", "2022-03-01"]) == 0
    out = capsys.readouterr().out
    assert "3 item(s) replayed" in out
    assert "grain-exports: +1 -0" in out
    assert "  + 2022-03-01 Russia and Ukraine sign deal to resume grain exports" in out
    assert "prisoners: +0 -1" in out
    assert "  - 2022-03-02 Prisoner exchange: 144 Ukrainian soldiers return home" in out
    assert "ceasefire" not in out  # unchanged by the new watchlist
    # Nothing was alerted (no bus was even opened) and the page shows the result.
    assert not (tmp_path / "bus.sqlite3").exists()
    store = open_record(settings)
    try:
        app = DeskApp(DeskContext.create(settings, store, Metrics(CollectorRegistry())))
        page = app.handle(Request("GET", "/replays", {}, {})).body.decode()
        assert "new-watchlist.toml" in page and "grain-exports" in page and "Prisoner" in page
    finally:
        store.close()


def test_since_narrows_the_items_and_a_bad_date_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PEACEWATCH_DATA_DIR", str(tmp_path))
    store = open_record(load_settings(None))
    store.write(Batch(raw=[raw(1, "Prisoner exchange: 144 Ukrainian soldiers return home")]))
    store.close()
    new = changed_watchlist(tmp_path)
    assert main(["replay", "--watchlist", str(new), "--since", "2022-06-01", "--no-save"]) == 0
    assert "0 item(s) replayed" in capsys.readouterr().out
    assert main(["replay", "--watchlist", str(new), "--since", "June"]) == 2
    assert main(["replay", "--watchlist", str(tmp_path / "missing.toml")]) == 1
