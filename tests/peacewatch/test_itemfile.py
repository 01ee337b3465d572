"""Items of a user's own file: the same fields under the names of the formats news comes in."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from peacewatch.errors import InputError
from peacewatch.itemfile import has_text, item_fields, item_time, load_records


def test_feed_names_are_read_as_the_fields_they_are() -> None:
    item = item_fields({"guid": "g1", "headline": "Kyiv and Moscow swap prisoners",
                        "description": "The exchange was mediated by the UAE.",
                        "link": "https://example.org/a", "pubDate": "Tue, 01 Apr 2025 10:00:00 GMT",
                        "source_feed": "https://example.org/rss", "lang": "en"})
    assert (item.id, item.title, item.summary, item.url) == (
        "g1", "Kyiv and Moscow swap prisoners", "The exchange was mediated by the UAE.",
        "https://example.org/a")
    assert (item.published, item.source, item.language) == (
        "Tue, 01 Apr 2025 10:00:00 GMT", "https://example.org/rss", "en")


def test_the_first_name_present_wins_and_html_content_becomes_text() -> None:
    item = item_fields({"id": 7, "title": "T", "summary": "S", "description": "D",
                        "content_html": "<p>Talks <b>resume</b> in Istanbul</p>"})
    assert (item.id, item.summary, item.content) == ("7", "S", "Talks resume in Istanbul")


def test_an_item_without_an_id_stands_on_its_url() -> None:
    assert item_fields({"link": "https://example.org/b", "title": "T"}).id == \
        "https://example.org/b"
    with pytest.raises(InputError, match="missing or empty 'id'"):
        item_fields({"title": "no id, no link"})


@pytest.mark.parametrize(("record", "message"), [
    ({"id": "x"}, "no text"),
    ({"id": "x", "title": "  ", "description": ""}, "no text"),
    ({"id": "x", "title": 5}, "'title' must be a string, not int"),
    ({"id": ["x"], "title": "T"}, "'id' must be a string, not list"),
    ({"id": "x", "title": "T", "link": {"href": "u"}}, "'link' must be a string, not dict"),
])
def test_what_cannot_be_read_is_named(record: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        item_fields(record)


def test_has_text_looks_under_every_name() -> None:
    assert has_text({"id": "x", "description": "D"})
    assert has_text({"id": "x", "content_html": "<p>x</p>"})
    assert not has_text({"id": "x", "labels": []})


def test_times_in_iso_8601_and_rfc_2822() -> None:
    at = datetime(2025, 4, 1, 10, 0, tzinfo=UTC)
    assert item_time("2025-04-01T10:00:00Z") == at
    assert item_time("2025-04-01 10:00:00+00:00") == at
    assert item_time("Tue, 01 Apr 2025 10:00:00 GMT") == at
    with pytest.raises(InputError, match="no time zone"):
        item_time("2025-04-01T10:00:00")
    with pytest.raises(InputError, match="neither ISO 8601 nor RFC 2822"):
        item_time("yesterday")


def test_csv_and_json_lines_files(tmp_path: Path) -> None:
    csv_file = tmp_path / "items.csv"
    csv_file.write_text('date_published,title,description,link\n'
                        '2022-02-01 00:13:47+00:00,"Talks, again","Delegates met, briefly.",'
                        'https://example.org/c\n', encoding="utf-8")
    [row] = load_records(csv_file)
    assert item_fields(row).summary == "Delegates met, briefly."
    bad = tmp_path / "items.jsonl"
    bad.write_text('{"id": "a", "title": "T"}\n[1]\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"items.jsonl:2: expected a JSON object"):
        load_records(bad)
    with pytest.raises(InputError, match="cannot read"):
        load_records(tmp_path / "absent.csv")
