"""Fixtures of the alerts tests; the helpers live in ``alertkit`` (importable by the tests)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from alertkit import (
    clock,
    slack_server,
    smtp_starttls,
    smtp_tls,
    tls_files,
    webhook_server,
)

__all__ = ["clock", "slack_server", "smtp_starttls", "smtp_tls", "tls_files", "webhook_server"]
