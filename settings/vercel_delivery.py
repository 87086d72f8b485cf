"""A consumer's `vercel` block (components.vercel_delivery)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    ValidationInfo,
    model_validator,
)

from .errors import fail, rule
from .rules import (
    Settings,
    no_duplicates,
    non_empty,
)

VercelTarget = Literal["production", "preview", "development"]
# Stacks whose credentials must not reach every preview build of a project.
PROD_STACKS = frozenset({"prod"})


class Vercel(Settings):
    """Where a consumer's variables are written in Vercel (sensitive environment variables)."""

    project_id: Annotated[str, Field(min_length=1)] = Field(examples=["prj_..."])
    team_id: Annotated[str, Field(min_length=1)] | None = Field(None, examples=["team_..."])
    targets: Annotated[
        list[VercelTarget],
        non_empty("must list at least one Vercel target", "e.g. targets: [production]"),
        no_duplicates(),
    ]
    # Scopes the `preview` variables to one git branch's preview builds (required for prod).
    git_branch: Annotated[str, Field(min_length=1)] | None = Field(None, examples=["staging"])

    @model_validator(mode="after")
    def _targets_that_work(self, info: ValidationInfo) -> Vercel:
        stack = (info.context or {}).get("stack", "")
        problems = []
        if "development" in self.targets:
            problems.append(
                rule(
                    "is not allowed: every variable is written as sensitive, and Vercel refuses sensitive "
                    "variables on the development target",
                    "remove development from targets; for local development take the variables from "
                    "`make outputs STACK=<stack> CONSUMER=<name>`",
                    at=["targets", self.targets.index("development")],
                    value="development",
                )
            )
        if "preview" in self.targets and stack in PROD_STACKS and self.git_branch is None:
            problems.append(
                rule(
                    f"is only allowed with gitBranch on stack '{stack}': without it every branch's preview "
                    "build would get production credentials",
                    "set gitBranch to the one branch whose previews may use them, or remove preview",
                    at=["targets", self.targets.index("preview")],
                    value="preview",
                )
            )
        if self.git_branch is not None and "preview" not in self.targets:
            problems.append(
                rule(
                    "is only used for the preview target (Vercel scopes only preview variables to a branch)",
                    "add preview to targets or remove gitBranch",
                    at=["gitBranch"],
                    value=self.git_branch,
                )
            )
        if problems:
            fail(*problems)
        return self
