"""Canonical URL, content hash and exact-copy keys: one definition, used by every stage."""

from __future__ import annotations

from datetime import UTC, datetime

from collectors.entries import Entry, entry_item
from peacewatch.identity import canonical_url, content_hash, exact_keys, strip_tracking
from peacewatch.models import FeedSpec
from processors.pipeline import copy_keys


def test_canonical_url_normalises_scheme_host_port_path_and_strips_tracking() -> None:
    assert canonical_url("HTTP://WWW.Example.ORG:80/a/b/?utm_source=rss&id=2&fbclid=x#top") == \
        "https://example.org/a/b?id=2"
    assert canonical_url("https://example.org") == "https://example.org/"
    assert canonical_url("https://example.org:8443/x") == "https://example.org:8443/x"
    assert canonical_url("https://example.org/x?b=2&a=1") == "https://example.org/x?a=1&b=2"
    assert canonical_url("HTTP://www.BBC.co.uk/news/world-1?at_medium=RSS&at_campaign=KARANGA") \
        == canonical_url("https://bbc.co.uk/news/world-1/") == "https://bbc.co.uk/news/world-1"
    assert canonical_url("https://пример.рф/путь") == "https://xn--e1afmkfd.xn--p1ai/путь"


def test_canonical_url_refuses_what_is_not_an_absolute_web_url() -> None:
    for url in ("/relative", "mailto:a@b.c", "urn:uuid:1", "https://", "http://[::1", "", None):
        assert canonical_url(url) is None, url


def test_strip_tracking_keeps_scheme_and_meaningful_parameters() -> None:
    assert strip_tracking("http://x.test/a?utm_medium=feed&page=2#f") == "http://x.test/a?page=2"


def test_content_hash_ignores_case_spacing_markup_unicode_form_and_typography() -> None:
    assert content_hash("Talks  resume", "Café\n\nnews") == content_hash("talks resume",
                                                                        "Cafe\u0301 news")
    assert content_hash("Truce agreed", "Kyiv\u2019s view.") == content_hash("TRUCE  agreed",
                                                                            "kyiv's view")
    assert content_hash("Talks resume", "a") != content_hash("Talks resumed", "a")


def test_exact_keys_are_the_hash_and_the_canonical_url() -> None:
    digest = content_hash("t", "b")
    assert exact_keys("https://bbc.co.uk/x", digest) == [f"hash:{digest}", "url:https://bbc.co.uk/x"]
    assert exact_keys(None, digest) == [f"hash:{digest}"]


def test_collectors_and_processors_agree_on_a_link() -> None:
    """The collector computes the canonical URL once; the processors' keys use that one."""
    spec = FeedSpec(feed_id="f", name="Feed", url="https://feed.test/rss")
    at = datetime(2025, 4, 1, tzinfo=UTC)
    a = entry_item(spec, spec.url, Entry(None, "https://www.bbc.co.uk/news/x?at_medium=RSS",
                                         "Title", "Body text", "", None), at, "en")
    b = entry_item(spec, spec.url, Entry(None, "http://bbc.co.uk/news/x/", "TITLE",
                                         "body  text", "", None), at, "en")
    assert a.canonical_url == b.canonical_url == canonical_url(a.url) == "https://bbc.co.uk/news/x"
    assert copy_keys(a) == copy_keys(b)
    legacy = a.model_copy(update={"canonical_url": None})  # from an older collector
    assert copy_keys(legacy) == copy_keys(a)
