"""Item identity: guid, else canonical URL, else content hash; content hash ignores spacing."""

from __future__ import annotations

from collectors.identity import canonical_url, content_hash, feed_item_id, strip_tracking


def test_canonical_url_normalises_scheme_host_port_and_strips_tracking():
    assert canonical_url("HTTP://WWW.Example.ORG:80/a/b?utm_source=rss&id=2&fbclid=x#top") == \
        "https://www.example.org/a/b?id=2"
    assert canonical_url("https://example.org") == "https://example.org/"
    assert canonical_url("https://example.org:8443/x") == "https://example.org:8443/x"
    assert canonical_url("https://example.org/x?b=2&a=1") == "https://example.org/x?a=1&b=2"
    assert canonical_url("https://bbc.co.uk/n?at_medium=RSS&at_campaign=KARANGA") == \
        "https://bbc.co.uk/n"
    assert canonical_url("https://пример.рф/путь") == "https://xn--e1afmkfd.xn--p1ai/путь"


def test_canonical_url_refuses_what_is_not_an_absolute_web_url():
    for url in ("/relative", "mailto:a@b.c", "urn:uuid:1", "https://", "http://[::1"):
        assert canonical_url(url) is None, url


def test_strip_tracking_keeps_scheme_and_meaningful_parameters():
    assert strip_tracking("http://x.test/a?utm_medium=feed&page=2#f") == "http://x.test/a?page=2"


def test_ids_guid_first_then_url_then_hash_and_scoped_by_feed():
    by_guid = feed_item_id("f1", guid="abc", url="https://x.test/1", fallback_hash="h")
    assert by_guid == feed_item_id("f1", guid=" abc ", url="https://other.test/", fallback_hash="z")
    by_url = feed_item_id("f1", guid=None, url="http://x.test/1?utm_source=a", fallback_hash="h")
    assert by_url == feed_item_id("f1", guid="", url="https://X.test/1", fallback_hash="z")
    by_hash = feed_item_id("f1", guid=None, url=None, fallback_hash="h")
    assert by_hash == feed_item_id("f1", guid=None, url="not a url", fallback_hash="h")
    assert len({by_guid, by_url, by_hash}) == 3
    assert feed_item_id("f2", guid="abc", url=None, fallback_hash="h") != by_guid


def test_content_hash_ignores_case_spacing_and_unicode_form():
    assert content_hash("Talks  resume", "Café\n\nnews") == content_hash("talks resume",
                                                                        "Cafe\u0301 news")
    assert content_hash("Talks resume", "a") != content_hash("Talks resumed", "a")
