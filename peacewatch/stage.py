"""What a pipeline stage is to the daemon: start, step, stop, and an optional reload.

A stage does its work in ``step`` calls: each takes a batch (poll a topic, poll due feeds),
handles it, publishes its output, flushes, commits, and returns how much it did. The daemon calls
``step`` in a loop on the stage's own thread; burst mode (``--once``) calls every stage until a
whole round does nothing, which is what makes end-to-end tests simple.
"""

from __future__ import annotations

import importlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType

from peacewatch.bus.events import EventBus
from peacewatch.bus.watch import BusWatch
from peacewatch.errors import PeacewatchError
from peacewatch.metrics import Metrics
from peacewatch.settings import Settings


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


def stage_module(package: str, module: str) -> ModuleType | None:
    """A stage package's module by name (the core never imports a stage package directly)."""
    try:
        return importlib.import_module(f"{package}.{module}")
    except ModuleNotFoundError as exc:
        if exc.name == f"{package}.{module}":
            return None
        raise


def build_stages(ctx: StageContext, packages: Sequence[str]) -> list[Stage]:
    """Each package's ``build(ctx)`` gives one stage, or several that run on their own threads."""
    stages: list[Stage] = []
    for package in packages:
        module = stage_module(package, "stage")
        if module is None:
            raise PeacewatchError(f"stage package {package!r} has no stage module")
        build: Callable[[StageContext], Stage | Sequence[Stage]] = module.build
        built = build(ctx)
        stages.extend([built] if isinstance(built, Stage) else built)
    return stages
