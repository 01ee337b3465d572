"""Item identity: guid, else canonical URL, else content hash."""

from __future__ import annotations

from collectors.identity import feed_item_id


def test_ids_guid_first_then_url_then_hash_and_scoped_by_feed():
    by_guid = feed_item_id("f1", guid="abc", url="https://x.test/1", fallback_hash="h")
    assert by_guid == feed_item_id("f1", guid=" abc ", url="https://other.test/", fallback_hash="z")
    by_url = feed_item_id("f1", guid=None, url="http://x.test/1?utm_source=a", fallback_hash="h")
    assert by_url == feed_item_id("f1", guid="", url="https://X.test/1", fallback_hash="z")
    by_hash = feed_item_id("f1", guid=None, url=None, fallback_hash="h")
    assert by_hash == feed_item_id("f1", guid=None, url="not a url", fallback_hash="h")
    assert len({by_guid, by_url, by_hash}) == 3
    assert feed_item_id("f2", guid="abc", url=None, fallback_hash="h") != by_guid
