"""Feed lists: the validated TOML files of feeds (``seeds/feeds.toml``) and saved-feed folders.

``load_feed_list`` turns a file into ``FeedSpec`` events or raises ``ConfigError`` naming the file,
the feed and the key. ``folder_feeds`` turns a folder of saved feed files into ``file://`` feeds,
for offline replay.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from peacewatch.errors import ConfigError
from peacewatch.models import FeedSpec, SourceClass, stable_hash
from peacewatch.provenance import class_from_tags

_SLUG = re.compile(r"[^a-z0-9]+")
FEED_FILE_SUFFIXES = frozenset({".xml", ".rss", ".atom", ".rdf", ".json", ".feed"})


def slug(name: str) -> str:
    return _SLUG.sub("-", name.lower()).strip("-")


class FeedDefaults(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    language: str | None = None
    interval_s: float = Field(default=900.0, gt=0)
    tags: tuple[str, ...] = ()


class FeedEntry(BaseModel):
    """One ``[[feed]]`` of a feed list."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(min_length=1)
    url: str
    id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
    language: str | None = None
    interval_s: float | None = Field(default=None, gt=0)
    tags: tuple[str, ...] | None = None
    enabled: bool = True
    # ``class = "wire"`` in the file; None: implied by the tags, if they say.
    source_class: SourceClass | None = Field(default=None, alias="class")

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https", "file") or not (parts.netloc or parts.path):
            raise ValueError("must be an http(s) or file URL")
        if parts.scheme != "file" and not parts.hostname:
            raise ValueError("has no host")
        return url.strip()

    def spec(self, defaults: FeedDefaults) -> FeedSpec:
        tags = self.tags if self.tags is not None else defaults.tags
        return FeedSpec(
            feed_id=self.id or slug(self.name) or stable_hash(self.url),
            name=self.name,
            url=self.url,
            language=self.language if self.language is not None else defaults.language,
            interval_s=self.interval_s if self.interval_s is not None else defaults.interval_s,
            enabled=self.enabled,
            tags=tags,
            source_class=self.source_class or class_from_tags(tags),
        )


class FeedListFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    defaults: FeedDefaults = FeedDefaults()
    feed: list[FeedEntry] = Field(default_factory=list)


def parse_feed_list(data: dict[str, Any], origin: str) -> list[FeedSpec]:
    """Feed specs from a parsed feed list; ConfigError for a bad entry or a duplicate."""
    try:
        parsed = FeedListFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, data, origin)) from exc
    specs = [entry.spec(parsed.defaults) for entry in parsed.feed]
    _check_unique(specs, origin)
    return specs


def _describe(exc: ValidationError, data: dict[str, Any], origin: str) -> str:
    """Name the feed as well as the key: "feed 3 (BBC News): url: ..." reads better."""
    raw = data.get("feed")
    feeds: list[Any] = raw if isinstance(raw, list) else []
    lines = []
    for err in exc.errors():
        loc = list(err["loc"])
        where = ".".join(str(p) for p in loc) or "(top level)"
        if len(loc) >= 2 and loc[0] == "feed" and isinstance(loc[1], int):
            entry = feeds[loc[1]] if loc[1] < len(feeds) else {}
            name = entry.get("name", "?") if isinstance(entry, dict) else "?"
            where = f"feed {loc[1] + 1} ({name}): {'.'.join(str(p) for p in loc[2:]) or 'entry'}"
        reason = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"{where}: {reason}")
    return f"feed list {origin}: " + "; ".join(lines)


def _check_unique(specs: Iterable[FeedSpec], origin: str) -> None:
    ids: dict[str, str] = {}
    urls: dict[str, str] = {}
    for spec in specs:
        if spec.feed_id in ids:
            raise ConfigError(f"feed list {origin}: feeds {ids[spec.feed_id]!r} and "
                              f"{spec.name!r} have the same id {spec.feed_id!r}; set `id`")
        if spec.url in urls:
            raise ConfigError(f"feed list {origin}: feeds {urls[spec.url]!r} and {spec.name!r} "
                              f"have the same url {spec.url}")
        ids[spec.feed_id] = spec.name
        urls[spec.url] = spec.name


def load_feed_list(path: Path) -> list[FeedSpec]:
    """The feeds of one feed list file; ConfigError if it cannot be read or is not valid."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"feed list {path}: cannot read: {exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"feed list {path}: not valid TOML: {exc}") from exc
    return parse_feed_list(data, str(path))


def folder_feeds(folder: Path, interval_s: float = 900.0) -> list[FeedSpec]:
    """Every saved feed file in a folder as a ``file://`` feed (offline replay)."""
    if not folder.is_dir():
        raise ConfigError(f"feed folder {folder} does not exist")
    root = folder.resolve()
    return [
        FeedSpec(
            feed_id="file-" + stable_hash(root.name, path.relative_to(root).as_posix()),
            name=f"{root.name}/{path.relative_to(root).as_posix()}",
            url=path.as_uri(),
            interval_s=interval_s,
            tags=("file",),
        )
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.suffix.lower() in FEED_FILE_SUFFIXES
        and not any(p.startswith(".") for p in path.relative_to(root).parts)
    ]


def configured_feeds(
    feed_lists: Iterable[Path], feed_folders: Iterable[Path], seeds_dir: Path
) -> list[FeedSpec]:
    """All feeds the settings name, feed lists first; ConfigError on any bad file or clash."""
    specs: list[FeedSpec] = []
    for path in feed_lists:
        specs += load_feed_list(path if path.is_absolute() else seeds_dir / path)
    for folder in feed_folders:
        specs += folder_feeds(folder)
    _check_unique(specs, "(all feed lists)")
    return specs
