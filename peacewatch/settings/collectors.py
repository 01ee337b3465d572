"""Settings of the collectors stage: document folders, feed lists, HTTP manners and safety."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network
from pathlib import Path

from pydantic import Field, model_validator

from peacewatch import __version__
from peacewatch.settings.base import Section

DEFAULT_USER_AGENT = (
    f"peacewatch/{__version__} (news feed collector; conditional GET, honours Retry-After)"
)


class HttpSettings(Section):
    """How a feed is fetched: limits that keep one bad server from costing more than it should."""

    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout_s: float = Field(default=10.0, gt=0)
    # Longest wait for any one read; a slow-drip server is caught by ``total_timeout_s``.
    read_timeout_s: float = Field(default=20.0, gt=0)
    # Wall-clock limit of one poll, redirects and body included.
    total_timeout_s: float = Field(default=60.0, gt=0)
    # Body size after decompression; larger bodies end as a feed error, not a parse.
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    max_redirects: int = Field(default=5, ge=0, le=30)
    # Fetches in flight at once, over all hosts and per host.
    max_concurrency: int = Field(default=64, ge=1, le=4096)
    per_host_concurrency: int = Field(default=2, ge=1, le=256)


class ScheduleSettings(Section):
    """When feeds are polled: the interval adapts to how often a feed publishes, within bounds."""

    min_interval_s: float = Field(default=300.0, gt=0)
    max_interval_s: float = Field(default=6 * 3600.0, gt=0)
    # Each next poll moves by up to this fraction of its interval, so polls do not bunch up.
    jitter: float = Field(default=0.1, ge=0, le=0.5)
    # Failing feeds wait base * 2**(failures-1), with jitter, capped at backoff_max_s.
    backoff_base_s: float = Field(default=60.0, gt=0)
    backoff_max_s: float = Field(default=24 * 3600.0, gt=0)
    # Feeds handled per step: bounds the time one step takes and the memory it holds.
    batch_size: int = Field(default=500, ge=1)

    @model_validator(mode="after")
    def _bounds(self) -> ScheduleSettings:
        if self.min_interval_s > self.max_interval_s:
            raise ValueError("min_interval_s must not exceed max_interval_s")
        return self


class CollectorsSettings(Section):
    # Folders of documents (.txt, .md, .html) ingested as items; the seed documents come first.
    # Relative folders are taken from the working directory.
    documents: list[Path] = Field(default_factory=lambda: [Path("../shared/seeds")])
    # Folders whose documents are baseline: they set the known state and never alert by themselves.
    baseline_documents: list[Path] = Field(default_factory=lambda: [Path("../shared/seeds")])
    # How often document folders are scanned again for new or edited files.
    documents_rescan_s: float = Field(default=300.0, gt=0)
    # Largest document read; a larger file is skipped with a logged error.
    max_document_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    # Largest item published (its JSON, in bytes): a longer text is cut to fit and the item
    # marked ``truncated``. Under Kafka's default 1 MB message limit with room to spare for the
    # classified message, which carries the item and its labels.
    max_item_bytes: int = Field(default=512 * 1024, ge=16 * 1024)

    # Feed lists (TOML, see seeds/feeds.toml) published to the feeds topic at start; relative
    # paths are under ``seeds_dir``. An empty list publishes nothing (feeds may come from the
    # topic alone).
    feed_lists: list[Path] = Field(default_factory=lambda: [Path("feeds.toml")])
    # Folders of saved feed files polled as file:// feeds, for offline replay.
    feed_folders: list[Path] = Field(default_factory=list)
    # Poll feeds at all (documents are ingested either way).
    poll_feeds: bool = True
    # file:// feed URLs outside ``feed_folders`` are refused unless this is true.
    allow_file_urls: bool = False
    # Addresses feeds may reach although they are not public (loopback, private, link-local);
    # e.g. ["127.0.0.1/32"] for a local test server. Empty: public addresses only.
    allow_networks: list[IPv4Network | IPv6Network] = Field(default_factory=list)

    # The consumer group of the collectors: its partition assignment of the feeds topic decides
    # which collector polls which feed.
    group: str = "peacewatch-collectors"
    # Published items and feed health; relative paths are under data_dir.
    state_path: Path = Path("collectors.sqlite3")

    http: HttpSettings = HttpSettings()
    schedule: ScheduleSettings = ScheduleSettings()
