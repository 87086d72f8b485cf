"""Where raw config values come from: the Pulumi engine's config plus the process environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from pulumi.runtime import config as runtime_config


class ConfigSource(Protocol):
    def raw(self, full_key: str) -> str | None:
        """The raw string value of `namespace:key`, or None when unset."""

    def is_secret(self, full_key: str) -> bool:
        """Whether the value was stored encrypted (`pulumi config set --secret`)."""

    def all_keys(self) -> list[str]:
        """Every full key the stack sets."""

    def env(self, name: str) -> str | None:
        """An environment variable (provider credentials may come from there)."""


@dataclass
class EngineConfig:
    """The config the Pulumi engine (or the test mocks) handed to this program."""

    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)

    def raw(self, full_key: str) -> str | None:
        value = runtime_config.get_config(full_key)
        return None if value is None else str(value)

    def is_secret(self, full_key: str) -> bool:
        return bool(runtime_config.is_config_secret(full_key))

    def all_keys(self) -> list[str]:
        explicit = runtime_config.CONFIG.get()
        return sorted(set(explicit) | set(runtime_config.get_config_env()))

    def env(self, name: str) -> str | None:
        value = self.environ.get(name)
        return value if value else None
