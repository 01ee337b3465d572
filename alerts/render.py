"""How a notification looks on each channel. Pure: a notification in, a payload or text out.

Slack's limits (Block Kit): at most 50 blocks, 3,000 characters in a section's text, 150 in a
header's plain text, 10 elements in a context block. Long content is trimmed at a word boundary
with an ellipsis, and developments that do not fit are summed up in a last line, never dropped
silently and never rejected by Slack.
"""

from __future__ import annotations

import html
from typing import Any

from alerts.notification import Notification
from peacewatch.models import Development
from peacewatch.provenance import CLASS_LABELS, provenance

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_FALLBACK_TEXT = 3000
SOURCES_SHOWN = 3
EVIDENCE_SHOWN = 1
ELLIPSIS = "…"


def clip(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters, cut at a word boundary when one is near,
    with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    if limit <= 1:
        return ELLIPSIS[:limit]
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 0.6:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS


def mrkdwn_escape(text: str) -> str:
    """Slack's three control characters; everything else is literal."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fit_escaped(text: str, budget: int) -> str:
    """Clip raw text so that its escaped form fits ``budget`` (escaping never splits an entity)."""
    escaped = mrkdwn_escape(text)
    if len(escaped) <= budget:
        return escaped
    lo, hi = 0, min(len(text), budget)
    while lo < hi:  # the longest clip whose escaped form fits
        mid = (lo + hi + 1) // 2
        if len(mrkdwn_escape(clip(text, mid))) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return mrkdwn_escape(clip(text, lo)) if lo else ""


def _link(url: str | None, label: str) -> str:
    label = fit_escaped(label, 200).replace("|", "¦")
    if not url or not url.startswith(("http://", "https://")) or len(url) > 2000:
        return label
    return f"<{mrkdwn_escape(url).replace('|', '%7C')}|{label}>"


def _severity(dev: Development) -> str:
    return dev.severity.name.lower()


def provenance_line(dev: Development) -> str:
    """How many independent outlets report it, and whether an official source confirms it."""
    return provenance(dev.sources).describe()


def _source_label(source: str, source_class: str | None) -> str:
    return f"{source}, {CLASS_LABELS[source_class]}" if source_class else source


def _development_section(dev: Development, follow_up: bool) -> str:
    """One development as section mrkdwn, within the section limit."""
    marker = "Update: " if follow_up and dev.kind == "change" else ""
    head = f"*{fit_escaped(marker + dev.headline, 600)}*"
    facts = (f"Issue: `{fit_escaped(dev.issue_id, 100)}` · Severity: *{_severity(dev)}* · "
             f"{fit_escaped(dev.action, 60)} · {dev.source_count} source"
             f"{'s' if dev.source_count != 1 else ''}")
    lines = [head, facts, f"_{fit_escaped(provenance_line(dev), 300)}_"]
    shown = [_link(s.url, s.title or s.source)
             + f" ({fit_escaped(_source_label(s.source, s.source_class), 100)})"
             for s in dev.sources[:SOURCES_SHOWN]]
    if shown:
        more = dev.source_count - len(shown)
        lines.append("Sources: " + ", ".join(shown) + (f" and {more} more" if more else ""))
    used = sum(len(x) + 1 for x in lines)
    for quote in dev.evidence[:EVIDENCE_SHOWN]:
        room = MAX_SECTION_TEXT - used - 3
        if room > 20:
            lines.append("> " + fit_escaped(quote, room))
    text = "\n".join(lines)
    # Defensive: the parts above are bounded, but the limit must hold whatever they hold.
    return text if len(text) <= MAX_SECTION_TEXT else fit_escaped(text, MAX_SECTION_TEXT)


def slack_payload(n: Notification) -> dict[str, Any]:
    """An incoming-webhook message: Block Kit blocks plus the plain-text fallback ``text``."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(n.title, MAX_HEADER_TEXT),
                                    "emoji": False}},
    ]
    follow_up = n.kind == "follow_up"
    per_dev = 2  # a section and a divider
    room = MAX_BLOCKS - len(blocks) - 2  # keep space for the "more" line and the footer
    fits = max(1, min(len(n.developments), (room + 1) // per_dev))
    for i, dev in enumerate(n.developments[:fits]):
        if i:
            blocks.append({"type": "divider"})
        blocks.append({"type": "section",
                       "text": {"type": "mrkdwn", "text": _development_section(dev, follow_up)}})
    hidden = len(n.developments) - fits
    if hidden:
        rest = ", ".join(d.headline for d in n.developments[fits:])
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": fit_escaped(
            f"…and {hidden} more development{'s' if hidden != 1 else ''}: {rest}",
            MAX_SECTION_TEXT)}})
    footer = f"peacewatch · {n.kind.replace('_', '-')} · route {n.route} · {n.group}"
    blocks.append({"type": "context",
                   "elements": [{"type": "mrkdwn", "text": fit_escaped(footer, 300)}]})
    assert len(blocks) <= MAX_BLOCKS
    return {"text": fallback_text(n), "blocks": blocks, "unfurl_links": False}


