"""The processors as the core sees them: the ``processors`` entry point of
``peacewatch.stages``.

The checks are imported when asked for, not with this module (``peacewatch --help`` loads every
package's object); the stage is imported anyway, by the subcommands.
"""

from __future__ import annotations

from peacewatch.settings import Settings
from peacewatch.stage import DeclaredPackage, StagePackage
from processors.cli import register
from processors.stage import build


def _check(settings: Settings) -> int:
    from processors.check import check

    return check(settings)


PACKAGE: StagePackage = DeclaredPackage("processors", build, _check, register)
