"""The desk's stages: the record (always) and the web page and API (unless turned off, and
never in burst mode, where nothing waits to be asked)."""

from __future__ import annotations

from desk.record import RecordStage
from desk.server import WebStage
from peacewatch.stage import Stage, StageContext


def build(ctx: StageContext) -> list[Stage]:
    stages: list[Stage] = [RecordStage(ctx)]
    if ctx.settings.desk.serve and not ctx.burst:
        stages.append(WebStage(ctx))
    return stages
