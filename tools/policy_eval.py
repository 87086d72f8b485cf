"""Evaluates the CrossGuard policies over a mocked program run, the way the analyzer does.

The analyzer deserializes each resource's inputs, wraps them in an unknown-checking proxy and
calls every enabled policy with the per-stack policy config (schema defaults + the JSON file).
This module repeats exactly that for the resources the mock harness recorded, so a stack can be
checked without the Pulumi CLI or cloud credentials. It is a pre-flight check, not a substitute
for `pulumi preview --policy-pack policy`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
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
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from .harness import ROOT, ProgramRun, Registration

POLICY_CONFIG_DIR = ROOT / "policy" / "config"


class PolicyConfigError(Exception):
    """The per-stack policy config does not fit the pack."""


@dataclass(frozen=True)
class Finding:
    policy: str
    resource: str  # the resource's logical name
    resource_type: str
    level: str  # "mandatory" | "advisory"
    message: str


@dataclass(frozen=True)
class PolicySettings:
    level: EnforcementLevel
    config: dict[str, Any]


def load_policy_config(stack: str, path: Path | None = None) -> dict[str, Any]:
    path = path or POLICY_CONFIG_DIR / f"{stack}.json"
    if not path.exists():
        raise PolicyConfigError(f"no policy config {path} for stack '{stack}'")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise PolicyConfigError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PolicyConfigError(f"{path} must hold a JSON object")
    return data


def resolve(policies: list[Policy], file_config: dict[str, Any]) -> dict[str, PolicySettings]:
    """Enforcement level and config per policy: schema defaults overlaid by the file."""
    by_name = {p.name: p for p in policies}
    problems = [f"'{name}' is not a policy of this pack" for name in file_config if name not in by_name]
    resolved: dict[str, PolicySettings] = {}
    for policy in policies:
        raw = file_config.get(policy.name, {})
        if isinstance(raw, str):  # shorthand: "policy-name": "advisory"
            raw = {"enforcementLevel": raw}
        level = policy.enforcement_level or EnforcementLevel.ADVISORY
        if "enforcementLevel" in raw:
            try:
                level = EnforcementLevel(raw["enforcementLevel"])
            except ValueError:
                problems.append(f"{policy.name}.enforcementLevel {raw['enforcementLevel']!r} is not a level")
        schema = policy.config_schema.properties if policy.config_schema else {}
        config = {key: spec["default"] for key, spec in schema.items() if "default" in spec}
        for key, value in raw.items():
            if key == "enforcementLevel":
                continue
            if key not in schema:
                problems.append(f"{policy.name}.{key} is not in the policy's config schema")
            elif not _fits(schema[key], value):
                problems.append(f"{policy.name}.{key} = {value!r} is not a {schema[key]['type']}")
            else:
                config[key] = value
        resolved[policy.name] = PolicySettings(level, config)
    if problems:
        raise PolicyConfigError("policy config problems:\n" + "\n".join(f"  - {p}" for p in problems))
    return resolved


def _fits(spec: dict[str, Any], value: Any) -> bool:
    kind = spec.get("type")
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool) and value >= spec.get("minimum", value)
    if kind == "array":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return True


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
    return unknown_checking_proxy(deserialize_properties(reg.wire_inputs))


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
    """Run one policy on one resource exactly as the analyzer's Analyze call does."""
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
    except _NotApplicableError:
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
    except _NotApplicableError:
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
