from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from proc_testkit import BASELINE

from peacewatch.errors import ConfigError
from peacewatch.models import ItemKind, Severity
from processors.actions import Action
from processors.baseline import BaselineMatcher, load_baseline, parse_baseline
from processors.state import story_from_json, story_to_json
from processors.stories import (
    RECENT,
    Report,
    Story,
    StoryClusterer,
    StoryRules,
    similarity,
    story_stems,
    story_vector,
)
from processors.watchlist import Watchlist

T = datetime(2025, 4, 2, 9, 0, tzinfo=UTC)
NOW = datetime(2025, 4, 5, 0, 0, tzinfo=UTC)
MENTIONED = Action("mentioned", Severity.MENTIONED)


def report(item_id: str, title: str, body: str = "", *, action: Action = MENTIONED,
           at: datetime = T, source: str = "wire", issue: str = "ceasefire",
           entities: frozenset[str] = frozenset(), kind: ItemKind = "report",
           baseline: bool = False) -> Report:
    return Report(item_id=item_id, issue_id=issue, headline=title, text=f"{title}\n{body}",
                  source=source, url=f"https://{source}.example/{item_id}", at=at,
                  fetched_at=at, evidence=(title,), action=action,
                  vector=story_vector(title, body, entities, {}), entities=entities,
                  kind=kind, baseline=baseline)


@pytest.fixture
def clusterer(watchlist: Watchlist) -> StoryClusterer:
    return StoryClusterer(StoryRules(), BaselineMatcher(None),
                          {k: v.name for k, v in watchlist.parties.items()})


def test_stems_fold_languages_and_drop_stop_words() -> None:
    assert story_stems("Tusk spotka się z Trumpem i Zełenskim") == ["tusk", "spotka", "trumpe"]
    assert story_stems("Tusk meets Trump and Zelensky") == ["tusk", "meets", "trump"]
    assert story_stems("Łódź") == story_stems("Lodz")
    assert story_stems("Die Waffenruhe und der Plan") == ["waffen", "plan"]
    assert story_stems("in 2025 the talks") == ["talks"]


def test_vectors_weigh_rare_terms_and_entities() -> None:
    idf = {"truce": 0.5, "riyadh": 5.0}
    v = story_vector("Riyadh truce", "", {"riyadh"}, idf)
    assert abs(sum(w * w for w in v.values()) - 1) < 1e-3
    assert v["riyadh"] > v["truce"] and "e:riyadh" in v
    # Two languages, one event: the entities they share make them alike.
    en = story_vector("US seizes Russian tanker", "", {"united-states", "tanker"}, {})
    pl = story_vector("Amerykanie zajęli tankowiec", "", {"united-states", "tanker"}, {})
    assert similarity(en, pl) > 0.25
    assert similarity(en, story_vector("Energy strikes halted", "", set(), {})) == 0


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


def test_other_outlets_and_the_next_day_join_and_only_news_is_a_development(
        clusterer: StoryClusterer) -> None:
    first = clusterer.place(report("a", "Black Sea truce proposed at Riyadh talks",
                                   action=Action("proposed", Severity.PROPOSED)), [], now=NOW)
    same = clusterer.place(report("b", "Riyadh talks weigh Black Sea truce", source="other",
                                  at=T + timedelta(hours=20),
                                  action=Action("discussed", Severity.DISCUSSED)),
                           [first.story], now=NOW)
    assert not same.new_story and same.developments == ()
    assert same.story.story_id == first.story.story_id
    assert [s.source for s in same.story.sources] == ["wire", "other"]
    agreed = clusterer.place(report("c", "Black Sea truce agreed after Riyadh talks",
                                    at=T + timedelta(hours=26),
                                    action=Action("agreed", Severity.AGREED)),
                             [same.story], now=NOW)
    (dev,) = agreed.developments
    assert (dev.kind, dev.severity, dev.action) == ("change", Severity.AGREED, "agreed")
    assert dev.first_seen == T + timedelta(hours=26)
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


