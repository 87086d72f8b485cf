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


class VercelDelivery(pulumi.ComponentResource):
    """One ProjectEnvironmentVariables resource: every variable sensitive and secret.

    The SDK does not make the nested `variables[].value` secret on its own, so each value is
    wrapped here; Vercel applies new values on the project's next deployment. With `gitBranch`,
    the `preview` target gets its own entry per variable, scoped to that branch (Vercel scopes
    only preview variables to a branch); the other targets share one entry per variable.
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
            team_id=s.team_id,
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
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"project_id": s.project_id})
