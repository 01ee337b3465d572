"""The alerts as the core sees them: the ``alerts`` entry point of ``peacewatch.stages``.

The stage and the checks are imported when asked for, not with this module: ``peacewatch
--help`` loads every package's object, and both need every notification channel.
"""

from __future__ import annotations

from alerts.cli import register
from peacewatch.settings import Settings
from peacewatch.stage import Stage, StageContext, StagePackage, Subcommands


class AlertsPackage:
    name = "alerts"

    def build(self, ctx: StageContext) -> list[Stage]:
        from alerts.stage import build

        return build(ctx)

    def check(self, settings: Settings) -> int:
        from alerts.check import check

        return check(settings)

    def register(self, subparsers: Subcommands) -> None:
        register(subparsers)


PACKAGE: StagePackage = AlertsPackage()