def test_a_new_turn_of_a_story_is_a_development(watchlist: Watchlist) -> None:
    clusterer = StoryClusterer(StoryRules(join_threshold=0.1, novelty_threshold=0.5),
                               BaselineMatcher(None))
    seized = {"united-states", "tanker", "atlantic"}
    s = clusterer.place(report("a", "US seizes tanker in the Atlantic",
                               entities=frozenset(seized)), [], now=NOW).story
    repeat = clusterer.place(report("b", "Tanker seized by US forces in Atlantic",
                                    source="other", entities=frozenset(seized)), [s], now=NOW)
    assert repeat.developments == ()
    crew = clusterer.place(report("c", "Moscow says crew of the seized tanker released",
                                  at=T + timedelta(hours=5),
                                  entities=frozenset({"russia", "tanker"})),
                           [repeat.story], now=NOW)
    assert crew.story.story_id == s.story_id
    (dev,) = crew.developments
    assert dev.kind == "change" and dev.item_ids[-1] == "c"


def test_an_account_in_other_words_within_the_hour_of_a_development_is_no_new_turn(
        watchlist: Watchlist) -> None:
    clusterer = StoryClusterer(StoryRules(join_threshold=0.1, novelty_threshold=0.5),
                               BaselineMatcher(None))
    s = clusterer.place(report("a", "US seizes tanker in the Atlantic",
                               entities=frozenset({"united-states", "tanker"})), [],
                        now=NOW).story
    told = "Washington takes control of a vessel carrying Venezuelan crude, officials confirm"

    def other_words(minutes: int) -> tuple[str, ...]:
        placed = clusterer.place(report(f"b{minutes}", told, at=T + timedelta(minutes=minutes),
                                        source="other", entities=frozenset({"tanker"})),
                                 [s], now=NOW)
        assert placed.story.story_id == s.story_id
        return tuple(d.kind for d in placed.developments)

    assert other_words(40) == ()
    assert other_words(90) == ("change",)


def test_background_joins_silently_and_a_story_it_opened_alerts_on_its_first_report(
        clusterer: StoryClusterer) -> None:
    explainer = clusterer.place(report("a", "What a Black Sea truce would mean at Riyadh talks",
                                       kind="background"), [], now=NOW)
    assert explainer.new_story and explainer.developments == ()
    first = clusterer.place(report("b", "Black Sea truce proposed at Riyadh talks",
                                   action=Action("proposed", Severity.PROPOSED)),
                            [explainer.story], now=NOW)
    (dev,) = first.developments
    assert dev.kind == "new_story" and dev.story_id == explainer.story.story_id
    recap = clusterer.place(report("c", "Black Sea truce at Riyadh talks: the day in review",
                                   kind="background"), [first.story], now=NOW)
    assert recap.developments == ()


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


def test_a_known_state_holds_only_from_its_date_and_for_a_while(watchlist: Watchlist) -> None:
    matcher = BaselineMatcher(load_baseline(BASELINE, watchlist.issue_ids), timedelta(days=120))
    text = "Energy truce holds\nThe pause in strikes on energy infrastructure is holding."
    assert matcher.known_state("ceasefire", text, Severity.AGREED, at=T) is not None
    before = datetime(2022, 4, 2, tzinfo=UTC)  # three years before the state was known
    assert matcher.known_state("ceasefire", text, Severity.AGREED, at=before) is None
    later = T + timedelta(days=200)
    assert matcher.known_state("ceasefire", text, Severity.AGREED, at=later) is None


def test_a_broad_term_alone_never_makes_an_item_known(watchlist: Watchlist) -> None:
    baseline = parse_baseline("""
version = 1
as_of = 2025-04-01
[[known]]
id = "navigation"
issue = "black-sea"
summary = "Safe navigation agreed in principle."
status = "agreed"
as_of = 2025-03-25
any = ["black sea", "navigation", "shipping"]
""", "b", watchlist.issue_ids)
    matcher = BaselineMatcher(baseline)
    assert matcher.known_state("black-sea", "Missile hits ship in the Black Sea",
                               Severity.MENTIONED, at=T) is None
    assert matcher.known_state("black-sea", "Black Sea navigation deal holds",
                               Severity.MENTIONED, at=T) is not None


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


def test_a_story_keeps_its_recent_reports_and_survives_the_state() -> None:
    story = Story("s", "ceasefire", "h", T, T)
    for i in range(RECENT + 5):
        story.absorb(report(f"i{i}", f"term{i} black sea truce", entities=frozenset({"x"})))
    assert len(story.recent) == RECENT and story.recent[-1].item_id == f"i{RECENT + 4}"
    again = story_from_json(story_to_json(story))
    assert again == story
