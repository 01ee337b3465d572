"""The Grafana dashboard and its provisioning: a dashboard Grafana loads from a file as is, whose
panels all use the provisioned Prometheus datasource and whose queries Prometheus parses."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
GRAFANA = REPO_ROOT / "deploy" / "grafana"
DATASOURCES_FILE = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
PROVIDER_FILE = GRAFANA / "provisioning" / "dashboards" / "peacewatch.yml"
DASHBOARD_FILE = GRAFANA / "dashboards" / "peacewatch.json"
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"

# Panel types of Grafana's core that show Prometheus data (and the row grouping them).
PANEL_TYPES = {"row", "timeseries", "stat", "gauge", "bargauge", "table", "heatmap", "piechart",
               "barchart", "state-timeline"}
# What the dashboard must show, each by a metric of its panels' queries.
PIPELINE = {
    "feeds polled by outcome": "peacewatch_feed_polls_total",
    "fetch duration quantiles": "peacewatch_feed_fetch_seconds_bucket",
    "items ingested": "peacewatch_items_ingested_total",
    "duplicates": "peacewatch_duplicates_total",
    "items per issue": "peacewatch_items_classified_total",
    "developments by issue and severity": "peacewatch_developments_total",
    "notifications sent": "peacewatch_notifications_sent_total",
    "notifications failed": "peacewatch_notifications_failed_total",
    "dead letters": "peacewatch_dead_letters_total",
    "consumer lag": "peacewatch_consumer_lag_messages",
    "last poll age": "peacewatch_last_successful_poll_timestamp_seconds",
    "end-to-end latency": "peacewatch_end_to_end_latency_seconds_bucket",
}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def provisioned_datasource() -> dict[str, Any]:
    datasources = load_yaml(DATASOURCES_FILE)["datasources"]
    assert len(datasources) == 1
    ds: dict[str, Any] = datasources[0]
    return ds


def all_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def test_datasource_provisioning() -> None:
    config = load_yaml(DATASOURCES_FILE)
    assert config["apiVersion"] == 1
    ds = provisioned_datasource()
    assert ds["type"] == "prometheus" and ds["access"] == "proxy"
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", ds["uid"])
    # The compose service that runs Prometheus, on its port.
    compose = load_yaml(COMPOSE_FILE)
    assert ds["url"] == "http://prometheus:9090" and "prometheus" in compose["services"]


def test_dashboard_provider_points_at_the_mounted_dashboards() -> None:
    config = load_yaml(PROVIDER_FILE)
    assert config["apiVersion"] == 1
    (provider,) = config["providers"]
    assert provider["type"] == "file"
    grafana = load_yaml(COMPOSE_FILE)["services"]["grafana"]
    mounts = dict(v.rsplit(":", 1)[0].split(":", 1) for v in grafana["volumes"]
                  if v.startswith("./"))
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{provider['options']['path']}/{DASHBOARD_FILE.name}"


def test_dashboard_is_loadable_by_provisioning(dashboard: dict[str, Any]) -> None:
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", dashboard["uid"])
    assert dashboard["title"].strip()
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["schemaVersion"] >= 36
    # A provisioned file is loaded as is: no import-time inputs such as ${DS_PROMETHEUS}, and no
    # database id (it belongs to one Grafana instance).
    assert "__inputs" not in dashboard and dashboard.get("id") is None
    assert "${DS_" not in DASHBOARD_FILE.read_text(encoding="utf-8")
    panels = all_panels(dashboard)
    assert len(panels) >= 10
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"


def test_every_panel_queries_the_provisioned_datasource(dashboard: dict[str, Any]) -> None:
    ds = provisioned_datasource()
    wanted = {"type": "prometheus", "uid": ds["uid"]}
    for panel in all_panels(dashboard):
        assert panel["type"] in PANEL_TYPES, panel["title"]
        assert panel["title"].strip()
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] >= 1 and grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == wanted, panel["title"]
        targets = panel["targets"]
        assert targets, f"{panel['title']}: no query"
        assert len({t["refId"] for t in targets}) == len(targets), panel["title"]
        for target in targets:
            assert target.get("datasource", wanted) == wanted, panel["title"]
            assert target["expr"].strip(), panel["title"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            assert variable["datasource"] == wanted, variable["name"]


def test_dashboard_shows_the_pipeline_end_to_end(dashboard_queries: dict[str, str]) -> None:
    text = "\n".join(dashboard_queries.values())
    missing = [what for what, metric in PIPELINE.items() if metric not in text]
    assert not missing, f"the dashboard does not show: {missing}"
    for quantile in ("0.5", "0.99"):
        assert f"histogram_quantile({quantile}, sum by (le) (rate(" \
            "peacewatch_end_to_end_latency_seconds_bucket" in text


def test_prometheus_parses_every_panel_query(
    dashboard_queries: dict[str, str], promtool: str, tmp_path: Path
) -> None:
    """Each query, its Grafana variables filled in, as a recording rule: promtool parses it with
    Prometheus's own PromQL parser and names the bad one."""
    rules = [{"record": f"dashboard:query_{i}", "expr": expr}
             for i, expr in enumerate(dashboard_queries.values())]
    rules_file = tmp_path / "dashboard-queries.yml"
    rules_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}),
                          encoding="utf-8")
    result = subprocess.run([promtool, "check", "rules", str(rules_file)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


@pytest.mark.parametrize("broken", ["sum by (le (rate(x[5m]))", "rate(x)"])
def test_promtool_rejects_a_broken_query(promtool: str, tmp_path: Path, broken: str) -> None:
    """The parse check above can fail."""
    rules_file = tmp_path / "broken.yml"
    rules_file.write_text(json.dumps(
        {"groups": [{"name": "d", "rules": [{"record": "d:q", "expr": broken}]}]}),
        encoding="utf-8")
    result = subprocess.run([promtool, "check", "rules", str(rules_file)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode != 0
