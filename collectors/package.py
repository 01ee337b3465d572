"""The collectors as the core sees them: the ``collectors`` entry point of ``peacewatch.stages``.

The stage and the checks are imported when asked for, not with this module: ``peacewatch
--help`` loads every package's object, and the stage needs apscheduler and httpx.
"""

from __future__ import annotations

from collectors.cli import register
from peacewatch.settings import Settings
from peacewatch.stage import Stage, StageContext, StagePackage, Subcommands


class CollectorsPackage:
    name = "collectors"

    def build(self, ctx: StageContext) -> list[Stage]:
        from collectors.stage import build

        return build(ctx)

    def check(self, settings: Settings) -> int:
        from collectors.check import check

        return check(settings)

    def register(self, subparsers: Subcommands) -> None:
        register(subparsers)


PACKAGE: StagePackage = CollectorsPackage()
