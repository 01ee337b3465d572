"""The processors' judgement of items already read, for ``peacewatch replay`` (see
``peacewatch.trial``): classify with a given watchlist, place in stories, collect developments.

The same pure steps as the stages (``normalise``, the classifier, ``report_for``, the story
clusterer), in memory and on item time. Copies are recognised by their exact keys (URL, content
hash); the near-duplicate index of the live stage is not rebuilt, so a near copy may start a
story of its own here: both sides of a comparison are made the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from peacewatch.models import Development, RawItem
from peacewatch.settings import Settings
from processors.pipeline import classified_item, copy_keys, fan_out, normalise, report_for
from processors.stage import StoryDecisions, issue_classifier
from processors.stories import Story


def developments(settings: Settings, watchlist: Path,
                 items: Sequence[RawItem]) -> list[Development]:
    settings = settings.model_copy(update={"processors": settings.processors.model_copy(
        update={"watchlist": watchlist})})
    classifier = issue_classifier(settings, watchlist)
    decisions = StoryDecisions.from_settings(settings)
    window = timedelta(hours=settings.processors.stories.window_hours)
    stories: dict[str, dict[str, Story]] = {}
    owner_of: dict[str, str] = {}
    # (issue, item) -> story id, so that a copy joins its original's story.
    placed: dict[tuple[str, str], str] = {}
    out: list[Development] = []
    for item in sorted(items, key=lambda i: (i.published_at or i.fetched_at, i.item_id)):
        text = normalise(item)
        keys = copy_keys(item)
        original = next((owner_of[k] for k in keys if k in owner_of), None)
        for key in keys:
            owner_of.setdefault(key, item.item_id)
        judgement = classifier.judge(text.title, text.summary, text.content)
        if not judgement.issues:
            continue
        at = item.published_at or item.fetched_at
        classified = classified_item(item, text, judgement, now=at,
                                     duplicate_of=original if original != item.item_id else None)
        for message in fan_out(classified):
            match = message.issues[0]
            issue = stories.setdefault(match.issue_id, {})
            report = report_for(message, match, decisions.detector, decisions.entities,
                                decisions.idf)
            copy_id = placed.get((match.issue_id, message.duplicate_of or ""))
            live = [s for s in issue.values() if s.last_seen >= at - window]
            placement = decisions.clusterer.place(
                report, live, copy_of=issue.get(copy_id) if copy_id else None, now=at)
            issue[placement.story.story_id] = placement.story
            placed[(match.issue_id, item.item_id)] = placement.story.story_id
            out.extend(placement.developments)
    return out
