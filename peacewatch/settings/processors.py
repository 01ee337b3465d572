"""Settings of the processors stage."""

from __future__ import annotations

from peacewatch.settings.base import Section


class ProcessorsSettings(Section):
    """Placeholder section, filled in by the processors stage."""
