"""docker-compose.yml: valid for Compose (checked by a real Compose implementation, without a
Docker engine), and consistent with what it runs: the Kafka version the tests pin, stage services
that are real peacewatch commands and can be scaled, settings that peacewatch accepts, Prometheus
scraping every stage, Grafana and the mail catcher wired to them."""

from __future__ import annotations

import base64
import importlib
import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from peacewatch.cli import make_parser
from peacewatch.settings import Settings, load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
PROMETHEUS_CONFIG = REPO_ROOT / "deploy" / "prometheus" / "prometheus.yml"
# scripts/kafka_broker.py pins the broker the tests run (scripts/ is on pytest's pythonpath).
KAFKA_VERSION: str = importlib.import_module("kafka_broker").KAFKA_VERSION
STAGES = {"collect": "collect", "process": "process", "alert": "alert"}  # service: command


def compose_commands() -> list[list[str]]:
    """The Compose implementations present: Debian's docker-compose, the docker compose plugin."""
    found = []
    if shutil.which("docker-compose"):
        found.append(["docker-compose"])
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True,
                                 timeout=30, check=False).returncode == 0:
        found.append([docker, "compose"])
    return found


@pytest.fixture(scope="module")
def compose() -> list[str]:
    commands = compose_commands()
    if not commands:
        reason = ("neither docker-compose (Debian package 'docker-compose'; `make test` installs "
                  "it) nor the docker compose plugin is installed")
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return commands[0]


