"""The ``peacewatch`` command.

Core subcommands live here (run, collect, process, alert, check). Each stage package adds its own
(``classify``, ``eval``, ``timeline``, ``silence`` ...), its checks and its stages through the
``StagePackage`` it offers as a ``peacewatch.stages`` entry point (``peacewatch.stage``); the core
names the packages here, in order, and never imports one, so stages never import each other.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from peacewatch import __version__
from peacewatch.bus import EventBus, open_bus, wait_for_bus
from peacewatch.bus.watch import BusWatch
from peacewatch.daemon import Daemon, Stopped
from peacewatch.errors import BusError, ConfigError, PeacewatchError
from peacewatch.logs import setup_logging
from peacewatch.metrics import Metrics
from peacewatch.observe import ObservabilityServer
from peacewatch.settings import Settings, load_settings
from peacewatch.stage import StageContext, build_stages, stage_packages

log = logging.getLogger("peacewatch")

STAGE_PACKAGES = ("collectors", "processors", "alerts", "desk")
EXIT_CONFIG, EXIT_BUS, EXIT_UNCLEAN, EXIT_STAGE_FAILED = 2, 3, 4, 5
EXIT_CODES = {Stopped.CLEAN: 0, Stopped.ABANDONED: EXIT_UNCLEAN,
              Stopped.STAGE_FAILED: EXIT_STAGE_FAILED}


def _settings(args: argparse.Namespace) -> Settings:
    config: Path | None = args.config
    return load_settings(config)


def _run(args: argparse.Namespace, packages: Sequence[str]) -> int:
    settings = _settings(args)
    setup_logging(settings.logging.level, settings.logging.json_format)
    metrics = Metrics()
    daemon = Daemon(
        grace_period_s=settings.daemon.grace_period_s,
        reload_settings=lambda: load_settings(args.config),
        metrics=metrics,
    )
    daemon.install_signal_handlers()
    server = None
    if settings.metrics.enabled and not args.once:
        server = ObservabilityServer(metrics, settings.metrics.host, settings.metrics.port,
                                     ready=daemon.is_ready)
        server.start()
        log.info("metrics on http://%s:%d/metrics", settings.metrics.host, server.port)
    try:
        events = wait_for_bus(settings, metrics, daemon.stopping)
        if events is None:
            log.info("stopped before the bus was reached")
            return 0
        try:
            return _run_stages(args, settings, events, daemon, packages)
        finally:
            events.close()
    finally:
        if server is not None:
            server.close()


def _run_stages(args: argparse.Namespace, settings: Settings, events: EventBus,
                daemon: Daemon, packages: Sequence[str]) -> int:
    log.info("bus: %s (%s)", settings.bus.backend,
             ",".join(settings.bus.kafka.bootstrap_servers) or settings.path(
                 settings.bus.embedded.path))
    assert daemon.metrics is not None
    if args.once:
        ctx = StageContext(settings=settings, events=events, metrics=daemon.metrics,
                           burst=True)
        daemon.stages = build_stages(ctx, packages)
        # A Kafka group needs a moment to assign partitions before "idle" means "done".
        settle = settings.bus.kafka.session_timeout_s if settings.bus.backend == "kafka" else 0
        handled = daemon.run_once(settle_s=settle)
        log.info("burst done: %d items handled", handled)
        return 0
    daemon.watch = BusWatch(events.bus.check, daemon.metrics)
    ctx = StageContext(settings=settings, events=events, metrics=daemon.metrics,
                       watch=daemon.watch)
    daemon.stages = build_stages(ctx, packages)
    stopped = daemon.run_forever()
    log.info("%s", stopped.value)
    return EXIT_CODES[stopped]


def _check(args: argparse.Namespace) -> int:
    settings = _settings(args)
    setup_logging(settings.logging.level, settings.logging.json_format)
    print(f"settings: ok ({settings.config_file or 'defaults and environment'})")
    events = open_bus(settings)
    print(f"bus: ok ({settings.bus.backend})")
    events.close()
    failures = 0
    for package in stage_packages(STAGE_PACKAGES):
        failures += package.check(settings)
    return 1 if failures else 0


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="peacewatch",
        description="Follow the Russia-Ukraine peace negotiations: poll news feeds, classify "
        "items against the tracked issues, detect new developments, alert on Slack and email.",
    )
    parser.add_argument("--version", action="version", version=f"peacewatch {__version__}")
    parser.add_argument("-c", "--config", type=Path, default=None,
                        help="settings file (.toml or .yaml); default: $PEACEWATCH_CONFIG")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def stage_command(name: str, help_: str, packages: Sequence[str]) -> None:
        p = sub.add_parser(name, help=help_, description=help_)
        p.add_argument("--once", action="store_true",
                       help="burst mode: work until nothing is left, then exit")
        p.set_defaults(func=lambda a: _run(a, packages))

    stage_command("run", "run every stage in this process (the main job)", STAGE_PACKAGES)
    stage_command("collect", "run the collectors stage only", ("collectors",))
    stage_command("process", "run the processors stage only", ("processors",))
    stage_command("alert", "run the alerts stage only", ("alerts",))
    stage_command("serve", "run the desk only: the record, and the web page and API",
                  ("desk",))
    p = sub.add_parser("check", help="validate settings and reach the bus, SMTP and webhooks")
    p.set_defaults(func=_check)
    for package in stage_packages(STAGE_PACKAGES):
        package.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = make_parser()
    except PeacewatchError as exc:  # a stage package not installed, or not one
        print(f"peacewatch: error: {exc}", file=sys.stderr)
        return 1
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except ConfigError as exc:
        print(f"peacewatch: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except BusError as exc:
        print(f"peacewatch: bus error: {exc}", file=sys.stderr)
        return EXIT_BUS
    except PeacewatchError as exc:
        print(f"peacewatch: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
