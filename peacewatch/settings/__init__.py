"""One validated settings object for the whole process: a TOML or YAML file plus environment.

Precedence, highest first: keyword arguments, ``PEACEWATCH_*`` environment variables (nested keys
joined by ``__``, e.g. ``PEACEWATCH_BUS__KAFKA__BOOTSTRAP_SERVERS='["127.0.0.1:9092"]'``), the
file named by ``--config`` or ``PEACEWATCH_CONFIG``, then the defaults below. Unknown keys and bad
values are refused with a ``ConfigError`` that names the key.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from peacewatch.errors import ConfigError
from peacewatch.settings.alerts import AlertsSettings
from peacewatch.settings.bus import BusSettings
from peacewatch.settings.collectors import CollectorsSettings
from peacewatch.settings.desk import DeskSettings
from peacewatch.settings.processors import ProcessorsSettings
from peacewatch.settings.runtime import DaemonSettings, LoggingSettings, MetricsSettings

ENV_PREFIX = "PEACEWATCH_"
CONFIG_ENV = "PEACEWATCH_CONFIG"
REPO_ROOT = Path(__file__).resolve().parents[2]


def default_seeds_dir() -> Path:
    """The checkout's seeds/ when running from one, else the copy a normal install made."""
    checkout = REPO_ROOT / "seeds"
    if checkout.is_dir():
        return checkout
    return Path(sys.prefix) / "share" / "peacewatch" / "seeds"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True
    )

    # Where durable state lives (embedded bus, stage state); relative paths are under it.
    data_dir: Path = Path(".peacewatch")
    # The project's seeds/ folder: tracked issues, actors, known state, default sources.
    seeds_dir: Path = Field(default_factory=default_seeds_dir)
    bus: BusSettings = BusSettings()
    collectors: CollectorsSettings = CollectorsSettings()
    processors: ProcessorsSettings = ProcessorsSettings()
    alerts: AlertsSettings = AlertsSettings()
    desk: DeskSettings = DeskSettings()
    metrics: MetricsSettings = MetricsSettings()
    logging: LoggingSettings = LoggingSettings()
    daemon: DaemonSettings = DaemonSettings()
    # Not a setting of its own: the file these settings were read from, for messages.
    config_file: Path | None = Field(default=None, exclude=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings)

    def path(self, p: Path) -> Path:
        """Resolve a configured path: absolute stays, relative is under ``data_dir``."""
        return p if p.is_absolute() else self.data_dir / p


def _read_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"settings file {path} does not exist")
    try:
        if path.suffix == ".toml":
            data = TomlConfigSettingsSource(Settings, toml_file=path).toml_data
        elif path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        else:
            raise ConfigError(f"settings file {path}: use .toml, .yaml or .yml")
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"settings file {path} is not valid: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"settings file {path}: the top level must be a table of keys")
    return dict(data)


def _check_unknown_env(environ: dict[str, str]) -> None:
    """pydantic-settings ignores unknown top-level variables; a typo must not pass silently."""
    known = {name.upper() for name in Settings.model_fields}
    for var in environ:
        if not var.startswith(ENV_PREFIX) or var == CONFIG_ENV or var.startswith("PEACEWATCH_TEST"):
            continue
        head = var[len(ENV_PREFIX):].split("__", 1)[0]
        if head not in known:
            raise ConfigError(f"environment variable {var}: unknown settings key {head.lower()!r}")


def describe_validation_error(exc: ValidationError, origin: str) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"]) or "(top level)"
        reason = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"{key}: {reason}")
    return f"invalid settings ({origin}): " + "; ".join(lines)


M = TypeVar("M", bound=BaseModel)


def parse_toml_model(text: str, model: type[M], origin: str) -> M:
    """A data file of seeds/ (watchlist, baseline): TOML validated into ``model``; any problem
    is a ConfigError that names ``origin`` and the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin}: not valid TOML: {exc}") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, origin)) from exc


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read, merge and validate settings; raise ConfigError naming every bad key."""
    environ = dict(os.environ)
    _check_unknown_env(environ)
    if config_file is None and environ.get(CONFIG_ENV):
        config_file = Path(environ[CONFIG_ENV])
    file_data = _read_file(config_file) if config_file else {}
    origin = f"file {config_file} and environment" if config_file else "environment"
    try:
        merged = _deep_merge(_deep_merge(file_data, _env_values()), overrides)
        return Settings.model_validate({**merged, "config_file": config_file})
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, origin)) from exc


def _env_values() -> dict[str, Any]:
    """The ``PEACEWATCH_*`` values, parsed into nested dicts by pydantic-settings' own source."""
    source = EnvSettingsSource(Settings, env_prefix=ENV_PREFIX, env_nested_delimiter="__")
    return dict(source())


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


__all__ = ["ConfigError", "Settings", "load_settings"]
