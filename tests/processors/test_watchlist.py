from __future__ import annotations

from pathlib import Path

import pytest

from peacewatch.errors import ConfigError
from processors.watchlist import Watchlist, load_watchlist, parse_watchlist

DEFAULT_IDS = ("negotiations", "crimea", "security-guarantees", "sanctions", "ceasefire",
               "territory", "nato-membership", "black-sea", "minerals-deal", "military-aid",
               "prisoners")

MINIMAL = """
[context]
terms = ["ukrain*"]

[[issues]]
id = "demo"
name = "Demo"

  [[issues.signals]]
  terms = ["truce"]
"""


def test_default_watchlist_has_the_tracked_issues(watchlist: Watchlist) -> None:
    assert watchlist.issue_ids == DEFAULT_IDS
    for issue in watchlist.issues:
        assert issue.name and issue.description and issue.includes and issue.excludes
        assert issue.actors, f"{issue.id} names no actors"
    assert {"ukraine", "russia", "united-states"} <= set(watchlist.parties)


def test_minimal_watchlist_parses() -> None:
    w = parse_watchlist(MINIMAL)
    assert w.issue_ids == ("demo",)
    assert w.issue("demo").threshold == 1.0
    with pytest.raises(KeyError):
        w.issue("nope")


@pytest.mark.parametrize(("change", "message"), [
    (MINIMAL + '\n[[issues]]\nid = "demo"\nname = "again"\n[[issues.signals]]\nterms = ["x"]\n',
     "issue id 'demo' appears twice"),
    (MINIMAL.replace('id = "demo"', 'id = "Not An Id"'), "issues.0.id"),
    (MINIMAL.replace('name = "Demo"', 'name = "Demo"\ncolour = "red"'),
     "issues.0.colour: unknown key"),
    (MINIMAL.replace('terms = ["truce"]', 'terms = ["re:(broken"]'),
     "issue 'demo': signals\\[0\\].terms"),
    (MINIMAL.replace('terms = ["truce"]', 'terms = ["@nowhere"]'), "no group named 'nowhere'"),
    (MINIMAL.replace('terms = ["truce"]', "terms = []"), "issues.0.signals.0.terms"),
    ("[context\nterms=", "not valid TOML"),
])
def test_bad_watchlists_are_refused_naming_the_problem(change: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_watchlist(change, "watchlist test.toml")


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_watchlist(tmp_path / "absent.toml")
