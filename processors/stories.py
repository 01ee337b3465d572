"""Stories and developments: the pure decisions of the second processing step.

Within one issue, reports of one matter form a *story*: other outlets' reports of the same
event, the next day's, and the matter's later turns (a proposal, then its acceptance). A story
is recognised by what it is about, not by a count of shared words: each report is a vector of
its words (folded across languages, weighted by how rare they are) and of the entities it names
(``processors.entities``: the actors, places and things, in any language), and it joins the live
story whose recent reports it resembles most, if enough. Live means seen within the window.

``StoryClusterer.place`` puts one report into a story and says which developments that makes.
A development is something an analyst did not already know:

- ``new_story``: the first *report* of a story. A background item (analysis, explainer,
  feature, recap) joins or opens a story but never makes a development;
- ``change``: a later report that tells something the story has not: a stronger action than it
  has seen (proposed -> agreed -> signed, or a rejection), a party taking a position it has not
  taken, or a new turn (it resembles none of the reports that made the story's developments,
  and comes an hour or more after the latest of them: other outlets' first accounts of a
  development, in other words, come within the hour).

Copies, other outlets' reports of the same event and later restatements join silently.

A development's id is a hash of (issue, story, kind, key), so the same decision taken twice
(a redelivered item, a restarted processor) yields the same id, and the state refuses to emit an
id twice. A development that only restates the baseline (a baseline item, or a known state of
``seeds/baseline.toml`` in force when the item was published) is marked ``baseline=True``.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from peacewatch.models import (
    Development,
    ItemKind,
    Severity,
    SourceClass,
    SourceRef,
    stable_hash,
)
from processors.actions import Action
from processors.baseline import BaselineMatcher
from processors.text import wordlist, words

# Words that say nothing about which story an item belongs to, in the languages read.
STORY_STOPWORDS = wordlist("""
the of and to in a an is are was were be been has have had it its this that these those for on
with as by at from or but not no will would could should can may might must said says say
after over into about than then there their they them he she his her who which what when where
how why new news live latest update updates video watch analysis amid also just more most one
two three first last week day days year years time told report reports
i w z na się nie do że to jest o od po przez dla jak ale czy jego już tak oraz ze we są był była
może przed także który która które sobie jest być będzie roku tym tego
der die das und ist nicht von zu den mit sich des auf für im dem ein eine einen als auch es an
wird bei nach aus wie hat sind vor zur zum über
""")
# Words every story of the war shares (their folded beginnings, in the languages read): they
# say nothing about which story an item is. The model's rarity weights say so too; these hold
# when there is no model.
WAR_PREFIXES = (
    "ukrain", "russia", "russis", "russl", "rosj", "rosyj", "kyiv", "kiev", "kijow", "kiew",
    "moscow", "moskw", "moskau", "kreml", "putin", "zelens", "selens", "wojn", "krieg",
    "invasi", "inwazj", "украін", "украин", "росі", "росс", "москв", "кремл", "путін", "путин",
    "зеленс", "війн", "войн",
)
WAR_WORDS = frozenset({"war", "wars"})
STEM = 6
MAX_ITEM_TERMS = 40  # weights kept per story report (the heaviest)
RECENT = 12  # reports a story keeps to compare new ones with
MAX_ITEM_IDS = 50
MAX_SOURCES = 25
_FOLD = str.maketrans({"ł": "l", "Ł": "L", "ß": "ss", "ı": "i"})


def _plain(word: str) -> str:
    """A word without diacritics, so that "Zełenski" and "Zelensky" share a stem."""
    decomposed = unicodedata.normalize("NFKD", word.translate(_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def story_stems(text: str) -> list[str]:
    """The stems a story is recognised by: words folded and cut to six letters, no stop
    words, no numbers, none that every story of the war shares."""
    stems = (_plain(w)[:STEM] for w in words(text)
             if len(w) > 2 and w not in STORY_STOPWORDS and w not in WAR_WORDS
             and not w.isdigit())
    return [s for s in stems if not s.startswith(WAR_PREFIXES)]


def story_vector(title: str, body: str, entities: Iterable[str],
                 idf: Mapping[str, float], *, entity_weight: float = 3.0,
                 default_idf: float = 4.0) -> dict[str, float]:
    """A unit vector over the report's stems (the title counting twice) and its entities,
    each weighted by its rarity (``idf``; unseen terms count as rare)."""
    counts: dict[str, float] = {}
    for stem in story_stems(title) * 2 + story_stems(body)[:80]:
        counts[stem] = counts.get(stem, 0.0) + 1.0
    vector = {t: n * idf.get(t, default_idf) for t, n in counts.items()}
    for entity in entities:
        key = "e:" + entity
        vector[key] = entity_weight * idf.get(key, default_idf)
    heaviest = sorted(vector.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_ITEM_TERMS]
    norm = math.sqrt(sum(w * w for _, w in heaviest)) or 1.0
    return {t: round(w / norm, 4) for t, w in heaviest}


def similarity(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b.get(t, 0.0) for t, w in a.items())


def entity_similarity(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """What two vectors' entities alone share, counted twice: words do not compare across
    languages, the actors, places and things they name do (and the rare ones weigh most)."""
    return 2.0 * sum(w * b.get(t, 0.0) for t, w in a.items() if t.startswith("e:"))


def resemblance(vector: Mapping[str, float], language: str | None, seen: Seen) -> float:
    """How alike a report and a kept one are: by words and entities in one language, by
    entities alone across two."""
    if language and seen.language and language != seen.language:
        return entity_similarity(vector, seen.vector)
    return similarity(vector, seen.vector)


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
    vector: Mapping[str, float]
    entities: frozenset[str] = frozenset()
    kind: ItemKind = "report"
    language: str | None = None
    baseline: bool = False
    source_class: SourceClass | None = None

    def source_ref(self) -> SourceRef:
        return SourceRef(source=self.source, url=self.url, title=self.headline,
                         source_class=self.source_class)


@dataclass(frozen=True, slots=True)
class Seen:
    """What a story keeps of one recent report, to compare later ones with."""

    item_id: str
    at: datetime
    source: str
    vector: Mapping[str, float]
    language: str | None = None


@dataclass
class Story:
    """One story of one issue, as kept in the state."""

    story_id: str
    issue_id: str
    headline: str
    first_seen: datetime
    last_seen: datetime
    recent: list[Seen] = field(default_factory=list)
    item_ids: list[str] = field(default_factory=list)
    sources: list[SourceRef] = field(default_factory=list)
    severity: Severity = Severity.MENTIONED
    actions: list[str] = field(default_factory=list)
    parties: list[str] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)
    baseline: bool = False
    # The reports that made the story's developments: a later report like none of them tells
    # something new.
    told: list[Seen] = field(default_factory=list)

    @property
    def developed(self) -> bool:
        """Whether a report (not only background) has made a development of this story."""
        return bool(self.told)

    def absorb(self, report: Report) -> None:
        """Add a report's item, source, time and entities (the caller decides developments)."""
        self.recent = [*self.recent, _seen(report)][-RECENT:]
        if report.item_id not in self.item_ids:
            self.item_ids = [*self.item_ids, report.item_id][-MAX_ITEM_IDS:]
        if not any(s.source == report.source and s.url == report.url for s in self.sources):
            ref = report.source_ref()
            self.sources = [*self.sources, ref][:MAX_SOURCES]
        self.entities = sorted(set(self.entities) | report.entities)
        self.last_seen = max(self.last_seen, report.at)
        self.first_seen = min(self.first_seen, report.at)

    def resemblance(self, report: Report) -> float:
        """How closely a report resembles the story's closest recent report."""
        return max((resemblance(report.vector, report.language, s) for s in self.recent),
                   default=0.0)

    def novelty(self, report: Report) -> float:
        """1 - how closely a report resembles the closest report that made a development."""
        return 1.0 - max((resemblance(report.vector, report.language, s) for s in self.told),
                         default=0.0)

    @property
    def last_told(self) -> datetime:
        """When the latest report that made a development was published."""
        return max((s.at for s in self.told), default=self.first_seen)

    def tell(self, report: Report) -> None:
        """Remember a report that made a development."""
        self.told = [*self.told, _seen(report)][-RECENT:]


