"""What `refresh: true` costs a deploy of the prod stack's SQL objects (docs/drift.md "Cost").

Today's deploy (`refresh: false`) runs no read at all for an unchanged SQL object: `diff` compares
the stored state with the inputs locally. With refresh, every SQL resource is read first: one
connection (clickhouse-connect's client opens with a query of its own) and its system-table reads.

`python -m tests.refresh_cost [ROUNDS]` prints:
- the reads and connections per refresh of the prod stack's SQL resources (three consumers: 15
  resources), per kind, counted on the stateful model (exact, what tests/test_drift_cases asserts);
- the wall time of the same refresh through the production client (clickhouse-connect over HTTP,
  one client per resource, as the provider does) against a loopback server whose reads run in chdb.
"""

from __future__ import annotations

import functools
import statistics
import sys
import time
from collections import Counter

from clickhouse_sql.client import open_clickhouse
from tests import chdb_server
from tests.ch_model import ClickHouseModel
from tests.drift_cases import declaration
from tests.sql_engine import Engine


def counts() -> tuple[int, int, dict[str, tuple[int, int]]]:
    """(reads, connections, {kind: (resources, reads)}) for one refresh of the deployed prod stack."""
    engine = Engine(ClickHouseModel())
    engine.up(declaration())
    model = engine.model
    per_kind: dict[str, tuple[int, int]] = {}
    reads_before, connections_before = len(model.reads), model.connections
    for _name, (cls, id_, outs) in engine.state.items():
        before = len(model.reads)
        cls(model.factory).read(id_, outs)
        resources, reads = per_kind.get(cls.kind, (0, 0))
        per_kind[cls.kind] = (resources + 1, reads + len(model.reads) - before)
    return len(model.reads) - reads_before, model.connections - connections_before, per_kind


def loopback_seconds(rounds: int) -> tuple[list[float], int]:
    """Wall times of a refresh of the 15 resources through clickhouse-connect to a loopback server,
    and the HTTP requests (round trips) one refresh makes."""
    from tests.test_clickhouse_sql_transport import serving_loopback

    engine = Engine(ClickHouseModel())
    engine.up(declaration())
    chdb_server.server()  # started once, as a server is: not part of a refresh
    factory = functools.partial(open_clickhouse, secure=False)
    times = []
    with serving_loopback() as server:
        for _ in range(rounds):
            started = time.perf_counter()
            for _name, (cls, id_, outs) in engine.state.items():
                cls(factory).read(id_, {**outs, "connection": server.connection()})
            times.append(time.perf_counter() - started)
        requests = len(server.requests) // rounds
    return times, requests


def main(rounds: int = 5) -> None:
    reads, connections, per_kind = counts()
    print(
        f"one refresh: {len(Counter(per_kind))} kinds, {sum(r for r, _ in per_kind.values())} resources, "
        f"{connections} connections, {reads} reads"
    )
    for kind, (resources, kind_reads) in sorted(per_kind.items()):
        print(f"  {kind}: {resources} resource(s), {kind_reads} reads")
    times, requests = loopback_seconds(rounds)
    print(
        f"loopback (clickhouse-connect over HTTP, chdb): {requests} HTTP requests per refresh; median "
        f"{statistics.median(times) * 1000:.0f} ms, min {min(times) * 1000:.0f} ms over {rounds} refreshes"
    )


if __name__ == "__main__":
    import os

    from tests.sql_login_env import SQL_LOGIN

    for variable, value in SQL_LOGIN.items():  # the deploy job's login, as the tests run (conftest)
        os.environ.setdefault(variable, value)
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
