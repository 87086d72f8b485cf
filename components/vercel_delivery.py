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
    wrapped here; Vercel applies new values on the project's next deployment.
    """

    def __init__(
        self, name: str, args: VercelDeliveryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("salla:analytics:VercelDelivery", name, None, opts)
        import pulumiverse_vercel as vercel  # only stacks with a `vercel` block load the large SDK

        s = args.settings
        self.variables = vercel.ProjectEnvironmentVariables(
            f"{name}-variables",
            project_id=s.project_id,
            team_id=s.team_id,
            variables=[
                vercel.ProjectEnvironmentVariablesVariableArgs(
                    key=key,
                    value=pulumi.Output.secret(args.variables[key]),
                    targets=list(s.targets),
                    sensitive=True,
                    comment="managed by salla-analytics-infra (pulumi)",
                )
                for key in sorted(args.variables)
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"project_id": s.project_id})
