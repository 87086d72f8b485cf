"""Checks on committed stack files that need no Pulumi runtime."""

from __future__ import annotations

import re
from typing import Any

# Config keys whose values are credentials wherever they appear.
SECRET_KEY_PATTERN = re.compile(r"(password|token|secret|apikey|api_key|signingkey|private)", re.I)


def plaintext_secrets(config: dict[str, Any]) -> list[str]:
    """Keys of a stack's `config:` map that hold a credential in plaintext.

    A secret is fine only as `{secure: <ciphertext>}` (what `pulumi config set --secret`
    writes). Nested maps are searched too, so `dataWarehouse.password: x` is caught.
    """
    found: list[str] = []

    def walk(path: str, value: Any) -> None:
        if isinstance(value, dict):
            if set(value) == {"secure"}:
                return
            for k, v in value.items():
                walk(f"{path}.{k}" if path else str(k), v)
            return
        leaf = path.rsplit(".", 1)[-1].rsplit(":", 1)[-1]
        if SECRET_KEY_PATTERN.search(leaf) and value not in (None, ""):
            found.append(path)

    for key, value in config.items():
        walk(key, value)
    return found
