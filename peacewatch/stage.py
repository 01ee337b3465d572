"""What a pipeline stage is to the daemon: start, step, stop, and an optional reload.

A stage does its work in ``step`` calls: each takes a batch (poll a topic, poll due feeds),
handles it, publishes its output, flushes, commits, and returns how much it did. The daemon calls
``step`` in a loop on the stage's own thread; burst mode (``--once``) calls every stage until a
whole round does nothing, which is what makes end-to-end tests simple.

Each stage package (collectors, processors, alerts, desk) offers the core one ``StagePackage``:
its stages, its part of ``peacewatch check`` and its subcommands. The core finds them by name
among the ``peacewatch.stages`` entry points and never imports a stage package itself.
"""

from __future__ import annotations

import argparse
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Protocol, runtime_checkable

from peacewatch.bus.events import EventBus
from peacewatch.bus.watch import BusWatch
from peacewatch.errors import PeacewatchError
from peacewatch.metrics import Metrics
from peacewatch.plugins import find_entry_point, load_entry_point, not_satisfied
from peacewatch.settings import Settings

# The entry point group of the stage packages (pyproject.toml): name -> the package's object.
STAGE_PACKAGES_GROUP = "peacewatch.stages"


@dataclass
class StageContext:
    """What every stage gets: its settings, the typed bus, the process's metrics, and whether
    the bus is up (always, when no watch is given: burst mode, tests)."""

    settings: Settings
    events: EventBus
    metrics: Metrics
    # Burst mode (``--once``): work until nothing is left; a stage that serves (the desk's
    # page) does not start its server then.
    burst: bool = False
    watch: BusWatch | None = None

    def bus_up(self) -> bool:
        return self.watch is None or self.watch.up


class Stage(ABC):
    """One stage of the pipeline; subclasses implement ``step``."""

    name: str = "stage"

    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx
        self.log = logging.getLogger(f"peacewatch.{self.name}")

    def start(self) -> None:
        """Start-up hook: open consumers and state. Called once, before the first step."""

    @abstractmethod
    def step(self, timeout_s: float) -> int:
        """Do one batch of work, waiting at most ``timeout_s`` for input; return items handled."""

    def stop(self) -> None:
        """Shutdown hook: flush what was produced, commit what was handled, close."""

    def lag(self) -> dict[tuple[str, int], int]:
        """Messages not yet committed on this stage's partitions; called on the stage's thread."""
        return {}

    def prepare_reload(self, settings: Settings) -> Callable[[], None]:
        """First phase of a reload (SIGHUP): check ``settings`` for this stage, change nothing.

        Raise ConfigError to refuse them. Return the function that applies them: the daemon calls
        it on this stage's own thread, between two steps, and only once every stage has agreed.
        """
        return lambda: self.reload(settings)

    def reload(self, settings: Settings) -> None:
        """Apply new settings (called through ``prepare_reload``'s second phase)."""
        self.ctx.settings = settings


class Subcommands(Protocol):
    """What a stage package adds its subcommands to: ``argparse``'s subparsers."""

    def add_parser(self, name: str, *, help: str | None = ...,
                   description: str | None = ...) -> argparse.ArgumentParser: ...


@runtime_checkable
class StagePackage(Protocol):
    """What the core needs of a stage package (collectors, processors, alerts, desk): each
    offers one such object as an entry point of the ``peacewatch.stages`` group."""

    @property
    def name(self) -> str:
        """The package's name, which is its entry point's name."""

    def build(self, ctx: StageContext) -> Sequence[Stage]:
        """The package's stages: one, or several that run on their own threads."""

    def check(self, settings: Settings) -> int:
        """``peacewatch check``: print one line per check; return the number that failed."""

    def register(self, subparsers: Subcommands) -> None:
        """Add the package's own subcommands (``peacewatch feeds ...``)."""


@dataclass(frozen=True)
class DeclaredPackage:
    """A ``StagePackage`` from its parts: what a stage package's ``package`` module declares.
    Its ``build`` and ``check`` import the stage and the checks when called, so that
    ``peacewatch --help`` (which loads every package) does not."""

    name: str
    build: Callable[[StageContext], Sequence[Stage]]
    check: Callable[[Settings], int]
    register: Callable[[Subcommands], None]


_STAGE_PACKAGE_MEMBERS = ("name", "build", "check", "register")


def stage_packages(names: Sequence[str],
                   found: Iterable[EntryPoint] | None = None) -> list[StagePackage]:
    """The stage packages called ``names``, in that order, from their entry points (``found``
    stands for the installed entry points: tests give their own)."""
    available = list(entry_points(group=STAGE_PACKAGES_GROUP) if found is None else found)
    packages: list[StagePackage] = []
    for name in names:
        entry_point = find_entry_point(STAGE_PACKAGES_GROUP, name, available)
        package = load_entry_point(entry_point)
        if not isinstance(package, StagePackage):
            raise not_satisfied(entry_point, package, "StagePackage", _STAGE_PACKAGE_MEMBERS)
        if package.name != name:
            raise PeacewatchError(
                f"entry point {name} = {entry_point.value!r} in group "
                f"{STAGE_PACKAGES_GROUP!r} is the stage package {package.name!r}")
        packages.append(package)
    return packages


def build_stages(ctx: StageContext, packages: Sequence[str]) -> list[Stage]:
    """Each package's stages, in the packages' order."""
    return [stage for package in stage_packages(packages) for stage in package.build(ctx)]
