"""Feed lists: the shipped seeds/feeds.toml is valid; bad files are refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.entries import Entry, entry_item
from collectors.feedlist import (
    configured_feeds,
    folder_feeds,
    load_feed_list,
    parse_feed_list,
    slug,
)
from peacewatch.errors import ConfigError
from peacewatch.models import utcnow

SEEDS = Path(__file__).resolve().parents[2] / "seeds" / "feeds.toml"


def test_the_default_feed_list_is_valid_and_covers_the_kinds_of_source():
    specs = load_feed_list(SEEDS)
    assert len(specs) >= 25
    assert all(s.url.startswith(("http://", "https://")) and s.language for s in specs)
    tags = {t for s in specs for t in s.tags}
    assert {"international", "ukraine", "russia", "official", "think-tank"} <= tags
    assert len({s.feed_id for s in specs}) == len(specs)


def test_defaults_ids_and_overrides():
    specs = parse_feed_list({
        "defaults": {"language": "en", "interval_s": 600, "tags": ["x"]},
        "feed": [
            {"name": "BBC News - Europe", "url": "https://a.test/rss"},
            {"name": "Other", "url": "https://b.test/rss", "id": "keep-me", "language": "uk",
             "interval_s": 60, "tags": [], "enabled": False},
        ]}, "t.toml")
    assert (specs[0].feed_id, specs[0].language, specs[0].interval_s, specs[0].tags) == (
        "bbc-news-europe", "en", 600, ("x",))
    assert (specs[1].feed_id, specs[1].language, specs[1].interval_s, specs[1].tags,
            specs[1].enabled) == ("keep-me", "uk", 60, (), False)
    assert slug("Kremlin - President's news") == "kremlin-president-s-news"


@pytest.mark.parametrize(("data", "message"), [
    ({"feed": [{"name": "A", "url": "ftp://a.test/"}]}, "feed 1 (A): url"),
    ({"feed": [{"name": "A", "url": "https://a.test/", "colour": "red"}]},
     "feed 1 (A): colour: unknown key"),
    ({"feed": [{"name": "A", "url": "https://a.test/", "interval_s": 0}]}, "interval_s"),
    ({"feed": [{"url": "https://a.test/"}]}, "name"),
    ({"feed": [{"name": "A", "url": "https://a.test/"}, {"name": "A", "url": "https://b.test/"}]},
     "same id 'a'"),
    ({"feed": [{"name": "A", "url": "https://a.test/"}, {"name": "B", "url": "https://a.test/"}]},
     "same url"),
    ({"feeds": []}, "feeds: unknown key"),
])
def test_bad_lists_are_refused_naming_the_problem(data, message):
    with pytest.raises(ConfigError, match=r"t\.toml") as info:
        parse_feed_list(data, "t.toml")
    assert message in str(info.value)


def test_unreadable_and_malformed_files(tmp_path: Path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_feed_list(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[feed]\nname=", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_feed_list(bad)


def test_folder_of_saved_feeds_and_clashes_across_lists(tmp_path: Path):
    (tmp_path / "saved" / "sub").mkdir(parents=True)
    (tmp_path / "saved" / "a.xml").write_bytes(b"<rss/>")
    (tmp_path / "saved" / "sub" / "b.json").write_bytes(b"{}")
    (tmp_path / "saved" / "notes.txt").write_bytes(b"not a feed")
    specs = folder_feeds(tmp_path / "saved")
    assert [s.name for s in specs] == ["saved/a.xml", "saved/sub/b.json"]
    assert all(s.url.startswith("file://") for s in specs)
    one = tmp_path / "one.toml"
    one.write_text('[[feed]]\nname = "A"\nurl = "https://a.test/"\n', encoding="utf-8")
    two = tmp_path / "two.toml"
    two.write_text('[[feed]]\nname = "A"\nurl = "https://b.test/"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="same id"):
        configured_feeds([one, two], [], tmp_path)
    assert len(configured_feeds([one], [tmp_path / "saved"], tmp_path)) == 3
    with pytest.raises(ConfigError, match="does not exist"):
        folder_feeds(tmp_path / "nope")


def test_every_default_feed_declares_its_class_and_items_carry_it():
    specs = {s.name: s for s in load_feed_list(SEEDS)}
    assert all(s.source_class is not None for s in specs.values())
    assert specs["TASS - English"].source_class == "state_media"
    assert specs["NATO - News"].source_class == "official"
    assert specs["Brookings"].source_class == "think_tank"
    entry = Entry(guid="g", link="https://tass.com/1", title="t", summary="s", content="",
                  published=None)
    item = entry_item(specs["TASS - English"], "https://tass.com/rss", entry, utcnow(), "en")
    assert item.source_class == "state_media"


def test_a_class_is_declared_or_implied_by_the_tags_and_a_bad_one_refused():
    specs = parse_feed_list({"feed": [
        {"name": "Wire", "url": "https://w.example/rss", "class": "wire"},
        {"name": "Gov", "url": "https://g.example/rss", "tags": ["official"]},
        {"name": "Plain", "url": "https://p.example/rss"}]}, "test")
    assert [s.source_class for s in specs] == ["wire", "official", None]
    with pytest.raises(ConfigError, match=r"feed 1 \(Bad\): class"):
        parse_feed_list({"feed": [{"name": "Bad", "url": "https://b.example/rss",
                                   "class": "blog"}]}, "test")
