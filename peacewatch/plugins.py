"""Objects that stage packages offer the core, found through entry points (``pyproject.toml``).

The core never imports a stage package: it asks the installed distribution's entry points for an
object by group and name, and the caller checks that object against the protocol it needs
(``peacewatch.stage.StagePackage``, ``peacewatch.trial.WatchlistTrial``).
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points

from peacewatch.errors import PeacewatchError


def find_entry_point(group: str, name: str,
                     found: Iterable[EntryPoint] | None = None) -> EntryPoint:
    """The entry point ``name`` of ``group``; ``found`` stands for the installed ones (tests)."""
    candidates = entry_points(group=group) if found is None else found
    for entry_point in candidates:
        if entry_point.group == group and entry_point.name == name:
            return entry_point
    raise PeacewatchError(
        f"no entry point {name!r} in group {group!r}: is peacewatch installed from this "
        "checkout (`make run` installs it; or `pip install -e .`)?")


def load_entry_point(entry_point: EntryPoint) -> object:
    """What the entry point names, imported; a clear error when it cannot be."""
    try:
        loaded: object = entry_point.load()
    except (ImportError, AttributeError) as exc:
        raise PeacewatchError(
            f"entry point {entry_point.name} = {entry_point.value!r} in group "
            f"{entry_point.group!r} cannot be loaded: {exc}") from exc
    return loaded


def not_satisfied(entry_point: EntryPoint, loaded: object, protocol: str,
                  members: Iterable[str]) -> PeacewatchError:
    """The error for an entry point whose object lacks members of ``protocol``."""
    missing = [m for m in members if not hasattr(loaded, m)]
    return PeacewatchError(
        f"entry point {entry_point.name} = {entry_point.value!r} in group "
        f"{entry_point.group!r} is not a {protocol}: it has no "
        f"{', '.join(missing) or 'members of the right kind'}")
