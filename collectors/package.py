"""The collectors as the core sees them: the ``collectors`` entry point of ``peacewatch.stages``.

The stage and the checks are imported when asked for, not with this module: ``peacewatch
--help`` loads every package's object, and the stage needs apscheduler and httpx.
"""

from __future__ import annotations

from collections.abc import Sequence

from collectors.cli import register
from peacewatch.settings import Settings
from peacewatch.stage import DeclaredPackage, Stage, StageContext, StagePackage


def _build(ctx: StageContext) -> Sequence[Stage]:
    from collectors.stage import build

    return build(ctx)


def _check(settings: Settings) -> int:
    from collectors.check import check

    return check(settings)


PACKAGE: StagePackage = DeclaredPackage("collectors", _build, _check, register)
