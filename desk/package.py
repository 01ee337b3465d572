"""The desk as the core sees it: the ``desk`` entry point of ``peacewatch.stages``.

The stage and the checks are imported when asked for, not with this module: ``peacewatch
--help`` loads every package's object, and the stage needs the web server.
"""

from __future__ import annotations

from desk.cli import register
from peacewatch.settings import Settings
from peacewatch.stage import Stage, StageContext, StagePackage, Subcommands


class DeskPackage:
    name = "desk"

    def build(self, ctx: StageContext) -> list[Stage]:
        from desk.stage import build

        return build(ctx)

    def check(self, settings: Settings) -> int:
        from desk.check import check

        return check(settings)

    def register(self, subparsers: Subcommands) -> None:
        register(subparsers)


PACKAGE: StagePackage = DeskPackage()
