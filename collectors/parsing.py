"""Which reader parses a body: JSON Feed by its own reader; plain RSS 2.0 by the fast path
when it is sure; everything else (and anything the fast path declines) by feedparser."""

from __future__ import annotations

from collections.abc import Mapping

from collectors.entries import ParsedFeed, parse_with_feedparser
from collectors.fastparse import fast_parse
from collectors.jsonfeed import looks_like_json_feed, parse_json_feed


def parse_feed(body: bytes, headers: Mapping[str, str], url: str) -> ParsedFeed:
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if looks_like_json_feed(body, content_type):
        return parse_json_feed(body)
    fast = fast_parse(body, headers, url)
    if fast is not None:
        return fast
    return parse_with_feedparser(body, headers, url)
