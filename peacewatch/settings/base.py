"""The base every settings section shares: unknown keys are refused, values are validated."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A settings section. ``extra="forbid"`` turns a misspelt key into a start-up error."""

    model_config = ConfigDict(extra="forbid", frozen=True)
