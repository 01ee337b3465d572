"""`promtool check metrics` (Prometheus's own linter) finds nothing in peacewatch's exposition."""

from __future__ import annotations

import subprocess

from prometheus_client import generate_latest

from peacewatch.metrics import Metrics


def test_every_metric_family_has_samples(populated_metrics: Metrics) -> None:
    # A metric added to metrics.py without a sample in the fixture would escape the lint below.
    empty = [f.name for f in populated_metrics.registry.collect() if not f.samples]
    assert not empty, (
        f"metric families without samples: {empty}; give them realistic label values in "
        "tests/deploy/conftest.py:populate()")


def test_promtool_check_metrics_reports_nothing(
    populated_metrics: Metrics, promtool: str
) -> None:
    exposition = generate_latest(populated_metrics.registry)
    assert b"peacewatch_end_to_end_latency_seconds_bucket" in exposition
    result = subprocess.run([promtool, "check", "metrics"], input=exposition,
                            capture_output=True, timeout=30, check=False)
    problems = (result.stdout + result.stderr).decode(errors="replace")
    assert result.returncode == 0 and not problems.strip(), f"promtool check metrics:\n{problems}"


def test_promtool_check_metrics_does_flag_problems(promtool: str) -> None:
    """The check above can fail: the same call on a badly named counter reports it."""
    bad = (b"# HELP peacewatch_polls Feed polls.\n# TYPE peacewatch_polls counter\n"
           b"peacewatch_polls 3\n")
    result = subprocess.run([promtool, "check", "metrics"], input=bad, capture_output=True,
                            timeout=30, check=False)
    output = (result.stdout + result.stderr).decode(errors="replace")
    assert result.returncode != 0
    assert 'counter metrics should have "_total" suffix' in output
