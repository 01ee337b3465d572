"""Stories and developments: the pure decisions of the second processing step.

Within one issue, items about the same event form a *story* while they keep coming within a
sliding window. ``StoryClusterer.place`` puts one report (an item as it concerns one issue) into
a story -- the story of the item it copies, the most similar live story, or a new one -- and
says which developments that makes:

- ``new_story``: the first report of a story;
- ``change``: a later report with a stronger action than the story has seen (the first report
  that something was proposed, rejected, agreed or signed), or a party taking a position
  (proposed or stronger) that the story has not heard from yet.

A development's id is a hash of (issue, story, kind, action[, party]), so the same decision
taken twice -- a redelivered item, a restarted processor -- yields the same id, and the state
refuses to emit an id twice. Developments restating the baseline (a baseline item, or a known
state of ``seeds/baseline.toml`` with no stronger action) are marked ``baseline=True``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from peacewatch.models import Development, Severity, SourceRef, stable_hash
from processors.actions import Action
from processors.baseline import BaselineMatcher
from processors.text import content_words, wordlist

# Words every story of the war shares; they say nothing about which story an item belongs to.
STORY_STOPWORDS = wordlist("""
ukraine ukrainian ukrainians russia russian russians war invasion conflict kyiv kiev moscow
kremlin putin zelensky zelenskiy zelenskyy president country countrie government official
people world west western europe european state united us u.s. uk nation new year
""")
STORY_TERMS = 60  # terms kept per story (the most frequent)
MAX_ITEM_IDS = 50
MAX_SOURCES = 25


_SUFFIXES = ("ing", "ed", "es", "e")


def _stem(word: str) -> str:
    """A light stemmer: "proposes", "proposed", "proposing" and "propose" become one term."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def story_terms(title: str, body: str) -> frozenset[str]:
    """The words that identify what an item is about: title and the start of the body."""
    words = content_words(title) + content_words(body)[:60]
    return frozenset(_stem(w) for w in words if w not in STORY_STOPWORDS and not w.isdigit())


def overlap(a: AbstractSet[str], b: AbstractSet[str]) -> tuple[float, int]:
    """Overlap coefficient |a & b| / min(|a|, |b|), and the number of shared terms."""
    if not a or not b:
        return 0.0, 0
    shared = len(a & b)
    return shared / min(len(a), len(b)), shared


