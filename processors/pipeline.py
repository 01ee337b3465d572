"""Pure per-item steps of the processors stage.

- ``normalise`` turns a raw item into the text the classifier and the deduplicator read;
- ``classified_item`` makes the ``ClassifiedItem`` of a classification; its canonical title
  and language are worked out only then, since most items match nothing and are not published;
- ``fan_out`` makes one copy per matched issue (the classified topic is keyed by an item's
  first issue, so each copy reaches the processor that owns that issue's stories);
- ``report_for`` turns a classified item into the ``Report`` the story clusterer places.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from peacewatch.identity import canonical_url, exact_keys
from peacewatch.models import ClassifiedItem, IssueMatch, RawItem
from processors.actions import ActionDetector
from processors.classify import Judgement
from processors.entities import Entities
from processors.stories import Report, story_vector
from processors.text import (
    canonical_title,
    collapse,
    detect_language,
    html_to_text,
    split_sentences,
)


@dataclass(frozen=True, slots=True)
class Normalised:
    title: str  # plain text
    summary: str  # plain text, paragraphs kept
    content: str


def normalise(item: RawItem) -> Normalised:
    """The item's text as plain text (collectors send text; other producers may send markup)."""
    return normalise_text(item.title, item.summary, item.content)


def normalise_text(title: str, summary: str, content: str | None) -> Normalised:
    """Title, summary and content as plain text: what the classifier reads."""
    return Normalised(title=collapse(html_to_text(title)), summary=html_to_text(summary),
                      content=html_to_text(content) if content else "")


def copy_keys(item: RawItem) -> list[str]:
    """The item's exact-copy keys, from the canonical URL and content hash it carries (an item
    from an older collector carries no canonical URL: the one definition makes it)."""
    return exact_keys(item.canonical_url or canonical_url(item.url), item.content_hash)


def language_of(item: RawItem, text: Normalised) -> str | None:
    """The feed's language tag (primary subtag), else the one the text shows."""
    language = item.language or detect_language(
        f"{text.title}\n{text.summary}\n{text.content[:2000]}")
    return language.split("-", 1)[0].lower() if language else None


def classified_item(item: RawItem, text: Normalised, judgement: Judgement, *,
                    now: datetime, duplicate_of: str | None = None) -> ClassifiedItem:
    return ClassifiedItem(
        item=item,
        canonical_title=canonical_title(text.title),
        language=language_of(item, text),
        issues=judgement.issues,
        kind=judgement.kind,
        duplicate_of=duplicate_of,
        classified_at=now,
    )


def fan_out(classified: ClassifiedItem) -> list[ClassifiedItem]:
    """One message per matched issue, that issue first; an unmatched item once (key "none")."""
    if len(classified.issues) <= 1:
        return [classified]
    out = []
    for match in classified.issues:
        rest = tuple(m for m in classified.issues if m is not match)
        out.append(classified.model_copy(update={"issues": (match, *rest)}))
    return out


def report_for(classified: ClassifiedItem, match: IssueMatch, detector: ActionDetector,
               entities: Entities, idf: Mapping[str, float]) -> Report:
    item = classified.item
    body = html_to_text(item.content or item.summary)
    title = classified.canonical_title
    named = entities.found_in(f"{title}\n{body[:2000]}")
    return Report(
        item_id=item.item_id,
        issue_id=match.issue_id,
        headline=title,
        text=f"{title}\n{body[:4000]}",
        source=item.source,
        url=item.url,
        at=item.published_at or item.fetched_at,
        fetched_at=item.fetched_at,
        evidence=match.evidence,
        # What the item reports is in its title and lead; later sentences often recall the past
        # ("the grain deal Russia signed in July") and must not make the item a signing.
        action=detector.detect([title, *split_sentences(body)[:1]]),
        vector=story_vector(title, body, named, idf),
        entities=named,
        kind=classified.kind,
        language=classified.language,
        baseline=item.baseline,
        source_class=item.source_class,
    )
