"""Silences: mute an issue, a source or a keyword for a while. Pure matching over models."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from peacewatch.models import Development
from peacewatch.settings.alerts import Silence


@dataclass(frozen=True, slots=True)
class ActiveSilence:
    """A silence from settings (id ``settings-N``) or from ``peacewatch silence add``."""

    silence_id: str
    issue: str | None = None
    source: str | None = None
    keyword: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    comment: str = ""

    def active(self, now: datetime) -> bool:
        if self.starts_at is not None and now < self.starts_at:
            return False
        return self.ends_at is None or now < self.ends_at

    def matches(self, dev: Development) -> bool:
        """Every matcher given must match (issue AND source AND keyword)."""
        if self.issue is not None and dev.issue_id != self.issue:
            return False
        if self.source is not None:
            wanted = self.source.casefold()
            if not any(ref.source.casefold() == wanted for ref in dev.sources):
                return False
        if self.keyword is not None:
            text = " ".join((dev.headline, *dev.evidence)).casefold()
            if self.keyword.casefold() not in text:
                return False
        return True

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in
                 (("issue", self.issue), ("source", self.source), ("keyword", self.keyword))
                 if v is not None]
        return " ".join(parts)


def from_settings(silences: Iterable[Silence]) -> list[ActiveSilence]:
    return [
        ActiveSilence(f"settings-{i}", s.issue, s.source, s.keyword, s.starts_at, s.ends_at,
                      s.comment)
        for i, s in enumerate(silences, 1)
    ]


class SilenceMatcher:
    def __init__(self, silences: Iterable[ActiveSilence]) -> None:
        self.silences = list(silences)

    def match(self, dev: Development, now: datetime) -> ActiveSilence | None:
        for silence in self.silences:
            if silence.active(now) and silence.matches(dev):
                return silence
        return None