def enough_shared(shared: int, a: AbstractSet[str], b: AbstractSet[str], min_shared: int,
                  ) -> bool:
    """``min_shared`` terms in common -- fewer for headlines of only a few terms (but two)."""
    return shared >= min(min_shared, max(2, min(len(a), len(b)) // 2 + 1))


def same_story(a: frozenset[str], b: frozenset[str], threshold: float = 0.4,
               min_shared: int = 3) -> bool:
    score, shared = overlap(a, b)
    return score >= threshold and enough_shared(shared, a, b, min_shared)


@dataclass
class Story:
    """One story of one issue, as kept in the state."""

    story_id: str
    issue_id: str
    headline: str
    first_seen: datetime
    last_seen: datetime
    terms: dict[str, int] = field(default_factory=dict)
    item_ids: list[str] = field(default_factory=list)
    sources: list[SourceRef] = field(default_factory=list)
    severity: Severity = Severity.MENTIONED
    actions: list[str] = field(default_factory=list)
    parties: list[str] = field(default_factory=list)
    baseline: bool = False

    def term_set(self) -> AbstractSet[str]:
        return self.terms.keys()  # a live view: no copy per comparison

    def absorb(self, report: Report) -> None:
        """Add a report's terms, source, item and time (the caller decides developments)."""
        for term in report.terms:
            self.terms[term] = self.terms.get(term, 0) + 1
        if len(self.terms) > STORY_TERMS:
            keep = sorted(self.terms, key=lambda t: (-self.terms[t], t))[:STORY_TERMS]
            self.terms = {t: self.terms[t] for t in keep}
        if report.item_id not in self.item_ids:
            self.item_ids = [*self.item_ids, report.item_id][-MAX_ITEM_IDS:]
        if not any(s.source == report.source and s.url == report.url for s in self.sources):
            ref = SourceRef(source=report.source, url=report.url, title=report.headline)
            self.sources = [*self.sources, ref][:MAX_SOURCES]
        self.last_seen = max(self.last_seen, report.at)
        self.first_seen = min(self.first_seen, report.at)


@dataclass(frozen=True, slots=True)
class Report:
    """An item as it concerns one issue: what the clusterer needs to place it."""

    item_id: str
    issue_id: str
    headline: str
    text: str  # title and body, for the baseline matcher
    source: str
    url: str | None
    at: datetime  # published (or fetched) time
    fetched_at: datetime | None
    evidence: tuple[str, ...]
    action: Action
    terms: frozenset[str]
    baseline: bool = False


@dataclass(frozen=True, slots=True)
class Placement:
    story: Story
    new_story: bool
    developments: tuple[Development, ...]


@dataclass(frozen=True, slots=True)
class StoryRules:
    window: timedelta = timedelta(hours=72)
    join_threshold: float = 0.4
    min_shared: int = 3


class StoryClusterer:
    """Places reports into stories and decides developments; pure (no I/O, no clock)."""

    def __init__(self, rules: StoryRules, baseline: BaselineMatcher,
                 party_names: Mapping[str, str] | None = None) -> None:
        self.rules = rules
        self.baseline = baseline
        self.party_names = dict(party_names or {})

    def live(self, stories: Sequence[Story], at: datetime) -> list[Story]:
        """The stories still open at ``at``: seen within the window before (or after) it."""
        start = at - self.rules.window
        end = at + self.rules.window
        return [s for s in stories if s.last_seen >= start and s.first_seen <= end]

    def best_story(self, report: Report, stories: Sequence[Story]) -> Story | None:
        best: tuple[float, int, str] | None = None
        chosen = None
        for story in self.live(stories, report.at):
            terms = story.term_set()
            score, shared = overlap(report.terms, terms)
            if score < self.rules.join_threshold or not enough_shared(
                    shared, report.terms, terms, self.rules.min_shared):
                continue
            key = (score, shared, story.story_id)
            if best is None or key > best:
                best, chosen = key, story
        return chosen

    def place(self, report: Report, stories: Sequence[Story], *, copy_of: Story | None = None,
              now: datetime) -> Placement:
        """Put ``report`` in a story (``copy_of``'s, the best live one, or a new one)."""
        story = copy_of if copy_of is not None else self.best_story(report, stories)
        if story is None:
            return self._new_story(report, now)
        story = replace(story, terms=dict(story.terms), item_ids=list(story.item_ids),
                        sources=list(story.sources), actions=list(story.actions),
                        parties=list(story.parties))
        developments = self._changes(report, story, now)
        story.absorb(report)
        action = report.action
        story.severity = max(story.severity, action.severity)
        if action.name not in story.actions:
            story.actions.append(action.name)
        for party in sorted(action.parties):
            if party not in story.parties:
                story.parties.append(party)
        return Placement(story, False, developments)

    # -- internals -----------------------------------------------------------------------------

    def _new_story(self, report: Report, now: datetime) -> Placement:
        story_id = stable_hash(report.issue_id, report.item_id)
        story = Story(story_id=story_id, issue_id=report.issue_id, headline=report.headline,
                      first_seen=report.at, last_seen=report.at,
                      severity=report.action.severity, actions=[report.action.name],
                      parties=sorted(report.action.parties),
                      baseline=self._is_baseline(report))
        story.absorb(report)
        development = self._development(report, story, kind="new_story",
                                        key=report.action.name, now=now)
        return Placement(story, True, (development,))

    def _changes(self, report: Report, story: Story, now: datetime) -> tuple[Development, ...]:
        action = report.action
        if action.severity < Severity.PROPOSED:
            return ()
        if action.severity > story.severity:
            return (self._development(report, story, kind="change", key=action.name, now=now),)
        new_parties = sorted(p for p in action.parties if p not in story.parties)
        if new_parties:
            party = new_parties[0]
            return (self._development(report, story, kind="change",
                                      key=f"{action.name}:{party}", now=now, party=party),)
        return ()

    def _is_baseline(self, report: Report) -> bool:
        if report.baseline:
            return True
        known = self.baseline.known_state(report.issue_id, report.text, report.action.severity)
        return known is not None

    def _development(self, report: Report, story: Story, *, kind: str, key: str,
                     now: datetime, party: str | None = None) -> Development:
        action = report.action.name
        sources = list(story.sources)
        ref = SourceRef(source=report.source, url=report.url, title=report.headline)
        if not any(s.source == ref.source and s.url == ref.url for s in sources):
            sources.append(ref)
        headline = report.headline
        if party is not None:
            headline = f"{self.party_names.get(party, party)} {action}: {report.headline}"
        evidence = report.evidence
        if report.action.sentence and report.action.sentence not in evidence:
            evidence = (report.action.sentence, *evidence)
        item_ids = list(story.item_ids)
        if report.item_id not in item_ids:
            item_ids.append(report.item_id)
        return Development(
            development_id=stable_hash(report.issue_id, story.story_id, kind, key),
            issue_id=report.issue_id,
            story_id=story.story_id,
            kind="new_story" if kind == "new_story" else "change",
            headline=headline[:300],
            severity=report.action.severity,
            action=action,
            first_seen=report.at if kind == "change" else story.first_seen,
            detected_at=now,
            sources=tuple(sources[:MAX_SOURCES]),
            evidence=evidence[:4],
            item_ids=tuple(item_ids[-MAX_ITEM_IDS:]),
            item_fetched_at=report.fetched_at,
            baseline=self._is_baseline(report),
        )
