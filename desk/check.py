"""``peacewatch check`` for the desk: the record opens (and is migrated), the address to serve."""

from __future__ import annotations

from ipaddress import ip_address

from desk.store.migrations import schema_version
from desk.store.open import open_record
from peacewatch.errors import PeacewatchError
from peacewatch.settings import Settings


def check(settings: Settings) -> int:
    """Print one line per check; return the number that failed."""
    desk = settings.desk
    failures = 0
    try:
        store = open_record(settings)
        print(f"desk: record {store.db.describe()} ok (schema version "
              f"{schema_version(store.db)})")
        store.close()
    except PeacewatchError as exc:
        print(f"desk: record FAILED: {exc}")
        failures += 1
    if desk.serve:
        exposed = not _loopback(desk.host) and desk.read_token is None
        print(f"desk: the page and API on http://{desk.host}:{desk.port}/"
              + (" (not loopback: set read_token)" if exposed else ""))
    if desk.write_token is None:
        print("desk: no write_token: the API takes no writes (the page's buttons still do)")
    return failures


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False
