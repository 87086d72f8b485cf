"""Vercel: the stack's team (`vercel`) and a consumer's `vercel` block (components.vercel_delivery).

Per-stack isolation, as for the cloud accounts (settings.accounts): each stack file declares its
own Vercel team and the projects of that team it may write to; the provider and every resource
are bound to that team, and a consumer may name only one of those projects. A non-prod stack may
write only the `preview` target, so a dev config can never replace a project's production values.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    ValidationInfo,
    model_validator,
)

from .errors import Problem, fail, rule
from .rules import (
    Settings,
    no_duplicates,
    non_empty,
)

VercelTarget = Literal["production", "preview", "development"]
# Stacks whose variables may go to a project's production target (the live app's environment).
PROD_STACKS = frozenset({"prod"})
# The targets a stack may write: prod the live app (and one branch's previews), every other
# stack only preview deployments (`development` is refused everywhere: see Vercel._targets_that_work).
PROD_TARGETS = ("production", "preview")
OTHER_TARGETS = ("preview",)
TEAM_ID = re.compile(r"^team_[A-Za-z0-9]{1,64}$")
PROJECT_ID = re.compile(r"^prj_[A-Za-z0-9]{1,64}$")


def allowed_targets(stack: str) -> tuple[str, ...]:
    return PROD_TARGETS if stack in PROD_STACKS else OTHER_TARGETS


def _team_id(value: str) -> str:
    if not TEAM_ID.match(value):
        fail(
            rule(
                "is not a Vercel team id (team_ followed by letters and digits)",
                "copy the Team ID from the team's Settings > General page in the Vercel dashboard",
            )
        )
    return value


def _project_ids(values: list[str]) -> list[str]:
    problems = [
        rule(
            "is not a Vercel project id (prj_ followed by letters and digits)",
            "copy the Project ID from the project's Settings > General page in the Vercel dashboard",
            at=[i],
            value=v,
        )
        for i, v in enumerate(values)
        if not PROJECT_ID.match(v)
    ]
    if problems:
        fail(*problems)
    return values


class VercelTeam(Settings):
    """vercel: the stack's Vercel team and the projects of it the stack may write to."""

    team: Annotated[str, AfterValidator(_team_id)] = Field(
        description="the team id the provider and every variable are bound to; the stack's "
        "VERCEL_API_TOKEN must be scoped to this team only",
        examples=["team_a1b2c3d4e5f6g7h8i9j0k1l2"],
    )
    projects: Annotated[
        list[str],
        AfterValidator(_project_ids),
        no_duplicates(),
    ] = Field(
        default_factory=list,
        description="the projects of the team a consumer's vercel.projectId may name",
        examples=[["prj_a1b2c3d4e5f6g7h8i9j0k1l2"]],
    )


class Vercel(Settings):
    """Where a consumer's variables are written in Vercel (sensitive environment variables)."""

    project_id: Annotated[str, Field(min_length=1)] = Field(examples=["prj_..."])
    # Optional: when set it must be the stack's vercel.team (the variables always go to that team).
    team_id: Annotated[str, Field(min_length=1)] | None = Field(None, examples=["team_..."])
    targets: Annotated[
        list[VercelTarget],
        non_empty("must list at least one Vercel target", "e.g. targets: [preview]"),
        no_duplicates(),
    ]
    # Scopes the `preview` variables to one git branch's preview builds (required for prod).
    git_branch: Annotated[str, Field(min_length=1)] | None = Field(None, examples=["staging"])
    # Step 1 of removing this block from a protected stack: lifts `protect` from the variables.
    retire: bool = Field(False, examples=[True])

    @model_validator(mode="after")
    def _targets_that_work(self, info: ValidationInfo) -> Vercel:
        stack = (info.context or {}).get("stack", "")
        problems = []
        allowed = allowed_targets(stack)
        for i, target in enumerate(self.targets):
            if target == "development":
                problems.append(
                    rule(
                        "is not allowed: every variable is written as sensitive, and Vercel refuses "
                        "sensitive variables on the development target",
                        "remove development from targets; for local development take the variables from "
                        "`make outputs STACK=<stack> CONSUMER=<name>`",
                        at=["targets", i],
                        value=target,
                    )
                )
            elif target not in allowed:
                problems.append(
                    rule(
                        f"is not allowed on stack '{stack}': only stack "
                        f"{' or '.join(sorted(PROD_STACKS))} writes a project's production target; "
                        f"stack '{stack}' may write only {', '.join(allowed)}",
                        "use targets: [preview] (the preview deployments of the stack's own project)",
                        at=["targets", i],
                        value=target,
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
        if "stack_vercel" in (info.context or {}):  # the loader passes the stack's raw `vercel` block
            problems += self._team_binding((info.context or {})["stack_vercel"], stack)
        if problems:
            fail(*problems)
        return self

    def _team_binding(self, block: Any, stack: str) -> list[Problem]:
        """The project must be one the stack's team declares (the block's own errors are reported
        at `vercel`; a block too broken to compare is left to them)."""
        if block is None:
            return [
                rule(
                    f"needs the stack's Vercel team: stack '{stack}' declares no `vercel` key, so the "
                    "project's team (and the token's scope) is unknown",
                    f"add `vercel: {{team: team_..., projects: [{self.project_id}]}}` to "
                    f"Pulumi.{stack}.yaml (the team that owns the project; docs/vercel.md)",
                    at=["projectId"],
                    value=self.project_id,
                )
            ]
        team, projects = (
            (block.get("team"), block.get("projects")) if isinstance(block, dict) else (None, None)
        )
        if not isinstance(team, str) or not isinstance(projects, list):
            return []
        problems = []
        if self.team_id is not None and self.team_id != team:
            problems.append(
                rule(
                    f"is not the Vercel team of stack '{stack}' (vercel.team = \"{team}\"): a stack "
                    "writes only into its own team's projects",
                    f'remove teamId (the variables go to "{team}"), or move this consumer\'s '
                    "vercel block to the stack that owns that team",
                    at=["teamId"],
                    value=self.team_id,
                )
            )
        if self.project_id not in projects:
            shown = ", ".join(str(p) for p in projects) or "none"
            problems.append(
                rule(
                    f"is not one of the projects stack '{stack}' declares for its Vercel team "
                    f'"{team}" (vercel.projects: {shown}): a stack writes only into its own team\'s projects',
                    "name the project this stack's team owns; add a project to vercel.projects only "
                    "after checking in the Vercel dashboard that it belongs to that team",
                    at=["projectId"],
                    value=self.project_id,
                )
            )
        return problems
