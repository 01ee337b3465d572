"""Feedback as labelled data: ``peacewatch feedback export`` writes the items that made the
developments analysts judged, in the labelled corpus's format (``eval/corpus/``, read by
``processors.train.read_labelled``):

    {"id", "title", "summary", "language", "split", "labels", "kind"}

The item keeps the issues it was classified with, corrected by the latest verdict on each of
its developments: *wrong issue* takes that issue away, *useful* confirms it (kind ``report``),
*not new* confirms the issue but says the item told nothing new (kind ``background``). The split
is drawn from a hash of the id, as for the corpus's written items (60 / 15 / 25).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from desk.store.record import RecordStore


def split_of(item_id: str) -> str:
    bucket = int(hashlib.sha256(item_id.encode("utf-8")).hexdigest(), 16) % 100
    return "test" if bucket < 25 else "dev" if bucket < 40 else "train"


def labelled_items(store: RecordStore) -> Iterator[dict[str, Any]]:
    """One labelled item per item that made a development with feedback."""
    verdicts: dict[str, dict[str, str]] = {}  # item -> issue -> verdict
    for development_id, issue, verdict in store.latest_verdicts():
        development = store.development(development_id)
        if development is None or not development.item_ids:
            continue  # past the record's retention
        trigger = development.item_ids[-1]
        verdicts.setdefault(trigger, {})[issue] = verdict
    rows = store.items_by_id(verdicts)
    issues = store.item_issues(list(rows))
    for item_id in sorted(rows):
        row = rows[item_id]
        judged = verdicts[item_id]
        labels = {r[0] for r in issues.get(item_id, ())} | {
            i for i, v in judged.items() if v != "wrong_issue"}
        labels -= {i for i, v in judged.items() if v == "wrong_issue"}
        kind = None
        if labels:
            useful = any(v == "useful" for v in judged.values())
            kind = "report" if useful or not judged else "background"
            if all(v == "wrong_issue" for v in judged.values()):
                kind = row[17]  # as classified: the feedback said nothing of its kind
        yield {"id": item_id, "title": row[7], "summary": row[8], "language": row[10],
               "split": split_of(item_id), "labels": sorted(labels), "kind": kind,
               "source": row[2]}


def export_lines(store: RecordStore) -> Iterator[str]:
    for item in labelled_items(store):
        yield json.dumps(item, ensure_ascii=False)
