"""The stage packages as the core finds them: entry points, checked against ``StagePackage``."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from peacewatch.cli import STAGE_PACKAGES
from peacewatch.errors import PeacewatchError
from peacewatch.stage import STAGE_PACKAGES_GROUP, StagePackage, stage_packages
from peacewatch.trial import WATCHLIST_TRIALS_GROUP, WatchlistTrial, watchlist_trial

ROOT = Path(__file__).resolve().parents[2]


def entry(name: str, value: str, group: str = STAGE_PACKAGES_GROUP) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=group)


def test_the_installed_packages_in_the_order_asked() -> None:
    packages = stage_packages(STAGE_PACKAGES)
    assert [p.name for p in packages] == ["collectors", "processors", "alerts", "desk"]
    assert all(isinstance(p, StagePackage) for p in packages)
    assert [p.name for p in stage_packages(["desk", "collectors"])] == ["desk", "collectors"]


def test_the_order_is_the_names_not_the_entry_points() -> None:
    found = [entry("desk", "desk.package:PACKAGE"),
             entry("collectors", "collectors.package:PACKAGE")]
    assert [p.name for p in stage_packages(["collectors", "desk"], found)] == [
        "collectors", "desk"]


def test_an_object_that_is_no_stage_package_is_refused_naming_its_entry_point() -> None:
    found = [entry("collectors", "peacewatch.errors:PeacewatchError")]
    with pytest.raises(PeacewatchError) as caught:
        stage_packages(["collectors"], found)
    message = str(caught.value)
    assert "entry point collectors = 'peacewatch.errors:PeacewatchError'" in message
    assert STAGE_PACKAGES_GROUP in message and "is not a StagePackage" in message
    assert "name, build, check, register" in message


def test_a_missing_entry_point_is_refused_naming_it() -> None:
    with pytest.raises(PeacewatchError, match="no entry point 'alerts' in group "
                       f"'{STAGE_PACKAGES_GROUP}'"):
        stage_packages(["alerts"], [entry("desk", "desk.package:PACKAGE")])


def test_an_entry_point_that_cannot_be_loaded_is_refused_naming_it() -> None:
    for value in ("peacewatch.no_such_module:PACKAGE", "peacewatch.errors:NO_SUCH_OBJECT"):
        with pytest.raises(PeacewatchError, match=f"entry point desk = '{value}'.*cannot be "
                           "loaded"):
            stage_packages(["desk"], [entry("desk", value)])


def test_a_package_under_another_name_is_refused() -> None:
    with pytest.raises(PeacewatchError, match="is the stage package 'collectors'"):
        stage_packages(["desk"], [entry("desk", "collectors.package:PACKAGE")])


def test_the_watchlist_trial_is_checked_the_same_way() -> None:
    assert isinstance(watchlist_trial(), WatchlistTrial)
    with pytest.raises(PeacewatchError, match="is not a WatchlistTrial: it has no developments"):
        watchlist_trial([entry("processors", "peacewatch.errors", WATCHLIST_TRIALS_GROUP)])


def test_loading_the_packages_imports_no_stage_and_no_check() -> None:
    """``peacewatch --help`` loads every package's object: their stages and checks (apscheduler,
    httpx, the notification channels, the web server) are imported only when asked for."""
    code = ("import sys\n"
            "from peacewatch.cli import STAGE_PACKAGES\n"
            "from peacewatch.stage import stage_packages\n"
            "stage_packages(STAGE_PACKAGES)\n"
            "print(sorted(m for m in sys.modules if m.endswith(('.stage', '.check'))))\n")
    out = subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    # The processors' subcommands need their stage module anyway.
    assert out.stdout.strip() == "['peacewatch.stage', 'processors.stage']"
