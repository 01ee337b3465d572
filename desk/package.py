"""The desk as the core sees it: the ``desk`` entry point of ``peacewatch.stages``.

The stage and the checks are imported when asked for, not with this module: ``peacewatch
--help`` loads every package's object, and the stage needs the web server.
"""

from __future__ import annotations

from collections.abc import Sequence

from desk.cli import register
from peacewatch.settings import Settings
from peacewatch.stage import DeclaredPackage, Stage, StageContext, StagePackage


def _build(ctx: StageContext) -> Sequence[Stage]:
    from desk.stage import build

    return build(ctx)


def _check(settings: Settings) -> int:
    from desk.check import check

    return check(settings)


PACKAGE: StagePackage = DeclaredPackage("desk", _build, _check, register)