def _seen(report: Report) -> Seen:
    return Seen(report.item_id, report.at, report.source, dict(report.vector), report.language)


@dataclass(frozen=True, slots=True)
class Placement:
    story: Story
    new_story: bool
    developments: tuple[Development, ...]


@dataclass(frozen=True, slots=True)
class StoryRules:
    # A story is live while it has news within this window.
    window: timedelta = timedelta(hours=72)
    # A report joins the live story it resembles most if at least this much.
    join_threshold: float = 0.15
    # A later report is a new turn of its story when it resembles none of the reports that
    # made the story's developments more than this.
    novelty_threshold: float = 0.2
    # ... and when it comes at least this long after the story's latest development: other
    # outlets' first accounts of a development, told in other words, follow it within the hour.
    turn_quiet: timedelta = timedelta(hours=1)


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
        best: tuple[float, str] | None = None
        chosen = None
        for story in self.live(stories, report.at):
            score = story.resemblance(report)
            if score < self.rules.join_threshold:
                continue
            key = (score, story.story_id)
            if best is None or key > best:
                best, chosen = key, story
        return chosen

    def place(self, report: Report, stories: Sequence[Story], *, copy_of: Story | None = None,
              now: datetime) -> Placement:
        """Put ``report`` in a story (``copy_of``'s, the best live one, or a new one)."""
        story = copy_of if copy_of is not None else self.best_story(report, stories)
        if story is None:
            return self._new_story(report, now)
        story = replace(story, recent=list(story.recent), item_ids=list(story.item_ids),
                        sources=list(story.sources), actions=list(story.actions),
                        parties=list(story.parties), entities=list(story.entities),
                        told=list(story.told))
        developments: tuple[Development, ...] = ()
        if report.kind == "report" and not story.developed:
            # The first report of a story only background had opened (a copy or not).
            developments = self._first(report, story, now)
        elif report.kind == "report" and copy_of is None:
            developments = self._changes(report, story, now)
        if developments:
            story.tell(report)
        story.absorb(report)
        action = report.action
        if report.kind == "report":
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
        background = report.kind == "background"
        story = Story(story_id=story_id, issue_id=report.issue_id, headline=report.headline,
                      first_seen=report.at, last_seen=report.at,
                      severity=Severity.MENTIONED if background else report.action.severity,
                      actions=[] if background else [report.action.name],
                      parties=[] if background else sorted(report.action.parties),
                      baseline=self._is_baseline(report))
        story.absorb(report)
        if background:
            return Placement(story, True, ())
        story.tell(report)
        development = self._development(report, story, kind="new_story",
                                        key=report.action.name, now=now)
        return Placement(story, True, (development,))

    def _first(self, report: Report, story: Story, now: datetime) -> tuple[Development, ...]:
        """The first report of a story that only background items had opened."""
        story.headline = report.headline
        story.baseline = self._is_baseline(report)
        return (self._development(report, story, kind="new_story", key=report.action.name,
                                  now=now),)

    def _changes(self, report: Report, story: Story, now: datetime) -> tuple[Development, ...]:
        action = report.action
        if action.severity >= Severity.PROPOSED and action.severity > story.severity:
            return (self._development(report, story, kind="change", key=action.name, now=now),)
        if action.severity >= Severity.PROPOSED:
            new_parties = sorted(p for p in action.parties if p not in story.parties)
            if new_parties:
                party = new_parties[0]
                return (self._development(report, story, kind="change",
                                          key=f"{action.name}:{party}", now=now, party=party),)
        if (story.novelty(report) > 1.0 - self.rules.novelty_threshold
                and report.at - story.last_told >= self.rules.turn_quiet):
            return (self._development(report, story, kind="change",
                                      key="turn:" + report.item_id, now=now),)
        return ()

    def _is_baseline(self, report: Report) -> bool:
        if report.baseline:
            return True
        known = self.baseline.known_state(report.issue_id, report.text, report.action.severity,
                                          at=report.at)
        return known is not None

    def _development(self, report: Report, story: Story, *, kind: str, key: str,
                     now: datetime, party: str | None = None) -> Development:
        action = report.action.name
        sources = list(story.sources)
        ref = report.source_ref()
        if not any(s.source == ref.source and s.url == ref.url for s in sources):
            sources.append(ref)
        headline = report.headline
        if party is not None:
            headline = f"{self.party_names.get(party, party)} {action}: {report.headline}"
        evidence = report.evidence
        if report.action.sentence and report.action.sentence not in evidence:
            evidence = (report.action.sentence, *evidence)
        item_ids = [i for i in story.item_ids if i != report.item_id]
        item_ids.append(report.item_id)  # the last is the item that made the development
        return Development(
            development_id=stable_hash(report.issue_id, story.story_id, kind, key),
            issue_id=report.issue_id,
            story_id=story.story_id,
            kind="new_story" if kind == "new_story" else "change",
            headline=headline[:300],
            severity=report.action.severity,
            action=action,
            first_seen=report.at,
            detected_at=now,
            sources=tuple(sources[:MAX_SOURCES]),
            evidence=evidence[:4],
            item_ids=tuple(item_ids[-MAX_ITEM_IDS:]),
            item_fetched_at=report.fetched_at,
            baseline=self._is_baseline(report),
            parties=tuple(sorted(report.action.parties)),
        )
