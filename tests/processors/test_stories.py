from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from peacewatch.errors import ConfigError
from peacewatch.models import Severity
from processors.actions import Action
from processors.baseline import BaselineMatcher, load_baseline, parse_baseline
from processors.stories import (
    Report,
    Story,
    StoryClusterer,
    StoryRules,
    same_story,
    story_terms,
)
from processors.watchlist import Watchlist

T = datetime(2025, 4, 2, 9, 0, tzinfo=UTC)
NOW = datetime(2025, 4, 5, 0, 0, tzinfo=UTC)


def report(item_id: str, title: str, body: str = "", *, action: Action | None = None,
           at: datetime = T, source: str = "wire", issue: str = "ceasefire",
           baseline: bool = False) -> Report:
    return Report(item_id=item_id, issue_id=issue, headline=title, text=f"{title}\n{body}",
                  source=source, url=f"https://{source}.example/{item_id}", at=at,
                  fetched_at=at, evidence=(title,), action=action or Action(
                      "mentioned", Severity.MENTIONED), terms=story_terms(title, body),
                  baseline=baseline)


@pytest.fixture
def clusterer(watchlist: Watchlist) -> StoryClusterer:
    return StoryClusterer(StoryRules(), BaselineMatcher(None),
                          {k: v.name for k, v in watchlist.parties.items()})


def test_story_terms_ignore_words_every_story_shares() -> None:
    terms = story_terms("Russia and Ukraine agree Black Sea truce", "Kyiv said the war goes on.")
    assert story_terms("black sea truce agreed", "") <= terms
    assert not terms & {"russia", "ukraine", "kyiv", "war"}
    # One term for the forms of a word.
    assert story_terms("proposes", "") == story_terms("proposed", "") == story_terms(
        "proposing", "")
    assert same_story(story_terms("Black Sea truce agreed in Riyadh talks", ""),
                      story_terms("Riyadh talks end with Black Sea truce", ""))
    assert not same_story(story_terms("Black Sea truce agreed", ""),
                          story_terms("Energy strikes halted", ""))


def test_first_report_makes_a_new_story_development(clusterer: StoryClusterer) -> None:
    r = report("a", "Black Sea truce proposed at Riyadh talks",
               action=Action("proposed", Severity.PROPOSED, frozenset({"united-states"})))
    placed = clusterer.place(r, [], now=NOW)
    assert placed.new_story
    (dev,) = placed.developments
    assert (dev.kind, dev.severity, dev.action, dev.baseline) == (
        "new_story", Severity.PROPOSED, "proposed", False)
    assert dev.issue_id == "ceasefire" and dev.story_id == placed.story.story_id
    assert dev.first_seen == T and dev.detected_at == NOW
    assert [s.source for s in dev.sources] == ["wire"] and dev.item_ids == ("a",)


def test_later_reports_join_and_only_stronger_actions_are_developments(
        clusterer: StoryClusterer) -> None:
    first = clusterer.place(report("a", "Black Sea truce proposed at Riyadh talks",
                                   action=Action("proposed", Severity.PROPOSED)), [], now=NOW)
    story = first.story
    same = clusterer.place(report("b", "Riyadh talks weigh Black Sea truce", source="other",
                                  at=T + timedelta(hours=3),
                                  action=Action("discussed", Severity.DISCUSSED)),
                           [story], now=NOW)
    assert not same.new_story and same.developments == ()
    assert same.story.story_id == story.story_id
    assert [s.source for s in same.story.sources] == ["wire", "other"]
    agreed = clusterer.place(report("c", "Black Sea truce agreed after Riyadh talks",
                                    at=T + timedelta(hours=6),
                                    action=Action("agreed", Severity.AGREED)),
                             [same.story], now=NOW)
    (dev,) = agreed.developments
    assert (dev.kind, dev.severity, dev.action) == ("change", Severity.AGREED, "agreed")
    assert dev.first_seen == T + timedelta(hours=6)
    assert len(dev.sources) == 3 and dev.item_ids == ("a", "b", "c")
    assert agreed.story.severity == Severity.AGREED


