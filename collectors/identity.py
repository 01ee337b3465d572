"""Item identity: which id an item gets, and when it counts as changed. Pure functions.

A feed item's id comes from the first of: its guid, its canonical URL (tracking parameters
stripped, scheme and host normalised), a hash of its content. Ids are scoped to the feed, so that
one outlet carrying a story in two feeds cannot make the two copies overwrite each other as
"updates"; spotting the same story across feeds is the processors' deduplication.

``content_hash`` is taken over the normalised title and text only, so a re-fetch that changes
nothing a reader sees is not an edit.
"""

from __future__ import annotations

import contextlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from collectors.text import normalise_for_hash
from peacewatch.models import stable_hash

# Query parameters that say how a reader arrived, not what they read.
_TRACKING_PREFIXES = ("utm_", "mtm_", "pk_", "at_", "_hs", "mc_", "oly_")
_TRACKING_NAMES = frozenset({
    "fbclid", "gclid", "dclid", "gclsrc", "msclkid", "yclid", "igshid", "twclid", "ttclid",
    "_ga", "_gl", "mkt_tok", "cmpid", "ocid", "ito", "taid", "ns_mchannel", "ns_source",
    "ns_campaign", "ns_linkname", "ns_fee", "sr_share", "ref_src", "CMP", "cmp", "spref",
})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_tracking_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in _TRACKING_NAMES or name in _TRACKING_NAMES or lowered.startswith(
        _TRACKING_PREFIXES)


def strip_tracking(url: str) -> str:
    """The URL without tracking parameters and fragment; otherwise as given."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.strip()
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not is_tracking_param(k)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def canonical_url(url: str) -> str | None:
    """The form of a URL used as identity, or None if it is not an absolute http(s) URL.

    Scheme and host are lower-cased, http counts as https, default ports and fragments go,
    tracking parameters go and the rest are sorted, an empty path is "/".
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    with contextlib.suppress(UnicodeError):  # else keep the host as written: still stable
        host = host.encode("idna").decode("ascii")
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                   if not is_tracking_param(k))
    return urlunsplit(("https", netloc, parts.path or "/", urlencode(query), ""))


def content_hash(title: str, *texts: str) -> str:
    """What changes when a reader would see a change: title and text, normalised."""
    return stable_hash(normalise_for_hash(title), *(normalise_for_hash(t) for t in texts))


def feed_item_id(
    feed_id: str, *, guid: str | None, url: str | None, fallback_hash: str
) -> str:
    """The feed-scoped id of an entry: guid, else canonical URL, else its content hash."""
    if guid and guid.strip():
        return "f" + stable_hash(feed_id, "guid", guid.strip())
    canonical = canonical_url(url) if url else None
    if canonical:
        return "f" + stable_hash(feed_id, "url", canonical)
    return "f" + stable_hash(feed_id, "hash", fallback_hash)


def document_item_id(folder_name: str, relative_path: str) -> str:
    """A document's id: its folder's name and its path inside it (POSIX form)."""
    return "d" + stable_hash("document", folder_name, relative_path)
