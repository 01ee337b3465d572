"""What the API answers and the page shows, built once from the record: plain dicts.

- ``Catalog``: the tracked issues and the parties, by name, from the watchlist file (read as
  data: the desk does not import the processors);
- ``development_view``: a development with its evidence, sources and their classes, provenance,
  where it was alerted, and the feedback it got;
- ``state_of_play``: what has been proposed, agreed, signed or rejected on an issue, and by
  whom, from the developments' actions and parties.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desk.store.db import Row
from desk.store.record import RecordStore, iso
from peacewatch.models import Development, Severity
from peacewatch.provenance import CLASS_LABELS, provenance
from peacewatch.settings import Settings

STATE_ACTIONS = ("signed", "agreed", "rejected", "proposed")
SEVERITY_NAMES = tuple(s.name.lower() for s in Severity)


@dataclass(frozen=True)
class IssueInfo:
    id: str
    name: str
    description: str = ""


@dataclass
class Catalog:
    issues: list[IssueInfo] = field(default_factory=list)
    parties: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> Catalog:
        path = settings.processors.watchlist or settings.seeds_dir / "watchlist.toml"
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            return cls()  # the record's own issue ids are shown then
        issues = [IssueInfo(str(i["id"]), str(i.get("name", i["id"])),
                            " ".join(str(i.get("description", "")).split()))
                  for i in data.get("issues", []) if isinstance(i, dict) and "id" in i]
        parties = {str(k): str(v.get("name", k)) for k, v in data.get("parties", {}).items()
                   if isinstance(v, dict)}
        return cls(issues, parties)

    def with_record(self, record_ids: Sequence[str]) -> list[IssueInfo]:
        """The watchlist's issues, then any the record has that the watchlist no longer has."""
        known = {i.id for i in self.issues}
        return [*self.issues, *(IssueInfo(i, i) for i in record_ids if i not in known)]

    def issue(self, issue_id: str) -> IssueInfo | None:
        return next((i for i in self.issues if i.id == issue_id), None)

    def party(self, party_id: str) -> str:
        return self.parties.get(party_id, party_id)


def source_view(ref: Any) -> dict[str, Any]:
    return {"source": ref.source, "url": ref.url, "title": ref.title,
            "source_class": ref.source_class,
            "class_label": CLASS_LABELS.get(ref.source_class or "", None)}


def development_view(d: Development, deliveries: Sequence[Row] = (),
                     feedback: dict[str, int] | None = None,
                     catalog: Catalog | None = None) -> dict[str, Any]:
    p = provenance(d.sources)
    alerted = [{"receiver": r[0], "channel": r[1], "status": r[2], "at": iso(r[3]),
                "error": r[4]} for r in deliveries]
    return {
        "development_id": d.development_id, "issue_id": d.issue_id, "story_id": d.story_id,
        "kind": d.kind, "headline": d.headline, "severity": d.severity.name.lower(),
        "severity_level": int(d.severity), "action": d.action,
        "parties": [{"id": x, "name": catalog.party(x) if catalog else x} for x in d.parties],
        "first_seen": d.first_seen.isoformat(), "detected_at": d.detected_at.isoformat(),
        "baseline": d.baseline, "evidence": list(d.evidence),
        "sources": [source_view(s) for s in d.sources],
        "provenance": {"independent_outlets": p.independent_outlets,
                       "state_media_outlets": p.state_media_outlets,
                       "official_sources": list(p.official_sources),
                       "officially_confirmed": p.officially_confirmed,
                       "summary": p.describe()},
        "alerted": any(a["status"] == "sent" for a in alerted),
        "deliveries": alerted,
        "feedback": {v: (feedback or {}).get(v, 0) for v in ("useful", "not_new", "wrong_issue")},
        "item_ids": list(d.item_ids),
    }


def development_views(store: RecordStore, rows: Sequence[Row],
                      catalog: Catalog | None = None) -> list[dict[str, Any]]:
    """Views of (seq, id, first_seen, data) rows, with deliveries and feedback in two queries."""
    devs = [Development.model_validate_json(r[3]) for r in rows]
    ids = [d.development_id for d in devs]
    deliveries = store.deliveries_of(ids)
    feedback = store.feedback_counts(ids)
    return [development_view(d, deliveries.get(d.development_id, ()),
                             feedback.get(d.development_id), catalog) for d in devs]


def state_of_play(developments: Sequence[Development], catalog: Catalog) -> list[dict[str, Any]]:
    """Per action (signed, agreed, rejected, proposed): who took it, when last, on what.

    A development names no party when its report named none: it is listed as "unattributed".
    """
    out: list[dict[str, Any]] = []
    for action in STATE_ACTIONS:
        by_party: dict[str, dict[str, str | None]] = {}
        for d in developments:
            if d.action != action or (d.baseline and not d.parties):
                continue
            for party in d.parties or ("",):
                entry: dict[str, str | None] = {"party": party or None,
                         "name": catalog.party(party) if party else "unattributed",
                         "last_seen": d.first_seen.isoformat(), "headline": d.headline,
                         "development_id": d.development_id}
                by_party[party] = entry  # oldest first: the latest stays
        if by_party:
            out.append({"action": action, "parties": sorted(
                by_party.values(), key=lambda e: e["last_seen"] or "", reverse=True)})
    return out


def item_view(row: Row, issues: Sequence[Row] = ()) -> dict[str, Any]:
    (_, item_id, source, source_kind, source_class, url, _canonical, title, summary, content,
     language, published_at, fetched_at, at, _hash, revision, baseline, kind,
     duplicate_of) = row
    return {
        "item_id": item_id, "source": source, "source_kind": source_kind,
        "source_class": source_class, "class_label": CLASS_LABELS.get(source_class or "", None),
        "url": url, "title": title, "summary": summary[:2000],
        "language": language, "published_at": iso(published_at), "fetched_at": iso(fetched_at),
        "at": iso(at), "revision": revision, "baseline": bool(baseline), "kind": kind,
        "duplicate_of": duplicate_of,
        "issues": [{"issue_id": i[0], "score": i[1], "evidence": json.loads(i[2])}
                   for i in issues],
        "has_content": bool(content),
    }


def story_view(row: Row) -> dict[str, Any]:
    story_id, issue_id, headline, first_seen, last_seen, severity, developments = row
    return {"story_id": story_id, "issue_id": issue_id, "headline": headline,
            "first_seen": iso(first_seen), "last_seen": iso(last_seen),
            "severity": Severity(int(severity)).name.lower(), "developments": int(developments)}


def feedback_view(row: Row) -> dict[str, Any]:
    seq, development_id, issue_id, verdict, note, via, at = row
    return {"feedback_id": int(seq), "development_id": development_id, "issue_id": issue_id,
            "verdict": verdict, "note": note, "via": via, "at": iso(at)}
