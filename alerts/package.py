"""The alerts as the core sees them: the ``alerts`` entry point of ``peacewatch.stages``.

The stage and the checks are imported when asked for, not with this module: ``peacewatch
--help`` loads every package's object, and both need every notification channel.
"""

from __future__ import annotations

from collections.abc import Sequence

from alerts.cli import register
from peacewatch.settings import Settings
from peacewatch.stage import DeclaredPackage, Stage, StageContext, StagePackage


def _build(ctx: StageContext) -> Sequence[Stage]:
    from alerts.stage import build

    return build(ctx)


def _check(settings: Settings) -> int:
    from alerts.check import check

    return check(settings)


PACKAGE: StagePackage = DeclaredPackage("alerts", _build, _check, register)
