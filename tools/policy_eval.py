"""Evaluates the CrossGuard policies over a mocked program run, as closely as it can to the analyzer.

The engine sends each resource's inputs as the provider's Check returned them (its schema
defaults filled in: tools.provider_defaults); the analyzer deserializes them, wraps them in an
unknown-checking proxy and calls every enabled policy with the per-stack policy config (the
policies' schema defaults overlaid by the JSON file, validated with jsonschema). This module
repeats those steps for the resources the mock harness recorded, so a stack can be checked
without the Pulumi CLI or cloud credentials. It is a pre-flight check, not a substitute for
`pulumi preview --policy-pack policy`: the providers' own validation and values only the cloud
knows are not seen here.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
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

from .harness import ROOT, ProgramRun, Registration
from .provider_defaults import checked_inputs
from .sdk_internals import (
    NotApplicableError,
    UnknownValueError,
    deserialize_properties,
    unknown_checking_proxy,
)

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


LEVELS = [level.value for level in EnforcementLevel]


def config_schema(policies: list[Policy]) -> dict[str, Any]:
    """JSON Schema of a policy config file for this pack (what `--policy-pack-config` accepts)."""
    properties: dict[str, Any] = {}
    for policy in policies:
        own = dict(policy.config_schema.properties) if policy.config_schema else {}
        properties[policy.name] = {
            "oneOf": [
                {"type": "string", "enum": LEVELS},
                {
                    "type": "object",
                    "properties": {"enforcementLevel": {"type": "string", "enum": LEVELS}, **own},
                    "additionalProperties": False,
                },
            ]
        }
    return {"type": "object", "properties": properties, "additionalProperties": False}


def _config_problems(error: jsonschema.ValidationError) -> list[str]:
    """One jsonschema error in the words of a policy config file."""
    if error.validator == "oneOf":  # a policy's entry: a level string or its settings object
        branch = 1 if isinstance(error.instance, dict) else 0
        causes = [e for e in error.context or [] if e.relative_schema_path[0] == branch]
        return [p for cause in causes for p in _config_problems(cause)]
    path = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties":
        schema = error.schema if isinstance(error.schema, dict) else {}
        instance = error.instance if isinstance(error.instance, dict) else {}
        extra = sorted(set(instance) - set(schema.get("properties", {})))
        if not path:
            return [f"'{name}' is not a policy of this pack" for name in extra]
        return [f"{path}.{name} is not in the policy's config schema" for name in extra]
    if error.validator == "enum":
        return [f"{path} {error.instance!r} is not a level"]
    return [f"{path} = {error.instance!r}: {error.message}"]


@functools.lru_cache(maxsize=8)
def _validator(schema_json: str) -> jsonschema.Draft7Validator:
    """One validator per config schema (a pack's schema is the same on every call)."""
    return jsonschema.Draft7Validator(json.loads(schema_json))


def resolve(policies: list[Policy], file_config: dict[str, Any]) -> dict[str, PolicySettings]:
    """Enforcement level and config per policy: schema defaults overlaid by the (validated) file."""
    validator = _validator(json.dumps(config_schema(policies), sort_keys=True))
    problems = [p for e in validator.iter_errors(file_config) for p in _config_problems(e)]
    if problems:
        raise PolicyConfigError("policy config problems:\n" + "\n".join(f"  - {p}" for p in problems))
    resolved: dict[str, PolicySettings] = {}
    for policy in policies:
        raw = file_config.get(policy.name, {})
        if isinstance(raw, str):  # shorthand: "policy-name": "advisory"
            raw = {"enforcementLevel": raw}
        level = EnforcementLevel(
            raw.get("enforcementLevel", (policy.enforcement_level or EnforcementLevel.ADVISORY).value)
        )
        schema = policy.config_schema.properties if policy.config_schema else {}
        config = {key: spec["default"] for key, spec in schema.items() if "default" in spec}
        config.update({k: v for k, v in raw.items() if k != "enforcementLevel"})
        resolved[policy.name] = PolicySettings(level, config)
    return resolved


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
