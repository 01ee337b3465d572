from __future__ import annotations

from pathlib import Path

import pytest
from proc_testkit import Processors, context, make_settings, publish, raw_item

from peacewatch.errors import ConfigError
from peacewatch.models import CLASSIFIED_ITEMS, RAW_ITEMS
from peacewatch.settings import load_settings
from processors.check import check
from processors.stage import ClassifyStage, baseline_path, watchlist_path


def test_defaults_point_at_the_seeds(tmp_path: Path) -> None:
    settings = load_settings(None, data_dir=tmp_path)
    assert watchlist_path(settings).name == "watchlist.toml"
    assert baseline_path(settings).name == "baseline.toml"
    p = settings.processors
    assert p.group == "peacewatch-processors" and p.stories_group != p.group
    assert settings.path(p.state_path) == tmp_path / "processors.sqlite3"
    assert p.neardup.title_alone == 0.5 and p.stories.window_hours == 72


@pytest.mark.parametrize(("section", "message"), [
    ({"batch_size": 0}, "processors.batch_size"),
    ({"neardup": {"body": 1.5}}, "processors.neardup.body"),
    ({"stories": {"window_hours": -1}}, "processors.stories.window_hours"),
    ({"group": "same", "stories_group": "same"}, "must differ"),
    ({"colour": "red"}, "processors.colour: unknown key"),
])
def test_bad_processor_settings_are_refused(section: dict[str, object], message: str,
                                            tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(None, data_dir=tmp_path, processors=section)


def test_environment_reaches_the_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PEACEWATCH_PROCESSORS__STORIES__WINDOW_HOURS", "24")
    assert load_settings(None, data_dir=tmp_path).processors.stories.window_hours == 24


def test_check_reports_each_part(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert check(load_settings(None, data_dir=tmp_path / "data")) == 0
    out = capsys.readouterr().out
    assert "watchlist ok (11 issues" in out and "baseline ok" in out and "state ok" in out

    broken = tmp_path / "watchlist.toml"
    broken.write_text("[context]\nterms = []\n", encoding="utf-8")
    settings = load_settings(None, data_dir=tmp_path, processors={"watchlist": str(broken)})
    assert check(settings) == 1
    assert "watchlist FAILED" in capsys.readouterr().out


def test_a_bad_watchlist_stops_the_stage_at_build_and_reload_keeps_the_old(
        tmp_path: Path) -> None:

    settings = make_settings(tmp_path, unique="reload")
    ctx = context(settings)
    stage = ClassifyStage(ctx)
    before = stage.decisions
    broken = tmp_path / "broken.toml"
    broken.write_text("not toml [", encoding="utf-8")
    bad = settings.model_copy(update={"processors": settings.processors.model_copy(
        update={"watchlist": broken})})
    with pytest.raises(ConfigError, match="not valid TOML"):
        stage.reload(bad)
    assert stage.decisions is before and stage.ctx.settings is settings
    extra = tmp_path / "extra.toml"
    text = watchlist_path(settings).read_text(encoding="utf-8")
    extra.write_text(text + '\n[[issues]]\nid = "extra"\nname = "Extra"\n'
                     '[[issues.signals]]\nterms = ["extra"]\n', encoding="utf-8")
    good = settings.model_copy(update={"processors": settings.processors.model_copy(
        update={"watchlist": extra})})
    stage.reload(good)
    assert "extra" in stage.decisions.classifier.issue_ids
    with pytest.raises(ConfigError):
        ClassifyStage(type(ctx)(settings=bad, events=ctx.events, metrics=ctx.metrics))
    ctx.events.close()


def test_lag_covers_both_hops(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, unique="lag", partitions=1)
    ctx = context(settings)
    publish(ctx.events, RAW_ITEMS, [raw_item("l1", "Kyiv rejects truce"),
                                    raw_item("l2", "Kremlin offers truce")])
    stage = Processors(ctx)
    # Built, the steps have joined their groups: the two items wait on the raw topic.
    assert stage.lag()[(ctx.events.topic(RAW_ITEMS), 0)] == 2
    stage.start()
    while stage.step(0.1):
        pass
    assert stage.lag() == {(ctx.events.topic(RAW_ITEMS), 0): 0,
                           (ctx.events.topic(CLASSIFIED_ITEMS), 0): 0}
    stage.stop()
    ctx.events.close()
