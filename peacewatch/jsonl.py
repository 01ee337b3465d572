"""JSON Lines as every command reads it: one object a line, blank lines skipped, and a bad line
named by its origin and number."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from peacewatch.errors import PeacewatchError


def read_jsonl(stream: Iterable[str], origin: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, object) per non-empty line, or (line number, error message): the caller
    decides whether a bad line stops it or is reported and skipped."""
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, f"{origin}:{number}: not JSON: {exc.msg} (column {exc.colno})"
            continue
        if not isinstance(value, dict):
            yield number, f"{origin}:{number}: expected a JSON object, got {type(value).__name__}"
            continue
        yield number, value


def parse_jsonl(lines: Iterable[str], origin: str) -> list[dict[str, Any]]:
    """Every object of ``lines``; the first bad line is an error that names it."""
    out = []
    for _, value in read_jsonl(lines, origin):
        if isinstance(value, str):
            raise PeacewatchError(value)
        out.append(value)
    return out


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every object of a JSON Lines file; a missing file or a bad line is an error."""
    try:
        with path.open(encoding="utf-8") as handle:
            return parse_jsonl(handle, str(path))
    except OSError as exc:
        raise PeacewatchError(f"cannot read {path}: {exc.strerror}") from exc
