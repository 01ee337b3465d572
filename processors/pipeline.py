"""Pure per-item steps shared by the stage and the batch tools.

``normalise`` turns a raw item into the text the classifier and the deduplicator read;
``classify_item`` makes the ``ClassifiedItem``; ``fan_out`` makes one copy per matched issue
(the classified topic is keyed by an item's first issue, so each copy reaches the processor
that owns that issue's stories); ``report_for`` turns a classified item into the ``Report``
the story clusterer places.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from peacewatch.models import ClassifiedItem, IssueMatch, RawItem
from processors.actions import ActionDetector
from processors.classify import IssueClassifier
from processors.stories import Report, story_terms
from processors.text import canonical_title, collapse, content_hash, detect_language, html_to_text


@dataclass(frozen=True, slots=True)
class Normalised:
    title: str  # plain text
    canonical_title: str
    summary: str  # plain text, line breaks at block ends
    content: str
    language: str | None
    content_hash: str

    @property
    def body(self) -> str:
        """The fuller of summary and content."""
        return self.content if len(self.content) > len(self.summary) else self.summary


def normalise(item: RawItem) -> Normalised:
    title = collapse(html_to_text(item.title))
    summary = html_to_text(item.summary)
    content = html_to_text(item.content) if item.content else ""
    language = item.language or detect_language(f"{title}\n{summary}\n{content[:2000]}")
    if language:
        language = language.split("-", 1)[0].lower()
    return Normalised(
        title=title,
        canonical_title=canonical_title(title),
        summary=summary,
        content=content,
        language=language,
        content_hash=content_hash(title, content or summary),
    )


def classify_item(item: RawItem, text: Normalised, classifier: IssueClassifier, *,
                  now: datetime, duplicate_of: str | None = None) -> ClassifiedItem:
    issues = classifier.classify(text.title, text.summary, text.content)
    return ClassifiedItem(
        item=item,
        canonical_title=text.canonical_title,
        language=text.language,
        issues=issues,
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


def report_for(classified: ClassifiedItem, match: IssueMatch,
               detector: ActionDetector) -> Report:
    item = classified.item
    body = html_to_text(item.content or item.summary)
    title = classified.canonical_title
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
        action=detector.detect(match.evidence),
        terms=story_terms(title, body),
        baseline=item.baseline,
    )
