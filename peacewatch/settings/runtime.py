"""Settings of the process itself: metrics endpoint and logging."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from peacewatch.settings.base import Section


class MetricsSettings(Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    # 0 picks a free port; the chosen one is logged.
    port: int = Field(default=9464, ge=0, le=65535)


class LoggingSettings(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    json_format: bool = False


class DaemonSettings(Section):
    # How long SIGTERM waits for in-flight work before the process gives up and exits.
    grace_period_s: float = Field(default=10.0, gt=0)
    # What time story windows and alert grouping run on: the wall clock, or item time (the
    # latest publication time seen), so that replaying an archive behaves like the live run.
    clock: Literal["wall", "item"] = "wall"
