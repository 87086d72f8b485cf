"""A consumer's `vercel` block (components.vercel_delivery)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
)

from .rules import (
    Settings,
    no_duplicates,
    non_empty,
)

VercelTarget = Literal["production", "preview", "development"]


class Vercel(Settings):
    """Where a consumer's variables are written in Vercel (sensitive environment variables)."""

    project_id: Annotated[str, Field(min_length=1)] = Field(examples=["prj_..."])
    team_id: Annotated[str, Field(min_length=1)] | None = Field(None, examples=["team_..."])
    targets: Annotated[
        list[VercelTarget],
        non_empty("must list at least one Vercel target", "e.g. targets: [production, preview]"),
        no_duplicates(),
    ]
