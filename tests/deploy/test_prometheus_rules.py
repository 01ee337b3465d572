"""The alerting rules: valid for Prometheus, unit-tested with `promtool test rules`, and every alert
both proven to fire and proven to stay quiet by those unit tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

PROMETHEUS_DIR = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
RULES_FILE = PROMETHEUS_DIR / "peacewatch-rules.yml"
RULES_TEST_FILE = PROMETHEUS_DIR / "peacewatch-rules.test.yml"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def run_promtool(promtool: str, *args: str | Path, cwd: Path | None = None) -> tuple[int, str]:
    result = subprocess.run([promtool, *map(str, args)], capture_output=True, text=True,
                            timeout=60, cwd=cwd, check=False)
    return result.returncode, result.stdout + result.stderr


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(RULES_FILE)["groups"] for rule in group["rules"]
            if "alert" in rule]


def test_promtool_check_rules(promtool: str) -> None:
    code, output = run_promtool(promtool, "check", "rules", RULES_FILE)
    assert code == 0, output
    assert f"SUCCESS: {sum(len(g['rules']) for g in load_yaml(RULES_FILE)['groups'])} rules" \
        in output


def test_promtool_test_rules(promtool: str) -> None:
    code, output = run_promtool(promtool, "test", "rules", RULES_TEST_FILE)
    assert code == 0, output
    assert "SUCCESS" in output


def test_promtool_check_config_loads_the_rules(promtool: str) -> None:
    code, output = run_promtool(promtool, "check", "config", PROMETHEUS_CONFIG)
    assert code == 0, output
    assert f"Checking {RULES_FILE.parent}/peacewatch-rules.yml" in output


def test_the_alerts_cover_peacewatch_health() -> None:
    exprs = {rule["alert"]: rule["expr"] for rule in alert_rules()}
    wanted = {
        "no successful poll": "time() - peacewatch_last_successful_poll_timestamp_seconds",
        "notifications failing": "peacewatch_notifications_failed_total",
        "consumer lag growing": "deriv(peacewatch:consumer_lag_messages:sum",
        "dead letters rising": "peacewatch_dead_letters_total",
        "stage down": "peacewatch_stage_up == 0",
        "bus down": "peacewatch_bus_up == 0",
        "target down": 'up{job=~"peacewatch.*"} == 0',
    }
    for what, fragment in wanted.items():
        assert any(fragment in expr for expr in exprs.values()), f"no alert for {what}"


def test_every_alert_has_severity_and_text() -> None:
    for rule in alert_rules():
        assert rule.get("labels", {}).get("severity") in ("warning", "critical"), rule["alert"]
        assert rule["alert"].startswith("Peacewatch"), rule["alert"]
        annotations = rule.get("annotations", {})
        assert annotations.get("summary") and annotations.get("description"), rule["alert"]


def test_every_alert_is_unit_tested_firing_and_quiet() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in load_yaml(RULES_TEST_FILE)["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert names - firing == set(), "alerts never shown to fire in peacewatch-rules.test.yml"
    assert names - quiet == set(), "alerts never shown to stay quiet in peacewatch-rules.test.yml"


# Each change makes a rule wrong in a way an operator would notice; the unit tests must catch it.
MUTATIONS = {
    "poll staleness threshold": (
        "peacewatch_last_successful_poll_timestamp_seconds > 3600)",
        "peacewatch_last_successful_poll_timestamp_seconds > 7200)"),
    "polls from processes that never poll": (
        "\n            and peacewatch_last_successful_poll_timestamp_seconds > 0", ""),
    "receivers that never delivered": (
        "\n                or 0 * sum by (receiver) "
        "(rate(peacewatch_notifications_failed_total[10m]))", ""),
    "stale lag gauges counted twice": (
        "sum by (stage, topic) (max by (stage, topic, partition) "
        "(peacewatch_consumer_lag_messages))",
        "sum by (stage, topic) (peacewatch_consumer_lag_messages)"),
    "304 counted as an error": ('outcome!~"2..|304"', 'outcome!~"2.."'),
    "dead letters severity": ("severity: warning\n        annotations:\n          summary: "
                              '"messages from',
                              "severity: critical\n        annotations:\n          summary: "
                              '"messages from'),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_unit_tests_catch_a_wrong_rule(promtool: str, tmp_path: Path, mutation: str) -> None:
    old, new = MUTATIONS[mutation]
    rules = RULES_FILE.read_text(encoding="utf-8")
    assert rules.count(old) == 1, f"mutation {mutation!r} no longer applies to the rules file"
    (tmp_path / RULES_FILE.name).write_text(rules.replace(old, new), encoding="utf-8")
    shutil.copy(RULES_TEST_FILE, tmp_path / RULES_TEST_FILE.name)
    code, output = run_promtool(promtool, "check", "rules", tmp_path / RULES_FILE.name)
    assert code == 0, f"the mutated rules must still be valid:\n{output}"
    code, output = run_promtool(promtool, "test", "rules", RULES_TEST_FILE.name, cwd=tmp_path)
    assert code != 0 and "FAILED" in output, f"unit tests missed: {mutation}"
