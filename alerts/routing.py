"""Which receivers a development goes to: the first matching route (or several, with
``continue``), else the default route. Pure: settings and a development in, targets out."""

from __future__ import annotations

from dataclasses import dataclass

from peacewatch.models import Development
from peacewatch.settings.alerts import AlertsSettings, Grouping, Route

DEFAULT_ROUTE = "default"


@dataclass(frozen=True, slots=True)
class Target:
    """One receiver a development is meant for, and the route (with its timings) that chose it."""

    route: str
    receiver: str
    policy: Grouping


def development_text(dev: Development) -> str:
    """The text keywords are matched against, case-folded."""
    return " ".join((dev.headline, *dev.evidence)).casefold()


def route_matches(route: Route, dev: Development) -> bool:
    if route.issues and dev.issue_id not in route.issues:
        return False
    if route.min_severity is not None and dev.severity < route.min_severity:
        return False
    if route.sources:
        wanted = {s.casefold() for s in route.sources}
        if not any(ref.source.casefold() in wanted for ref in dev.sources):
            return False
    if route.keywords:
        text = development_text(dev)
        if not any(k.casefold() in text for k in route.keywords):
            return False
    return True


class Router:
    def __init__(self, settings: AlertsSettings) -> None:
        self.routes = list(settings.routes)
        self.default = settings.default_route
        self.default_receivers = settings.default_receivers()

    def route(self, dev: Development) -> list[Target]:
        """Targets in route order; a receiver reached by two routes gets it once (first wins)."""
        targets: dict[str, Target] = {}
        for route in self.routes:
            if not route_matches(route, dev):
                continue
            for receiver in route.receivers:
                targets.setdefault(receiver, Target(route.name, receiver, route))
            if not route.continue_:
                break
        if not targets:
            for receiver in self.default_receivers:
                targets.setdefault(receiver, Target(DEFAULT_ROUTE, receiver, self.default))
        return list(targets.values())


def group_label(policy: Grouping, dev: Development) -> str:
    """The group a development joins, from the route's ``group_by`` labels."""
    parts = []
    for label in policy.group_by:
        if label == "issue":
            parts.append(f"issue={dev.issue_id}")
        elif label == "severity":
            parts.append(f"severity={dev.severity.name.lower()}")
        elif label == "story":
            parts.append(f"story={dev.story_id}")
        else:
            first = dev.sources[0].source if dev.sources else "-"
            parts.append(f"source={first}")
    return ",".join(parts) or "all"
