"""Property helpers shared by the Upstash providers (the same conventions as clickhouse_sql.base).

Values arrive from the engine with RPC secret wrappers, and in check/diff, values not yet known in
a preview as `pulumi.output.Unknown`; `__provider` is the serialized provider itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from pulumi.dynamic import DiffResult

DRIFT = "drift"  # output: what refresh found that differs from the declaration
RETIRING = "retiring"  # input and output: the consumer is being removed (prod: unprotected)


class PreciseDiff(DiffResult):
    """A DiffResult that also lists which keys changed (`diffs`, for the update and the tests)."""

    def __init__(self, diffs: Sequence[str], replaces: Sequence[str], delete_before_replace: bool) -> None:
        super().__init__(
            changes=bool(diffs),
            replaces=list(replaces),
            delete_before_replace=delete_before_replace if replaces else None,
        )
        self.diffs = list(diffs)
