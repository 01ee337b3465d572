"""What makes two items the same: canonical URL, content hash, exact-copy keys. Pure functions.

The collectors compute an item's canonical URL and content hash once and carry both on the
``RawItem``; the processors read them from there. ``exact_keys`` is the one definition of an
exact copy: another item with the same canonical URL, or with the same words.
"""

from __future__ import annotations

import contextlib
import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from peacewatch.text import words

# Query parameters that say how a reader arrived, not what they read.
_TRACKING_PREFIXES = ("utm_", "mtm_", "pk_", "at_", "_hs", "mc_", "oly_")
_TRACKING_NAMES = frozenset({
    "fbclid", "gclid", "dclid", "gclsrc", "msclkid", "yclid", "igshid", "twclid", "ttclid",
    "_ga", "_gl", "mkt_tok", "cmpid", "ocid", "ito", "taid", "ns_mchannel", "ns_source",
    "ns_campaign", "ns_linkname", "ns_fee", "sr_share", "ref_src", "cmp", "spref", "smid",
    "src", "ref", "share", "rss", "cid", "__twitter_impression",
})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_tracking_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in _TRACKING_NAMES or lowered.startswith(_TRACKING_PREFIXES)


def strip_tracking(url: str) -> str:
    """The URL without tracking parameters and fragment; otherwise as given."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.strip()
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not is_tracking_param(k)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def canonical_url(url: str | None) -> str | None:
    """The form of a link used as identity, or None if it is not an absolute http(s) URL.

    http counts as https; the host is lower-cased, IDNA-encoded and loses ``www.``; default
    ports, the fragment, tracking parameters and a trailing slash go; the query is sorted.
    """
    if not url or not url.strip():
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".").removeprefix("www.")
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    with contextlib.suppress(UnicodeError):  # else keep the host as written: still stable
        host = host.encode("idna").decode("ascii")
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                   if not is_tracking_param(k))
    return urlunsplit(("https", netloc, parts.path.rstrip("/") or "/", urlencode(query), ""))


def content_hash(title: str, *texts: str) -> str:
    """A hash of the words of an item (title, then each text), so that copies differing only in
    case, spacing, markup, Unicode form or typography hash alike."""
    joined = "\n".join((title, *texts))
    return hashlib.sha256(" ".join(words(joined)).encode("utf-8")).hexdigest()[:32]


def exact_keys(canonical: str | None, digest: str) -> list[str]:
    """Keys under which an exact copy is found: the content hash, and the canonical URL.

    The item id is checked on its own: the same id again is an update, not a copy.
    """
    keys = [f"hash:{digest}"]
    if canonical:
        keys.append(f"url:{canonical}")
    return keys