def run_compose(compose: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    # A fixed project name: the default would be the checkout's folder name.
    env = {**os.environ, "COMPOSE_PROJECT_NAME": "peacewatch"}
    return subprocess.run([*compose, "-f", str(COMPOSE_FILE), *args], capture_output=True,
                          text=True, timeout=60, cwd=REPO_ROOT, env=env, check=False)


@pytest.fixture(scope="module")
def config(compose: list[str]) -> dict[str, Any]:
    """The file as Compose resolves it: anchors merged, paths absolute, variables filled in."""
    result = run_compose(compose, "config")
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = yaml.safe_load(result.stdout)
    return data


@pytest.mark.parametrize("command", compose_commands() or [["docker-compose"]],
                         ids=lambda c: " ".join(Path(part).name for part in c))
def test_compose_config_is_valid(command: list[str]) -> None:
    if not shutil.which(command[0]):
        pytest.skip(f"{command[0]} is not installed")
    result = run_compose(command, "config", "-q")
    assert result.returncode == 0, result.stderr
    assert not result.stdout.strip() and not result.stderr.strip(), result.stdout + result.stderr


def test_compose_refuses_a_broken_file(compose: list[str], tmp_path: Path) -> None:
    """The validation above can fail: a misspelt service key is refused."""
    broken = tmp_path / "docker-compose.yml"
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    assert text.count("\n    healthcheck:\n") >= 1
    broken.write_text(text.replace("\n    healthcheck:\n", "\n    healthchecks:\n", 1),
                      encoding="utf-8")
    result = subprocess.run([*compose, "-f", str(broken), "config", "-q"], capture_output=True,
                            text=True, timeout=60, cwd=tmp_path, check=False)
    assert result.returncode != 0
    assert "healthchecks" in result.stderr


def test_kafka_is_the_pinned_version_in_kraft_mode(config: dict[str, Any]) -> None:
    kafka = config["services"]["kafka"]
    assert kafka["image"] == f"apache/kafka:{KAFKA_VERSION}"
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    # KRaft wants 16 random bytes as URL-safe base64 without padding.
    cluster_id = env["CLUSTER_ID"]
    assert len(cluster_id) == 22
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
    assert kafka["healthcheck"]["test"]


def test_stage_services_are_scalable_peacewatch_commands(config: dict[str, Any]) -> None:
    parser = make_parser()
    for service, command in STAGES.items():
        spec = config["services"][service]
        assert spec["command"] == [command]
        parser.parse_args([command])  # a real subcommand (SystemExit otherwise)
        assert spec["build"]["context"] == str(REPO_ROOT)
        assert spec["image"] == config["services"]["collect"]["image"]
        # --scale needs containers without fixed names or host ports.
        assert "container_name" not in spec and "ports" not in spec, service
        assert spec["deploy"]["replicas"] >= 1
        assert spec["depends_on"]["kafka"]["condition"] == "service_healthy"
        assert spec["stop_grace_period"] == "15s"


def dockerfile_env() -> dict[str, str]:
    """The ENV instructions of the Dockerfile (continuation lines joined, shell quoting undone)."""
    logical, current = [], ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("#"):
            continue
        current += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            logical.append(current.strip())
            current = ""
    env = {}
    for instruction in logical:
        if instruction.startswith("ENV "):
            for pair in shlex.split(instruction[4:]):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def stage_settings(config: dict[str, Any], service: str,
                   monkeypatch: pytest.MonkeyPatch) -> Settings:
    """What `peacewatch` in that container reads: the image's environment, then the service's."""
    for key in list(os.environ):
        if key.startswith("PEACEWATCH_"):
            monkeypatch.delenv(key)
    env = {**dockerfile_env(), **config["services"][service]["environment"]}
    for key, value in env.items():
        if key.startswith("PEACEWATCH_"):
            monkeypatch.setenv(key, str(value))
    return load_settings()


@pytest.mark.parametrize("service", sorted(STAGES))
def test_peacewatch_accepts_the_container_settings(
    config: dict[str, Any], service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = stage_settings(config, service, monkeypatch)
    kafka_env = config["services"]["kafka"]["environment"]
    assert settings.bus.backend == "kafka"
    assert [f"PLAINTEXT://{s}" for s in settings.bus.kafka.bootstrap_servers] == [
        a for a in kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(",") if "://kafka:" in a]
    # Reachable by Prometheus from another container, on the port prometheus.yml scrapes.
    assert settings.metrics.host == "0.0.0.0"
    assert settings.metrics.port == 9464
    assert settings.data_dir == Path("/var/lib/peacewatch")
    assert settings.logging.json_format is True
    mail = [r for r in settings.alerts.receivers.values() if r.kind == "email"]
    assert [(r.host, r.port) for r in mail] == [("mailpit", 1025)]
    assert "mailpit" in config["services"]


def test_prometheus_scrapes_every_stage_with_the_rules(config: dict[str, Any]) -> None:
    prometheus = config["services"]["prometheus"]
    assert f"--config.file=/etc/prometheus/{PROMETHEUS_CONFIG.name}" in prometheus["command"]
    assert f"{PROMETHEUS_CONFIG.parent}:/etc/prometheus:ro" in prometheus["volumes"]
    scrape = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    rule_files = scrape["rule_files"]
    assert rule_files == ["peacewatch-rules.yml"]  # beside the config, in the mounted folder
    assert (PROMETHEUS_CONFIG.parent / rule_files[0]).is_file()
    scraped = {}
    for job in scrape["scrape_configs"]:
        for sd in job.get("dns_sd_configs", []):
            for name in sd["names"]:
                scraped[name] = sd["port"]
    assert scraped == dict.fromkeys([*STAGES, "serve"], 9464)


def test_grafana_and_the_mail_catcher(config: dict[str, Any]) -> None:
    grafana = config["services"]["grafana"]
    volumes = grafana["volumes"]
    assert f"{REPO_ROOT}/deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in volumes
    assert any(v.startswith(f"{REPO_ROOT}/deploy/grafana/dashboards:") for v in volumes)
    assert config["services"]["mailpit"]["image"].startswith("axllent/mailpit:")
    # Every published port is on loopback only: nothing of this stack faces the network.
    for name, service in config["services"].items():
        for port in service.get("ports", []):
            published = port if isinstance(port, str) else json.dumps(port)
            assert published.startswith("127.0.0.1:"), f"{name}: {port}"
