"""Property helpers shared by the project's dynamic providers (clickhouse_sql, upstash_access).

Values arrive from the engine with RPC secret wrappers, and in check/diff, values not yet known in
a preview as `pulumi.output.Unknown`; `__provider` is the serialized provider itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi.output import Unknown
from pulumi.runtime import rpc

PROVIDER_KEY = "__provider"


def plain(props: Mapping[str, Any]) -> dict[str, Any]:
    """The properties without the serialized provider and without RPC secret wrappers."""
    return {k: rpc.unwrap_rpc_secret(v) for k, v in props.items() if k != PROVIDER_KEY}


def is_known(value: Any) -> bool:
    """False when the value, or anything inside it, is not known yet (a preview's Unknown)."""
    if isinstance(value, Unknown):
        return False
    if isinstance(value, Mapping):
        return all(is_known(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(is_known(v) for v in value)
    return True