def test_a_new_party_taking_a_position_is_a_development(clusterer: StoryClusterer) -> None:
    s = clusterer.place(report("a", "Kremlin rejects Black Sea truce terms",
                               action=Action("rejected", Severity.REJECTED,
                                             frozenset({"russia"}))), [], now=NOW).story
    again = clusterer.place(report("b", "Moscow rejects Black Sea truce terms again",
                                   action=Action("rejected", Severity.REJECTED,
                                                 frozenset({"russia"}))), [s], now=NOW)
    assert again.developments == ()
    turkey = clusterer.place(report("c", "Turkey rejects Black Sea truce terms too",
                                    action=Action("rejected", Severity.REJECTED,
                                                  frozenset({"turkey"}))), [again.story],
                             now=NOW)
    (dev,) = turkey.developments
    assert dev.kind == "change" and dev.headline.startswith("Turkey rejected: ")


def test_development_ids_are_deterministic(clusterer: StoryClusterer) -> None:
    r = report("a", "Black Sea truce agreed", action=Action("agreed", Severity.AGREED))
    one = clusterer.place(r, [], now=NOW).developments[0]
    two = clusterer.place(r, [], now=NOW + timedelta(days=1)).developments[0]
    assert one.development_id == two.development_id


def test_a_story_closes_after_the_window(clusterer: StoryClusterer) -> None:
    s = clusterer.place(report("a", "Black Sea truce proposed at Riyadh talks"), [],
                        now=NOW).story
    late = clusterer.place(report("b", "Black Sea truce proposed at Riyadh talks again",
                                  at=T + timedelta(days=5)), [s], now=NOW)
    assert late.new_story and late.story.story_id != s.story_id


def test_copy_of_joins_the_original_story_whatever_its_words(clusterer: StoryClusterer) -> None:
    s = clusterer.place(report("a", "Black Sea truce proposed"), [], now=NOW).story
    copy = clusterer.place(report("b", "Entirely different words", source="syndicated"), [s],
                           copy_of=s, now=NOW)
    assert not copy.new_story and copy.developments == ()
    assert {x.source for x in copy.story.sources} == {"wire", "syndicated"}


def test_baseline_items_and_known_states_are_marked(watchlist: Watchlist) -> None:
    from proc_testkit import BASELINE

    matcher = BaselineMatcher(load_baseline(BASELINE, watchlist.issue_ids))
    clusterer = StoryClusterer(StoryRules(), matcher)
    seed = report("s", "Black Sea truce", baseline=True)
    assert clusterer.place(seed, [], now=NOW).developments[0].baseline
    known = report("k", "Energy truce holds", "The pause in strikes on energy infrastructure "
                   "agreed in March is holding.", action=Action("agreed", Severity.AGREED))
    assert clusterer.place(known, [], now=NOW).developments[0].baseline
    signed = report("m", "US and Ukraine sign minerals deal", issue="minerals-deal",
                    action=Action("signed", Severity.SIGNED))
    pressed = report("p", "Trump presses Kyiv on minerals deal", issue="minerals-deal",
                     action=Action("proposed", Severity.PROPOSED))
    assert not clusterer.place(signed, [], now=NOW).developments[0].baseline
    assert clusterer.place(pressed, [], now=NOW).developments[0].baseline


def test_baseline_file_is_validated(watchlist: Watchlist, tmp_path: Path) -> None:
    good = """
version = 1
as_of = 2025-04-01
[[known]]
id = "x"
issue = "ceasefire"
summary = "s"
status = "agreed"
as_of = 2025-03-18
any = ["energy"]
"""
    assert parse_baseline(good, "b", watchlist.issue_ids).known[0].severity == Severity.AGREED
    with pytest.raises(ConfigError, match="no tracked issue 'nope'"):
        parse_baseline(good.replace('"ceasefire"', '"nope"'), "b", watchlist.issue_ids)
    with pytest.raises(ConfigError, match=r"known\.0\.status"):
        parse_baseline(good.replace('"agreed"', '"won"'), "b", watchlist.issue_ids)
    with pytest.raises(ConfigError, match="no source 'seed-9'"):
        parse_baseline(good + 'source = "seed-9"\n', "b", watchlist.issue_ids)


def test_story_round_trip_keeps_terms_bounded() -> None:
    story = Story("s", "ceasefire", "h", T, T)
    for i in range(100):
        story.absorb(report(f"i{i}", f"term{i} word{i} thing{i} black sea truce"))
    assert len(story.terms) <= 60
    assert story_terms("black sea truce", "") <= set(story.terms)
