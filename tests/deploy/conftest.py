"""Fixtures of the deployment tests: the files under deploy/, peacewatch's metrics, real binaries.

The binaries (promtool and prometheus from Debian's ``prometheus`` package, Debian's
``docker-compose``, ``systemd-analyze``) are installed by ``make test``; a missing one fails the
tests under ``CI=true`` (a CI run must not go green by skipping) and skips them elsewhere.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from peacewatch.metrics import Metrics

DASHBOARD_FILE = Path(__file__).resolve().parents[2] / "deploy/grafana/dashboards/peacewatch.json"

# What Grafana puts in place of its variables when the dashboard runs; the values are the ones a
# default view uses ($job = All = ".*").
GRAFANA_VARIABLES = {"__rate_interval": "1m", "__range": "1h", "__interval": "15s", "job": ".*"}


def require_binary(name: str, package: str) -> str:
    """The binary's path; a clear failure (CI) or skip (elsewhere) naming the package if absent."""
    path = shutil.which(name)
    if path is None:
        reason = f"{name} is not installed (Debian package {package!r}; `make test` installs it)"
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def promtool() -> str:
    return require_binary("promtool", "prometheus")


@pytest.fixture(scope="session")
def prometheus_bin() -> str:
    return require_binary("prometheus", "prometheus")


def populate(metrics: Metrics) -> Metrics:
    """Give every metric realistic, bounded samples, so that every family shows in an exposition."""
    m = metrics
    for outcome, n in (("200", 40), ("304", 120), ("timeout", 3), ("http_error", 2),
                       ("parse_error", 1)):
        m.feed_polls.labels(outcome=outcome).inc(n)
    for seconds in (0.04, 0.12, 0.3, 0.8, 2.2, 11.0):
        m.feed_fetch_seconds.observe(seconds)
    m.items_ingested.labels(kind="feed").inc(57)
    m.items_ingested.labels(kind="document").inc(2)
    m.last_successful_poll.set(1_742_000_000)
    m.feeds_active.set(24)
    m.items_processed.inc(59)
    m.duplicates.labels(kind="exact").inc(11)
    m.duplicates.labels(kind="near").inc(4)
    for issue, n in (("negotiations", 21), ("ceasefire", 9), ("black-sea", 3), ("crimea", 1)):
        m.items_per_issue.labels(issue=issue).inc(n)
    m.developments.labels(issue="ceasefire", severity="proposed").inc(2)
    m.developments.labels(issue="negotiations", severity="agreed").inc()
    m.notifications_sent.labels(receiver="ops-slack").inc(3)
    m.notifications_sent.labels(receiver="ops-email").inc(3)
    m.notifications_failed.labels(receiver="ops-slack", kind="transient").inc()
    m.notifications_failed.labels(receiver="ops-email", kind="permanent").inc()
    for seconds in (4.0, 35.0, 610.0):
        m.end_to_end_latency.observe(seconds)
    m.dead_letters.labels(topic="peacewatch.items.raw").inc()
    for stage, topic in (("classify", "peacewatch.items.raw"),
                         ("alerts", "peacewatch.developments")):
        for partition in range(3):
            m.consumer_lag.labels(stage=stage, topic=topic, partition=str(partition)).set(
                partition * 7)
    for stage in ("collectors", "classify", "stories", "alerts", "record", "web"):
        m.stage_up.labels(stage=stage).set(1)
    m.record_messages.labels(topic="peacewatch.items.raw").inc(57)
    m.record_messages.labels(topic="peacewatch.developments").inc(3)
    m.desk_requests.labels(route="page_board", code="200").inc(12)
    m.desk_requests.labels(route="api_developments", code="400").inc()
    m.feedback.labels(verdict="useful").inc(4)
    m.feedback.labels(verdict="wrong_issue").inc()
    m.feedback_precision.labels(issue="ceasefire").set(0.8)
    return m


@pytest.fixture
def populated_metrics() -> Metrics:
    return populate(Metrics(CollectorRegistry()))


@pytest.fixture
def exported_metric_names(populated_metrics: Metrics) -> frozenset[str]:
    """Every series name peacewatch exposes: the sample names of its registry, not a hand list."""
    return frozenset(
        sample.name
        for family in populated_metrics.registry.collect()
        for sample in family.samples
    )


@pytest.fixture(scope="session")
def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD_FILE.read_text(encoding="utf-8"))
    return data


def iter_panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every panel, those inside collapsed rows included."""
    out = []
    for panel in panels:
        out.append(panel)
        out.extend(iter_panels(panel.get("panels", [])))
    return out


def substitute_grafana_variables(expr: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in GRAFANA_VARIABLES:
            raise AssertionError(f"unknown Grafana variable ${name} in {expr!r}")
        return GRAFANA_VARIABLES[name]

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", value, expr)


@pytest.fixture(scope="session")
def dashboard_queries(dashboard: dict[str, Any]) -> dict[str, str]:
    """Each panel query as Prometheus receives it, keyed by "panel title / refId"."""
    queries = {}
    for panel in iter_panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            key = f"{panel['title']} / {target['refId']}"
            queries[key] = substitute_grafana_variables(target["expr"])
    return queries
