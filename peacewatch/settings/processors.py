"""Settings of the processors stage: watchlist, state, deduplication and story rules."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from peacewatch.settings.base import Section


class NearDupSettings(Section):
    """When two items are copies of one report (thresholds measured in eval/neardup/)."""

    enabled: bool = True
    # Body word-pair Jaccard (MinHash estimate) that alone makes a copy.
    body: float = Field(default=0.5, gt=0, le=1)
    # A lower body similarity is enough when the titles also agree this much.
    body_with_title: float = Field(default=0.25, gt=0, le=1)
    title_with_body: float = Field(default=0.5, gt=0, le=1)
    # Title-word Jaccard that makes a copy when a body is missing or short ...
    title_alone: float = Field(default=0.5, gt=0, le=1)
    # ... published within close_hours of each other; further apart it takes title_alone_far.
    title_alone_far: float = Field(default=0.8, gt=0, le=1)
    close_hours: float = Field(default=48.0, ge=0)
    # How long an item stays in the near-duplicate index.
    retention_days: float = Field(default=14.0, gt=0)
    # Candidates compared per item at most (the most recent first).
    max_candidates: int = Field(default=200, ge=1)


class StorySettings(Section):
    """How items of one issue are grouped into stories (see processors/stories.py)."""

    # A story stays open while it has news within this window.
    window_hours: float = Field(default=72.0, gt=0)
    # Resemblance (cosine of word-and-entity vectors) to a story's closest report to join it.
    # 0.15 was chosen by replaying both annotated windows at 0.10-0.25 (eval/replay/NOTES.md).
    join_threshold: float = Field(default=0.15, gt=0, le=1)
    # A later report resembling none of the reports that made its story's developments more
    # than this is a new turn of the story (a development).
    novelty_threshold: float = Field(default=0.2, ge=0, le=1)
    # ... but not within this many hours of the story's latest development, when other
    # outlets' first accounts of it arrive (1 h: chosen by replaying both annotated windows,
    # eval/replay/NOTES.md).
    turn_quiet_hours: float = Field(default=1.0, ge=0)
    # Stories kept in the state to join; developments are kept for the timeline regardless.
    retention_days: float = Field(default=90.0, gt=0)


class ProcessorsSettings(Section):
    # The tracked issues; default: <seeds_dir>/watchlist.toml.
    watchlist: Path | None = None
    # The known state from the seed documents; default: <seeds_dir>/baseline.toml.
    baseline: Path | None = None
    # The learned model (``peacewatch train``); default: <seeds_dir>/model.json if it exists.
    model: Path | None = None
    # The actors, places and things stories are told apart by; default:
    # <seeds_dir>/entities.toml if it exists.
    entities: Path | None = None
    # How long after its as_of date a known state of the baseline is still what is known.
    baseline_horizon_days: float = Field(default=120.0, gt=0)
    # Off: the watchlist rules alone classify.
    use_model: bool = True
    # Stage state (SQLite); relative paths are under data_dir.
    state_path: Path = Path("processors.sqlite3")
    group: str = Field(default="peacewatch-processors", min_length=1)
    # Second step (stories and developments) consumes the classified topic in this group.
    stories_group: str = Field(default="peacewatch-processors-stories", min_length=1)
    batch_size: int = Field(default=1000, ge=1, le=10_000)
    # Publish items that match no issue to the classified topic too (key "none"), for a
    # consumer that wants every classification. Off: most news matches nothing, and the
    # stories step has nothing to do with it.
    publish_unmatched: bool = False
    # Characters of an item's full content read by the classifier (title and summary always).
    content_chars: int = Field(default=16000, ge=0)
    neardup: NearDupSettings = NearDupSettings()
    stories: StorySettings = StorySettings()

    @model_validator(mode="after")
    def _distinct_groups(self) -> ProcessorsSettings:
        if self.group == self.stories_group:
            raise ValueError("group and stories_group must differ")
        return self
