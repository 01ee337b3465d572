"""Settings of the desk: the record (what analysts read, kept as long as configured) and the
web page and JSON API that serve it.

The record is SQLite with full-text search (FTS5) under ``data_dir`` by default; with
``record.postgres_dsn`` it is a PostgreSQL database shared by every worker on every host. The
server binds to loopback unless ``host`` says otherwise. Tokens are ``SecretStr``: given inline
(best from the environment, ``PEACEWATCH_DESK__WRITE_TOKEN``) or as ``<name>_file``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, model_validator

from peacewatch.settings.base import Section


def _read_secret_file(data: Any, name: str) -> Any:
    """Fill ``<name>`` from ``<name>_file`` when only the file is given."""
    if not isinstance(data, dict) or data.get(f"{name}_file") is None:
        return data
    out = dict(data)
    path = out[f"{name}_file"]
    if out.get(name) is not None:
        raise ValueError(f"give {name} or {name}_file, not both")
    try:
        out[name] = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"{name}_file: cannot read {path}: {exc.strerror}") from exc
    return out


class RecordSettings(Section):
    """Where the record lives and how long it keeps what it reads."""

    # SQLite file; relative paths are under data_dir.
    path: Path = Path("record.sqlite3")
    # e.g. "postgresql://peacewatch@db.example/peacewatch"; set: the record is on PostgreSQL.
    postgres_dsn: SecretStr | None = None
    postgres_dsn_file: Path | None = None
    # Items, developments and deliveries older than this (by item time) are forgotten;
    # None keeps them forever. Feedback and replays are kept regardless.
    retention_days: float | None = Field(default=None, gt=0)
    consumer_group: str = Field(default="peacewatch-record", min_length=1)
    # Messages written per transaction.
    batch_size: int = Field(default=500, ge=1, le=10_000)

    @model_validator(mode="before")
    @classmethod
    def _files(cls, data: Any) -> Any:
        return _read_secret_file(data, "postgres_dsn")

    @property
    def backend(self) -> str:
        return "postgresql" if self.postgres_dsn is not None else "sqlite"


class DeskSettings(Section):
    record: RecordSettings = RecordSettings()
    # The web page and API: part of `peacewatch run` and `peacewatch serve`.
    serve: bool = True
    host: str = "127.0.0.1"
    # 0 picks a free port; the chosen one is logged.
    port: int = Field(default=8787, ge=0, le=65535)
    # Writes to the API (feedback) need this as a bearer token; unset, the API takes no writes
    # (the page's own buttons still work: each carries a form token the server signed).
    write_token: SecretStr | None = None
    write_token_file: Path | None = None
    # Set: reads need it too, as a bearer token (API) or entered once on the page (a cookie).
    read_token: SecretStr | None = None
    read_token_file: Path | None = None
    # Largest request body accepted (feedback is a few hundred bytes).
    max_body_bytes: int = Field(default=4096, ge=256, le=1_048_576)
    page_size: int = Field(default=25, ge=1, le=200)

    @model_validator(mode="before")
    @classmethod
    def _files(cls, data: Any) -> Any:
        return _read_secret_file(_read_secret_file(data, "write_token"), "read_token")
