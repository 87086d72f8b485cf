"""Where raw config comes from: the engine's config for this program (public SDK functions only).

The language host hands the program its config in PULUMI_CONFIG (every key, JSON-encoded values)
and the secret keys in PULUMI_CONFIG_SECRET_KEYS; the SDK exposes both through pulumi.runtime.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import pulumi.runtime


@dataclass(frozen=True)
class RawConfig:
    """The project's keys (without the `<project>:` prefix) and which of them are secret."""

    values: dict[str, Any]
    secret_keys: frozenset[str]


def _parsed(raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def read_config(project: str, structured: Collection[str]) -> RawConfig:
    """Every `<project>:` key; the `structured` ones JSON-decoded (objects, lists, booleans, numbers).

    Other keys keep the string the engine gave (a secret or an unknown key is never reinterpreted).
    """
    prefix = f"{project}:"
    values: dict[str, Any] = {}
    secret: set[str] = set()
    for full in sorted(pulumi.runtime.get_config_env()):
        if not full.startswith(prefix):
            continue
        key = full[len(prefix) :]
        raw = pulumi.runtime.get_config(full)
        values[key] = _parsed(raw) if key in structured else raw
        if pulumi.runtime.is_config_secret(full):
            secret.add(key)
    return RawConfig(values, frozenset(secret))
