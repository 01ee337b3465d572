"""The real Prometheus server (Debian's 2.42) scrapes a running peacewatch with the alerting rules
loaded; the test reads the metrics, the target's health and the rules back through Prometheus's
HTTP API, and runs every dashboard query against it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from peacewatch import __version__

REPO_ROOT = Path(__file__).resolve().parents[2]
RULES_FILE = REPO_ROOT / "deploy" / "prometheus" / "peacewatch-rules.yml"
PEACEWATCH = Path(sys.executable).parent / "peacewatch"
# Every stage in one process: each one's stage_up series is scraped.
PEACEWATCH_COMMAND = "run"
STARTUP_TIMEOUT_S = 15.0

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # loopback only
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_for(what: str, probe: Callable[[], T | None], proc: subprocess.Popen[bytes],
             log: Path, timeout_s: float = STARTUP_TIMEOUT_S) -> T:
    """Poll until ``probe`` returns something; fail with the process's log if it dies or stalls."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what}: the process exited with {proc.returncode}:\n"
                        f"{log.read_text(errors='replace')[-3000:]}")
        try:
            result = probe()
        except OSError:
            result = None
        if result is not None:
            return result
        time.sleep(0.2)
    pytest.fail(f"{what}: nothing after {timeout_s:.0f}s:\n"
                f"{log.read_text(errors='replace')[-3000:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def clean_env() -> dict[str, str]:
    """The environment without PEACEWATCH_* settings a developer may have exported."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PEACEWATCH_")}


@pytest.fixture
def peacewatch_metrics_port(tmp_path: Path) -> Iterator[int]:
    """A real `peacewatch` process on the embedded bus, its metrics on a free loopback port."""
    port = free_port()
    config = tmp_path / "peacewatch.toml"
    # No feed lists, feed polling or document folders: nothing here may reach the internet.
    config.write_text(
        f'data_dir = "{tmp_path / "data"}"\n'
        "[metrics]\n"
        'host = "127.0.0.1"\n'
        f"port = {port}\n"
        "[desk]\n"
        "port = 0\n"
        "[collectors]\n"
        "documents = []\n"
        "baseline_documents = []\n"
        "feed_lists = []\n"
        "poll_feeds = false\n",
        encoding="utf-8")
    log = tmp_path / "peacewatch.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(PEACEWATCH), "--config", str(config), PEACEWATCH_COMMAND],
                                stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path,
                                env=clean_env())
    try:
        wait_for("peacewatch /readyz",
                 lambda: True if http_get(f"http://127.0.0.1:{port}/readyz")[0] == 200 else None,
                 proc, log)
        yield port
    finally:
        stop(proc)


@pytest.fixture
def prometheus_url(prometheus_bin: str, peacewatch_metrics_port: int,
                   tmp_path: Path) -> Iterator[str]:
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES_FILE)],
        "scrape_configs": [{
            "job_name": "peacewatch",
            "static_configs": [{"targets": [f"127.0.0.1:{peacewatch_metrics_port}"]}],
        }],
    }), encoding="utf-8")
    log = tmp_path / "prometheus.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [prometheus_bin, f"--config.file={config}",
             f"--storage.tsdb.path={tmp_path / 'prometheus-data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for("prometheus /-/ready",
                 lambda: True if http_get(f"{url}/-/ready")[0] == 200 else None, proc, log)
        yield url
    finally:
        stop(proc)
    assert proc.returncode == 0, f"prometheus exited with {proc.returncode}"


def api(url: str, path: str, **params: str) -> Any:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    status, body = http_get(f"{url}/api/v1/{path}{query}")
    data = json.loads(body)
    assert status == 200 and data["status"] == "success", f"{path} {params}: {status} {data}"
    return data["data"]


def instant(url: str, promql: str) -> list[dict[str, Any]]:
    data = api(url, "query", query=promql)
    result: list[dict[str, Any]] = data["result"]
    return result


def eventually(what: str, probe: Callable[[], T | None], timeout_s: float = 15.0) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = probe()
        if result is not None:
            return result
        time.sleep(0.25)
    pytest.fail(f"{what}: not seen within {timeout_s:.0f}s")


def test_prometheus_scrapes_peacewatch_and_loads_the_rules(
    prometheus_url: str, peacewatch_metrics_port: int, dashboard_queries: dict[str, str]
) -> None:
    url = prometheus_url
    target = f"127.0.0.1:{peacewatch_metrics_port}"

    build = eventually("peacewatch_build_info in Prometheus",
                       lambda: instant(url, "peacewatch_build_info") or None)
    assert len(build) == 1
    assert build[0]["metric"] == {"__name__": "peacewatch_build_info", "job": "peacewatch",
                                  "instance": target, "version": __version__}
    assert build[0]["value"][1] == "1"

    (up,) = instant(url, 'up{job="peacewatch"}')
    assert up["value"][1] == "1"
    stages = {s["metric"]["stage"]: s["value"][1]
              for s in instant(url, 'peacewatch_stage_up{job="peacewatch"}')}
    assert stages == {"collectors": "1", "classify": "1", "stories": "1", "alerts": "1",
                      "record": "1", "web": "1"}

    # The rule groups as written in the rules file, each rule evaluated without error on live
    # data (health "unknown" until the first evaluation, "err" with lastError if it failed).
    written = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))["groups"]

    def rules_evaluated() -> list[dict[str, Any]] | None:
        groups: list[dict[str, Any]] = api(url, "rules")["groups"]
        healthy = all(r["health"] == "ok" for g in groups for r in g["rules"])
        return groups if groups and healthy else None

    groups = eventually("every rule evaluated healthy", rules_evaluated)
    loaded = {g["name"]: g for g in groups}
    assert sorted(loaded) == sorted(g["name"] for g in written)
    for group in written:
        assert [r["name"] for r in loaded[group["name"]]["rules"]] == [
            r.get("alert") or r["record"] for r in group["rules"]]
        assert loaded[group["name"]]["file"] == str(RULES_FILE)
    alerts = {r["name"]: r for g in groups for r in g["rules"] if r["type"] == "alerting"}
    assert "PeacewatchStageDown" in alerts
    # A healthy peacewatch without feeds trips nothing, not even a pending alert: the
    # never-polled gauge (0) is neither "stale" nor "never polled" without feeds.
    active = [(a["labels"]["alertname"], a["state"]) for a in api(url, "alerts")["alerts"]]
    assert active == []

    # Every dashboard query runs on the live data without a query error.
    for key, promql in dashboard_queries.items():
        result = api(url, "query", query=promql)  # asserts status "success"
        assert result["resultType"] in ("vector", "scalar"), key
