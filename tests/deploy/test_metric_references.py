"""Every metric the dashboard and the alerting rules query is one peacewatch really exports.

The exported names come from ``Metrics(CollectorRegistry())`` itself (the sample names its
registry yields), so a metric renamed in metrics.py breaks this test until the dashboard and
rules follow.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from peacewatch.metrics import Metrics

RULES_FILE = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "peacewatch-rules.yml"

# Prometheus's own series, not peacewatch's: allowed in alerting rules only.
PROMETHEUS_SERIES = frozenset({"up"})
_KEYWORDS = frozenset({"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
                       "group_right", "offset", "bool", "inf", "nan"})
_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_GRAFANA_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+")
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_NUMBER = re.compile(r"(?<![\w:])(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)")
_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def promql_metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (function names, keywords, label names,
    durations, strings and Grafana variables left out)."""
    assert "__name__" not in expr, f"selecting by __name__ hides the metric name: {expr!r}"
    s = _STRING.sub('""', expr)
    s = _GRAFANA_VARIABLE.sub("", s)
    s = re.sub(r"\{[^}]*\}", " ", s)  # label matchers
    s = re.sub(r"\[[^\]]*\]", " ", s)  # ranges and subqueries
    s = re.sub(r"\boffset\s+-?\w+", " ", s)
    s = _LABEL_LIST.sub(" ", s)
    s = _NUMBER.sub(" ", s)
    names = set()
    for match in _NAME.finditer(s):
        is_call = s[match.end():].lstrip().startswith("(")
        if not is_call and match.group() not in _KEYWORDS:
            names.add(match.group())
    return names


def template_query_metric_names(query: str) -> set[str]:
    """Metrics of a Grafana template variable query: label_values(metric, label) and friends."""
    match = re.fullmatch(r"\s*label_values\(\s*(.+?)\s*,\s*\w+\s*\)\s*", query)
    if match:
        return promql_metric_names(match.group(1))
    match = re.fullmatch(r"\s*(?:query_result|metrics)\((.*)\)\s*", query)
    assert match, f"unsupported template variable query {query!r}"
    return promql_metric_names(match.group(1))


@pytest.mark.parametrize(("expr", "names"), [
    ('sum by (le) (rate(foo_bucket{job=~"$job", a="b(c) {x} [5m]"}[$__rate_interval]))',
     {"foo_bucket"}),
    ("time() - max(bar_seconds > 0) and on (job, instance) baz offset 5m", {"bar_seconds", "baz"}),
    ("histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m]))) > 1e3", {"x_bucket"}),
    ("deriv(peacewatch:lag:sum[10m]) > 0 and peacewatch:lag:sum > 100", {"peacewatch:lag:sum"}),
    ("sum(rate(a_total[5m])) by (receiver) / ignoring(kind) group_left b_total",
     {"a_total", "b_total"}),
    ("sort_desc(sum without (instance) (increase(c_total[${__range}])))", {"c_total"}),
    ('up{job=~"peacewatch.*"} == 0', {"up"}),
])
def test_promql_metric_names(expr: str, names: set[str]) -> None:
    assert promql_metric_names(expr) == names


def test_exported_names_come_from_the_registry(exported_metric_names: frozenset[str]) -> None:
    # Counters expose _total, histograms _bucket/_sum/_count, the Info metric _info.
    assert {"peacewatch_feed_polls_total", "peacewatch_end_to_end_latency_seconds_bucket",
            "peacewatch_build_info", "peacewatch_consumer_lag_messages"} <= exported_metric_names
    assert "peacewatch_feed_polls" not in exported_metric_names


def test_dashboard_queries_name_only_exported_metrics(
    dashboard: dict[str, Any], dashboard_queries: dict[str, str],
    exported_metric_names: frozenset[str],
) -> None:
    unknown = {}
    for key, expr in dashboard_queries.items():
        names = promql_metric_names(expr)
        assert names, f"{key}: no metric in {expr!r}"
        if names - exported_metric_names:
            unknown[key] = sorted(names - exported_metric_names)
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            text = query["query"] if isinstance(query, dict) else query
            names = template_query_metric_names(text)
            if names - exported_metric_names:
                unknown[f"${variable['name']}"] = sorted(names - exported_metric_names)
    assert not unknown, f"dashboard queries name metrics peacewatch does not export: {unknown}"


def test_dashboard_shows_every_exported_metric(
    dashboard_queries: dict[str, str], populated_metrics: Metrics
) -> None:
    shown = set().union(*(promql_metric_names(e) for e in dashboard_queries.values()))
    missing = [
        family.name for family in populated_metrics.registry.collect()
        if not shown & {s.name for s in family.samples}
    ]
    assert not missing, f"metric families no dashboard panel shows: {missing}"


def test_rules_name_only_exported_metrics(exported_metric_names: frozenset[str]) -> None:
    rules = [r for g in yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))["groups"]
             for r in g["rules"]]
    recorded = {r["record"] for r in rules if "record" in r}
    known = exported_metric_names | recorded | PROMETHEUS_SERIES
    unknown = {
        r.get("alert") or r["record"]: sorted(promql_metric_names(r["expr"]) - known)
        for r in rules if promql_metric_names(r["expr"]) - known
    }
    assert not unknown, f"rules name metrics peacewatch does not export: {unknown}"
