"""The per-stack policy config (policy/config/<stack>.json): read, checked, resolved per policy.

What the engine does with `--policy-pack-config` before the analyzer runs a policy: the file is
checked against the pack's config schema (each policy's own schema, plus its enforcement level),
and each policy gets its schema defaults overlaid by the file. The check is jsonschema's, with
its errors put in the words of a policy config file.

`make validate` passes `accepted`: a file (in its virtualenv, so per jsonschema version) of the
SHA-256 digests of the schema-and-config pairs jsonschema accepted before. A config seen before
is not checked again, and jsonschema, a tenth of the pre-flight's time, is not even imported.
A config it rejected is never remembered: it is checked, and reported, every time.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pulumi_policy import EnforcementLevel, Policy

from .project import ROOT

if TYPE_CHECKING:
    import jsonschema

__all__ = [
    "LEVELS",
    "POLICY_CONFIG_DIR",
    "PolicyConfigError",
    "PolicySettings",
    "config_schema",
    "load_policy_config",
    "resolve",
]

POLICY_CONFIG_DIR = ROOT / "policy" / "config"


class PolicyConfigError(Exception):
    """The per-stack policy config does not fit the pack."""


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
    import jsonschema  # only when a config is checked (module docstring)

    return jsonschema.Draft7Validator(json.loads(schema_json))


# Part of each remembered digest: a change of the check (validator class, error handling) or of
# jsonschema's version forgets every earlier acceptance.
_CHECK = "Draft7Validator, every error"


def _problems(schema_json: str, file_config: dict[str, Any], accepted: Path | None) -> list[str]:
    """What is wrong with the file; [] for a config jsonschema accepted (now, or before)."""
    config_json = json.dumps(file_config, sort_keys=True)
    # Only a config that is exactly its JSON text (as one read from a file is) is remembered.
    memory = accepted if accepted is not None and json.loads(config_json) == file_config else None
    digest = ""
    if memory is not None:
        pair = f"{_CHECK}\n{importlib.metadata.version('jsonschema')}\n{schema_json}\n{config_json}"
        digest = hashlib.sha256(pair.encode()).hexdigest()
        try:
            if digest in memory.read_text().split():
                return []
        except OSError:  # none yet, or unreadable: check
            pass
    errors = list(_validator(schema_json).iter_errors(file_config))
    if not errors and memory is not None:
        try:
            with memory.open("a") as remembered:
                remembered.write(digest + "\n")
        except OSError:  # a read-only virtualenv: check again next time
            pass
    return [p for e in errors for p in _config_problems(e)]


def resolve(
    policies: list[Policy], file_config: dict[str, Any], accepted: Path | None = None
) -> dict[str, PolicySettings]:
    """Enforcement level and config per policy: schema defaults overlaid by the (checked) file.

    `accepted`: the file of configs accepted before (module docstring); None checks every time.
    """
    problems = _problems(json.dumps(config_schema(policies), sort_keys=True), file_config, accepted)
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
