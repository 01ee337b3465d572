"""The JSON Feed reader."""

from __future__ import annotations

from collectors.jsonfeed import looks_like_json_feed, parse_json_feed


def test_json_feed_items_become_entries():
    body = (b'{"version": "https://jsonfeed.org/version/1.1", "language": "en", "items": ['
            b'{"id": 7, "url": "https://x.test/7", "title": " A  title ", "summary": "S",'
            b' "content_html": "<p>Hello</p><script>bad()</script>",'
            b' "date_published": "2025-04-01T10:00:00Z"},'
            b'{"id": "b", "content_text": "Plain", "date_modified": "2025-04-01T11:00:00+01:00"},'
            b'"not an object"]}')
    parsed = parse_json_feed(body)
    first, second = parsed.entries
    assert (first.guid, first.link, first.title, first.summary, first.content) == (
        "7", "https://x.test/7", "A title", "S", "Hello")
    assert first.published == 1743501600.0
    assert (second.guid, second.content, second.published) == ("b", "Plain", 1743501600.0)
    assert parsed.language == "en" and parsed.entry_errors == ("entry 2: not an object",)
    assert parsed.problem is None


def test_json_feed_problems_are_values_not_exceptions():
    assert parse_json_feed(b"{not json").problem is not None
    assert parse_json_feed(b'{"items": 3}').problem is not None
    assert parse_json_feed(b"[" * 100_000).problem is not None  # deep nesting
    assert looks_like_json_feed(b"{}", "application/feed+json; charset=utf-8")
    assert looks_like_json_feed(b' {"version": "https://jsonfeed.org/version/1"}', "")
    assert not looks_like_json_feed(b"<rss/>", "application/xml")