def fallback_text(n: Notification) -> str:
    """The notification's plain text (Slack's fallback, push notifications)."""
    return fit_escaped(n.title, MAX_FALLBACK_TEXT)


def plain_text(n: Notification) -> str:
    """The email's text part and the console's output."""
    lines = [n.title, "=" * min(len(n.title), 72), ""]
    for dev in n.developments:
        update = "UPDATE: " if dev.kind == "change" else ""
        lines.append(f"* {update}{dev.headline}")
        lines.append(f"  issue {dev.issue_id}, severity {_severity(dev)}, {dev.action}, "
                     f"{dev.source_count} source{'s' if dev.source_count != 1 else ''}")
        lines.append(f"  {provenance_line(dev)}")
        for s in dev.sources[:SOURCES_SHOWN]:
            label = _source_label(s.source, s.source_class)
            lines.append(f"  - {label}: {s.title or ''} {s.url or ''}".rstrip())
        for quote in dev.evidence[:EVIDENCE_SHOWN]:
            lines.append(f'  "{clip(quote, 600)}"')
        lines.append(f"  detected {dev.detected_at.isoformat(timespec='seconds')}")
        lines.append("")
    lines.append(f"-- peacewatch, route {n.route}, {n.group}")
    return "\n".join(lines) + "\n"


def html_text(n: Notification) -> str:
    """The email's HTML part; every value is escaped."""
    e = html.escape
    items = []
    for dev in n.developments:
        update = "<strong>Update:</strong> " if dev.kind == "change" else ""
        sources = "".join(
            f'<li>{e(_source_label(s.source, s.source_class))}: '
            f'<a href="{e(s.url)}">{e(s.title or s.url)}</a></li>'
            if s.url else f"<li>{e(_source_label(s.source, s.source_class))}: "
            f"{e(s.title or '')}</li>"
            for s in dev.sources[:SOURCES_SHOWN]
        )
        quotes = "".join(f"<blockquote>{e(clip(q, 600))}</blockquote>"
                         for q in dev.evidence[:EVIDENCE_SHOWN])
        items.append(
            f"<h3>{update}{e(dev.headline)}</h3>"
            f"<p>Issue <code>{e(dev.issue_id)}</code>, severity <b>{e(_severity(dev))}</b>, "
            f"{e(dev.action)}, {dev.source_count} source(s)</p>"
            f"<p>{e(provenance_line(dev))}</p>"
            f"<ul>{sources}</ul>{quotes}"
        )
    return (f"<!doctype html><html><body><h2>{e(n.title)}</h2>{''.join(items)}"
            f"<p><small>peacewatch, route {e(n.route)}, {e(n.group)}</small></p></body></html>")


def webhook_payload(n: Notification) -> dict[str, Any]:
    """The generic webhook's JSON body."""
    return {
        "notification_id": n.notification_id,
        "kind": n.kind,
        "follow_up": n.kind == "follow_up",
        "receiver": n.receiver,
        "route": n.route,
        "group": n.group,
        "title": n.title,
        "created_at": n.created_at.isoformat(),
        "developments": [d.model_dump(mode="json") for d in n.developments],
    }
