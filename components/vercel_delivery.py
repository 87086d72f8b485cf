"""VercelDelivery: a consumer's environment variables, written into its Vercel project."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from settings import Vercel


@dataclass
class VercelDeliveryArgs:
    settings: Vercel
    variables: Mapping[str, pulumi.Input[str]]
    # The stack's `vercel.team` (validation requires it with any `vercel` block).
    team: str | None
    # The stack's `protect` (prod): the variables cannot be deleted, so a destroy cannot empty the
    # app's environment; lifted by `retire` (the consumer's or the block's), step 1 of a removal.
    protect: bool = False
    retiring: bool = False


class VercelDelivery(pulumi.ComponentResource):
    """One ProjectEnvironmentVariables resource: every variable sensitive and secret.

    The SDK does not make the nested `variables[].value` secret on its own, so each value is
    wrapped here; Vercel applies new values on the project's next deployment. With `gitBranch`,
    the `preview` target gets its own entry per variable, scoped to that branch (Vercel scopes
    only preview variables to a branch); the other targets share one entry per variable. The
    resource names the stack's team explicitly (as the provider does) and is protected in prod.
    """

    def __init__(
        self, name: str, args: VercelDeliveryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("salla:analytics:VercelDelivery", name, None, opts)
        import pulumiverse_vercel as vercel  # only stacks with a `vercel` block load the large SDK

        s = args.settings
        # (targets, git branch) per entry: a branch-scoped preview entry stands on its own.
        scopes: list[tuple[list[str], str | None]] = []
        shared: list[str] = [t for t in s.targets if s.git_branch is None or t != "preview"]
        if shared:
            scopes.append((shared, None))
        if s.git_branch is not None:
            scopes.append((["preview"], s.git_branch))
        self.variables = vercel.ProjectEnvironmentVariables(
            f"{name}-variables",
            project_id=s.project_id,
            team_id=args.team,
            variables=[
                vercel.ProjectEnvironmentVariablesVariableArgs(
                    key=key,
                    value=pulumi.Output.secret(args.variables[key]),
                    targets=targets,
                    git_branch=branch,
                    sensitive=True,
                    comment="managed by salla-analytics-infra (pulumi)",
                )
                for key in sorted(args.variables)
                for targets, branch in scopes
            ],
            opts=pulumi.ResourceOptions(
                parent=self, protect=args.protect and not (args.retiring or s.retire)
            ),
        )
        self.register_outputs({"project_id": s.project_id, "team_id": args.team})
