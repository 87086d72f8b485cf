"""Property helpers shared by the Upstash providers (the same conventions as clickhouse_sql.base).

Values arrive from the engine with RPC secret wrappers, and in check/diff, values not yet known in
a preview as `pulumi.output.Unknown`; `__provider` is the serialized provider itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi.dynamic import DiffResult
from pulumi.output import Unknown
from pulumi.runtime import rpc

PROVIDER_KEY = "__provider"
DRIFT = "drift"  # output: what refresh found that differs from the declaration
RETIRING = "retiring"  # input and output: the consumer is being removed (prod: unprotected)


def plain(props: Mapping[str, Any]) -> dict[str, Any]:
    """The properties without the serialized provider and without RPC secret wrappers."""
    return {k: rpc.unwrap_rpc_secret(v) for k, v in props.items() if k != PROVIDER_KEY}


def is_known(value: Any) -> bool:
    if isinstance(value, Unknown):
        return False
    if isinstance(value, Mapping):
        return all(is_known(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(is_known(v) for v in value)
    return True


class PreciseDiff(DiffResult):
    """A DiffResult that also lists which keys changed (`diffs`, for the update and the tests)."""

    def __init__(self, diffs: Sequence[str], replaces: Sequence[str], delete_before_replace: bool) -> None:
        super().__init__(
            changes=bool(diffs),
            replaces=list(replaces),
            delete_before_replace=delete_before_replace if replaces else None,
        )
        self.diffs = list(diffs)
