"""Evaluates the CrossGuard policies over a mocked program run, as closely as it can to the analyzer.

The engine sends each resource's inputs as the provider's Check returned them (its schema
defaults filled in: tools.provider_defaults); the analyzer deserializes them, wraps them in an
unknown-checking proxy and calls every enabled policy with the per-stack policy config (the
policies' schema defaults overlaid by the JSON file, validated with jsonschema). This module
repeats those steps for the resources the mock harness recorded, so a stack can be checked
without the Pulumi CLI or cloud credentials. It is a pre-flight check, not a substitute for
`pulumi preview --policy-pack policy`: the providers' own validation and values only the cloud
knows are not seen here. The per-stack policy config is read and checked by tools.policy_config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .harness import ProgramRun, Registration
from .policy_config import PolicySettings
from .provider_defaults import checked_inputs
from .sdk_internals import (
    NotApplicableError,
    UnknownValueError,
    deserialize_properties,
    unknown_checking_proxy,
)


@dataclass(frozen=True)
class Finding:
    policy: str
    resource: str  # the resource's logical name
    resource_type: str
    level: str  # "mandatory" | "advisory"
    message: str


def _opts(reg: Registration) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=reg.protect,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=reg.parent or None,
    )


def _props(reg: Registration) -> Any:
    return unknown_checking_proxy(deserialize_properties(checked_inputs(reg.type, reg.wire_inputs)))


def _level(chosen: PolicySettings) -> str:
    return "advisory" if chosen.level == EnforcementLevel.ADVISORY else "mandatory"


def _unknown(policy: Policy, resource: str, type_: str, exc: UnknownValueError) -> Finding:
    return Finding(policy.name, resource, type_, "advisory", f"can't run during preview: {exc.message}")


def check_resource(
    policy: Policy,
    chosen: PolicySettings,
    resource: Registration,
    provider: Registration | None = None,
) -> list[Finding]:
    """Run one policy on one resource the way the analyzer's Analyze call does."""
    if chosen.level == EnforcementLevel.DISABLED or not isinstance(policy, ResourceValidationPolicy):
        return []
    level = _level(chosen)
    policy_provider = (
        PolicyProviderResource(provider.type, _props(provider), provider.urn, provider.name)
        if provider
        else None
    )
    args = ResourceValidationArgs(
        resource.type,
        _props(resource),
        resource.urn,
        resource.name,
        _opts(resource),
        policy_provider,
        chosen.config,
    )
    messages: list[str] = []

    def report(message: str, urn: str | None = None) -> None:
        messages.append(message)

    try:
        policy.validate(args, report)
    except UnknownValueError as exc:
        return [_unknown(policy, resource.name, resource.type, exc)]
    except NotApplicableError:
        return []
    return [Finding(policy.name, resource.name, resource.type, level, m) for m in messages]


def check_stack(policy: Policy, chosen: PolicySettings, resources: list[Registration]) -> list[Finding]:
    """Run one stack policy over all resources, as the analyzer's AnalyzeStack does (outputs)."""
    if chosen.level == EnforcementLevel.DISABLED or not isinstance(policy, StackValidationPolicy):
        return []
    by_urn = {r.urn: r for r in resources}
    policy_resources = [
        PolicyResource(
            r.type,
            unknown_checking_proxy(deserialize_properties(r.wire_state)),
            r.urn,
            r.name,
            _opts(r),
            None,
            None,
            [],
            {},
        )
        for r in resources
    ]
    findings: list[Finding] = []

    def report(message: str, urn: str | None = None) -> None:
        reg = by_urn.get(urn or "")
        findings.append(
            Finding(
                policy.name, reg.name if reg else "(stack)", reg.type if reg else "", _level(chosen), message
            )
        )

    try:
        policy.validate(StackValidationArgs(policy_resources, chosen.config), report)
    except UnknownValueError as exc:
        return [_unknown(policy, "(stack)", "", exc)]
    except NotApplicableError:
        return []
    return findings


def evaluate(run: ProgramRun, policies: list[Policy], settings: dict[str, PolicySettings]) -> list[Finding]:
    """Every policy over every custom resource of a mocked program run."""
    providers = {r.urn: r for r in run.resources if r.type.startswith("pulumi:providers:")}
    findings: list[Finding] = []
    for reg in run.resources:
        if not reg.custom:
            continue
        provider = providers.get(reg.provider.rsplit("::", 1)[0]) if reg.provider else None
        for policy in policies:
            findings.extend(check_resource(policy, settings[policy.name], reg, provider))
    custom = [r for r in run.resources if r.custom]
    for policy in policies:
        findings.extend(check_stack(policy, settings[policy.name], custom))
    return findings
