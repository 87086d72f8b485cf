"""Guardrails for Vercel: a stack writes only the targets its policy config allows, in its own team.

The program refuses a `production` target outside prod and binds every variable to the stack's team
(`teamId`, settings.vercel_delivery); this policy holds the same line independently of the
program's code, from the per-stack policy config (dev: `preview` only; `team`: the stack's team).
The provider itself carries no `team`: the Vercel provider's Configure looks a configured team up
through the API, which a preview with the withheld placeholder token (settings.credentials) cannot.
"""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

VERCEL_VARIABLES = "vercel:index/projectEnvironmentVariables:ProjectEnvironmentVariables"
# Without a stack config the safe default: preview deployments only.
DEFAULT_TARGETS = ["preview"]


def validate_vercel_stack_binding(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != VERCEL_VARIABLES:
        return
    allowed = set(args.get_config().get("allowedTargets", DEFAULT_TARGETS))
    for i, variable in enumerate(args.props.get("variables") or []):
        extra = sorted(set(variable.get("targets") or []) - allowed)
        if extra:
            report(
                f"variables[{i}] ({variable.get('key')}) targets {', '.join(extra)}: this stack may write "
                f"only {', '.join(sorted(allowed))} (a dev config must never replace a project's "
                "production values).",
                None,
            )
    team, stack_team = args.props.get("teamId"), args.get_config().get("team")
    if not team or (stack_team and team != stack_team):
        report(
            f"teamId {team!r} is not the stack's team {stack_team!r}: every variable is bound to the "
            "stack's own Vercel team (`vercel.team`, and `team` in this policy's config).",
            None,
        )


vercel_stack_binding = ResourceValidationPolicy(
    name="vercel-stack-binding",
    description="Vercel variables go only to the targets the stack allows, in the stack's team.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate_vercel_stack_binding,
    config_schema=PolicyConfigSchema(
        properties={
            "allowedTargets": {
                "type": "array",
                "items": {"enum": ["production", "preview", "development"]},
                "default": DEFAULT_TARGETS,
            },
            "team": {"type": "string", "pattern": "^team_"},
        }
    ),
)
