"""Property helpers shared by the project's dynamic providers (clickhouse_sql, upstash_access);
`host_errors` makes their worded errors reach the engine without a traceback.

Values arrive from the engine with RPC secret wrappers, and in check/diff, values not yet known in
a preview as `pulumi.output.Unknown`; `__provider` is the serialized provider itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pulumi.dynamic import DiffResult
from pulumi.output import Unknown
from pulumi.runtime import rpc

PROVIDER_KEY = "__provider"
DRIFT = "drift"  # output: what refresh found on the server that differs from the declaration
RETIRING = "retiring"  # input and output: the consumer is being removed (prod: unprotected); no change
# A rotation label (a consumer's `passwords`, `messaging.signingKeyRotation`): lowercase letters,
# digits and hyphens, at most 31; checked by the settings and again by the providers.
LABEL = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")


class PreciseDiff(DiffResult):
    """A DiffResult that also lists exactly which keys changed (`diffs`).

    The installed SDK's dynamic provider host (pulumi/dynamic/__main__.py, Diff) forwards
    `changes`, `replaces` and `delete_before_replace` to the engine; its DiffResult has no
    `diffs` field, so `diffs` is for callers and tests (the engine derives the per-property
    display itself from old and new values).
    """

    def __init__(
        self, diffs: Sequence[str], replaces: Sequence[str], delete_before_replace: bool | None
    ) -> None:
        super().__init__(
            changes=bool(diffs),
            replaces=list(replaces),
            delete_before_replace=delete_before_replace if replaces else None,
        )
        self.diffs = list(diffs)


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


def host_port(props: Mapping[str, Any], key: str) -> tuple[str, int]:
    """The validated `{host, port}` mapping of the property `key` (port as int); a ValueError names
    `key` and the part that is wrong. Other keys of the mapping are ignored."""
    raw = props.get(key)
    if not isinstance(raw, Mapping):
        raise ValueError(f"{key} must be a mapping {{host, port}}")
    host, port = raw.get("host"), raw.get("port")
    if not isinstance(host, str) or not host:
        raise ValueError(f"{key}.host must be a non-empty string")
    if (
        isinstance(port, bool)
        or not isinstance(port, int | float)
        or port != int(port)
        or not 0 < port < 65536
    ):
        raise ValueError(f"{key}.port must be a TCP port number, got {port!r}")
    return host, int(port)
