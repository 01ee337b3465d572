"""The processors as the core sees them: the ``processors`` entry point of
``peacewatch.stages``.

The checks are imported when asked for, not with this module (``peacewatch --help`` loads every
package's object); the stage is imported anyway, by the subcommands.
"""

from __future__ import annotations

from peacewatch.settings import Settings
from peacewatch.stage import Stage, StageContext, StagePackage, Subcommands
from processors.cli import register
from processors.stage import build


class ProcessorsPackage:
    name = "processors"

    def build(self, ctx: StageContext) -> list[Stage]:
        return build(ctx)

    def check(self, settings: Settings) -> int:
        from processors.check import check

        return check(settings)

    def register(self, subparsers: Subcommands) -> None:
        register(subparsers)


PACKAGE: StagePackage = ProcessorsPackage()
