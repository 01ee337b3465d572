"""Item identity: which id an item gets. Pure functions.

A feed item's id comes from the first of: its guid, its canonical URL, a hash of its content
(``peacewatch.identity`` defines both). Ids are scoped to the feed, so that one outlet carrying a
story in two feeds cannot make the two copies overwrite each other as "updates"; spotting the
same story across feeds is the processors' deduplication.
"""

from __future__ import annotations

from peacewatch.identity import canonical_url
from peacewatch.models import stable_hash


def feed_item_id(
    feed_id: str, *, guid: str | None, url: str | None, fallback_hash: str
) -> str:
    """The feed-scoped id of an entry: guid, else canonical URL, else its content hash."""
    if guid and guid.strip():
        return "f" + stable_hash(feed_id, "guid", guid.strip())
    canonical = canonical_url(url)
    if canonical:
        return "f" + stable_hash(feed_id, "url", canonical)
    return "f" + stable_hash(feed_id, "hash", fallback_hash)


def document_item_id(folder_name: str, relative_path: str) -> str:
    """A document's id: its folder's name and its path inside it (POSIX form)."""
    return "d" + stable_hash("document", folder_name, relative_path)
