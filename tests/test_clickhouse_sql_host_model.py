"""A no-op `up` runs no SQL, also right after each rotation step, through the SDK's dynamic provider
host (pulumi/dynamic/__main__.py, DynamicResourceProviderServicer) driven in-process with real
protobuf requests: the provider pickled into `__provider` as the engine stores it (its executor
factory is tests.ch_model.connect, pickled by reference), values through the RPC encoding (numbers
as floats), the stateful model as the server. Steps: a fresh stack, rotation start ([old] ->
[old, new]), rotation finish ([new]); after each, a refresh and an `up` with the same config must
find nothing to change and execute nothing."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import types
from collections.abc import Iterator
from typing import Any, NoReturn

import grpc  # type: ignore[import-untyped]
import pytest
from google.protobuf import struct_pb2
from pulumi.runtime.proto import provider_pb2

from clickhouse_sql.base import SqlProvider
from tests import ch_model
from tests.ch_model import ClickHouseModel
from tests.sql_engine import HOST, declare
from tools.sdk_internals import serialize_provider

OLD = hashlib.sha256(b"app-password-old").hexdigest()
NEW = hashlib.sha256(b"app-password-new").hexdigest()
PIPELINE = hashlib.sha256(b"pipeline-password").hexdigest()
URN = "urn:pulumi:prod::salla-analytics-infra::pulumi-python:dynamic/clickhouse:{kind}::{name}"


def load_host() -> types.ModuleType:
    """pulumi/dynamic/__main__.py without its last statement: the module ends with a bare `main()`
    (start a gRPC server, block forever), so it cannot be imported; everything else runs as is."""
    spec = importlib.util.find_spec("pulumi.dynamic.__main__")
    assert spec is not None and spec.origin is not None
    with open(spec.origin, encoding="utf-8") as source:
        tree = ast.parse(source.read(), spec.origin)
    last = tree.body[-1]
    assert isinstance(last, ast.Expr) and ast.unparse(last) == "main()", "the SDK's host module changed"
    tree.body.pop()
    module = types.ModuleType("pulumi_dynamic_host")
    module.__file__ = spec.origin
    exec(compile(tree, spec.origin, "exec"), module.__dict__)  # the installed SDK's own code
    return module


HOST_MODULE = load_host()


class Aborted(Exception):
    pass


class Context:
    """The servicer's gRPC context: an abort (the provider raised) fails the test with the traceback."""

    def abort(self, code: Any, details: str) -> NoReturn:
        raise Aborted(f"{code}: {details}")


def struct(values: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(values)
    return message


class HostEngine:
    """What the engine sends the host for `pulumi up` (refresh off) and `pulumi refresh`."""

    def __init__(self, model: ClickHouseModel) -> None:
        self.host = HOST_MODULE.DynamicResourceProviderServicer()
        self.model = model
        self.state: dict[str, tuple[str, str, struct_pb2.Struct]] = {}  # name -> (urn, id, outputs)
        self.providers: dict[type[SqlProvider], str] = {}

    def inputs(self, cls: type[SqlProvider], values: dict[str, Any]) -> struct_pb2.Struct:
        if cls not in self.providers:
            self.providers[cls] = serialize_provider(cls(ch_model.connect))
        return struct({**values, "__provider": self.providers[cls]})

    def up(self, declared: list[tuple[str, type[SqlProvider], dict[str, Any]]]) -> dict[str, int]:
        """One `up`; returns what the host's Diff said per resource that already existed."""
        changes: dict[str, int] = {}
        for name, cls, values in declared:
            news = self.inputs(cls, values)
            urn = URN.format(kind=cls.__name__.removesuffix("Provider"), name=name)
            olds = self.state[name][2] if name in self.state else struct({})
            checked = self.host.Check(provider_pb2.CheckRequest(urn=urn, olds=olds, news=news), Context())
            assert not checked.failures, checked.failures
            if name not in self.state:
                created = self.host.Create(
                    provider_pb2.CreateRequest(urn=urn, properties=checked.inputs), Context()
                )
                self.state[name] = (urn, created.id, created.properties)
                continue
            _, id_, outputs = self.state[name]
            diff = self.host.Diff(
                provider_pb2.DiffRequest(id=id_, urn=urn, olds=outputs, news=checked.inputs), Context()
            )
            changes[name] = diff.changes
            if diff.changes == provider_pb2.DiffResponse.DIFF_SOME:
                assert not diff.replaces, (name, list(diff.replaces))
                updated = self.host.Update(
                    provider_pb2.UpdateRequest(id=id_, urn=urn, olds=outputs, news=checked.inputs), Context()
                )
                self.state[name] = (urn, id_, updated.properties)
        return changes

    def refresh(self) -> dict[str, list[str]]:
        drift: dict[str, list[str]] = {}
        for name, (urn, id_, outputs) in list(self.state.items()):
            read = self.host.Read(provider_pb2.ReadRequest(id=id_, urn=urn, properties=outputs), Context())
            assert read.id == id_, name
            self.state[name] = (urn, id_, read.properties)
            found = [str(v) for v in read.properties["drift"]]
            if found:
                drift[name] = found
        return drift


@pytest.fixture
def engine() -> Iterator[HostEngine]:
    model = ClickHouseModel()
    ch_model.SERVERS[HOST] = model
    try:
        yield HostEngine(model)
    finally:
        del ch_model.SERVERS[HOST]


def assert_a_noop_up_runs_no_sql(engine: HostEngine, declared: Any) -> None:
    before = (len(engine.model.statements), engine.model.connections)
    assert engine.refresh() == {}
    changes = engine.up(declared)
    assert set(changes) == {name for name, _, _ in declared}
    assert {n: c for n, c in changes.items() if c != provider_pb2.DiffResponse.DIFF_NONE} == {}
    assert len(engine.model.statements) == before[0]  # no DDL at all (only the refresh's reads connected)


def test_no_sql_after_a_fresh_up_and_after_each_rotation_step(engine: HostEngine) -> None:
    fresh = declare({"app": ([OLD], "read"), "data_pipeline": ([PIPELINE], "write")})
    engine.up(fresh)
    assert engine.model.passwords("app") == [OLD]
    assert_a_noop_up_runs_no_sql(engine, fresh)

    start = declare({"app": ([OLD, NEW], "read"), "data_pipeline": ([PIPELINE], "write")})
    ran = len(engine.model.statements)
    changes = engine.up(start)
    assert [n for n, c in changes.items() if c == provider_pb2.DiffResponse.DIFF_SOME] == ["app-user"]
    assert engine.model.statements[ran:] == [f"ALTER USER `app` ADD IDENTIFIED WITH sha256_hash BY '{NEW}'"]
    assert engine.model.passwords("app") == [OLD, NEW]  # both work until the consumer redeployed
    assert_a_noop_up_runs_no_sql(engine, start)

    finish = declare({"app": ([NEW], "read"), "data_pipeline": ([PIPELINE], "write")})
    ran = len(engine.model.statements)
    engine.up(finish)
    assert engine.model.statements[ran:] == [f"ALTER USER `app` IDENTIFIED WITH sha256_hash BY '{NEW}'"]
    assert engine.model.passwords("app") == [NEW]
    assert_a_noop_up_runs_no_sql(engine, finish)


def test_the_host_reports_drift_seeded_after_a_rotation_and_the_next_up_repairs_it(
    engine: HostEngine,
) -> None:
    start = declare({"app": ([OLD, NEW], "read")})
    engine.up(start)
    engine.model.seed("GRANT `analytics_write` TO `app`", "SET DEFAULT ROLE ALL TO `app`")
    assert engine.refresh() == {
        "app-user": [
            "has role analytics_write granted (not declared)",
            "default roles ALL, declared: analytics_read",
        ]
    }
    ran = len(engine.model.statements)
    engine.up(start)
    assert engine.model.statements[ran:] == [
        "REVOKE `analytics_write` FROM `app`",
        "SET DEFAULT ROLE `analytics_read` TO `app`",
    ]
    assert engine.model.passwords("app") == [OLD, NEW]  # the repair leaves the rotation as it is
    assert_a_noop_up_runs_no_sql(engine, start)


def test_a_provider_error_reaches_the_engine_through_the_host(engine: HostEngine) -> None:
    engine.model.fail_on = "CREATE USER"
    with pytest.raises(Aborted) as err:
        engine.up(declare({"app": ([OLD], "read")}))
    assert "user `app`: the connection to" in str(err.value) and "CREATE USER" in str(err.value)
    assert OLD not in str(err.value) and "Prov-S3cret-Pw!" not in str(err.value)
    assert grpc.StatusCode.UNKNOWN.name in str(err.value)


def test_retire_step_one_through_the_host_stores_retiring_and_runs_no_sql(engine: HostEngine) -> None:
    consumers = {"app": ([OLD], "read"), "data_pipeline": ([PIPELINE], "write")}
    engine.up(declare(consumers))
    before = (len(engine.model.statements), engine.model.connections)
    retire = declare(consumers, retiring=frozenset({"app"}))
    changes = engine.up(retire)
    some = sorted(n for n, c in changes.items() if c == provider_pb2.DiffResponse.DIFF_SOME)
    assert some == ["app-limits", "app-quota", "app-user"]
    # What the engine stores as outputs (and the stack policies read): `retiring: true`.
    assert {n: engine.state[n][2]["retiring"] for n in some} == {n: True for n in some}
    assert engine.state["data_pipeline-user"][2]["retiring"] is False
    assert (len(engine.model.statements), engine.model.connections) == before  # no SQL, no connection
    assert_a_noop_up_runs_no_sql(engine, retire)


def test_a_user_state_from_the_old_provider_refreshes_through_the_host(engine: HostEngine) -> None:
    from google.protobuf.json_format import MessageToDict

    consumers = {"app": ([OLD, NEW], "read")}
    engine.up(declare(consumers))
    urn, id_, outputs = engine.state["app-user"]
    legacy = {k: v for k, v in MessageToDict(outputs).items() if k not in ("passwords_sha256_hex", "drift")}
    legacy |= {"password_sha256_hex": NEW, "previous_password_sha256_hex": OLD}  # mid-rotation
    engine.state["app-user"] = (urn, id_, struct(legacy))
    assert engine.refresh() == {}  # the drift job's refresh; was a KeyError traceback from the host
    assert list(engine.state["app-user"][2]["passwords_sha256_hex"]) == [OLD, NEW]
    assert_a_noop_up_runs_no_sql(engine, declare(consumers))


def test_the_inventory_through_the_host_repairs_then_drops_a_namespace_user_a_refresh_listed(
    engine: HostEngine,
) -> None:
    # Its outputs `found` and `repair` (lists) travel through the RPC encoding between read and update.
    from tests.drift_cases import APP, declaration

    declared = declaration()
    engine.up(declared)
    engine.model.seed(
        f"CREATE USER `salla_stray` IDENTIFIED WITH sha256_hash BY '{OLD}'",
        f"CREATE QUOTA OR REPLACE `extra` FOR INTERVAL 60 second MAX queries = 5 TO `{APP}`",
    )
    listed = (
        "user salla_stray is in the namespace salla_* but not declared: listed now; a later deploy "
        "whose refresh still finds it drops it (declare it to keep it)"
    )
    assert engine.refresh() == {
        "inventory": [listed, f"quota extra applies to {APP} (not declared): the next deploy drops it"]
    }
    ran = len(engine.model.statements)
    engine.up(declared)
    assert engine.model.statements[ran:] == ["DROP QUOTA IF EXISTS `extra`"]
    assert list(engine.state["inventory"][2]["found"]) == ["drop user salla_stray"]
    assert engine.refresh() == {
        "inventory": [
            "user salla_stray is in the namespace salla_* but not declared: listed by an earlier refresh "
            "and still here: the next deploy drops it unless it declares it"
        ]
    }
    engine.up(declared)
    assert engine.model.statements[ran + 1 :] == ["DROP USER IF EXISTS `salla_stray`"]
    assert_a_noop_up_runs_no_sql(engine, declared)


def test_through_the_host_the_observer_previews_and_refreshes_and_an_up_stops_cleanly(
    engine: HostEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    consumers = {"app": ([OLD], "read")}
    engine.up(declare(consumers))  # as provisioner (tests/conftest.py)
    monkeypatch.setenv("CLICKHOUSE_SQL_USER", "observer")
    monkeypatch.setenv("CLICKHOUSE_SQL_PASSWORD", "0bserver-Pw!")
    statements = len(engine.model.statements)
    assert engine.refresh() == {}  # `preview --refresh` / drift: reads only
    assert len(engine.model.statements) == statements
    # A preview (Check and Diff) of a change, then the `up` that would apply it.
    rotated = declare({"app": ([OLD, NEW], "read")})
    name, cls, values = next(d for d in rotated if d[0] == "app-user")
    urn, id_, outputs = engine.state[name]
    connections = engine.model.connections
    checked = engine.host.Check(
        provider_pb2.CheckRequest(urn=urn, olds=outputs, news=engine.inputs(cls, values)), Context()
    )
    diff = engine.host.Diff(
        provider_pb2.DiffRequest(id=id_, urn=urn, olds=outputs, news=checked.inputs), Context()
    )
    assert diff.changes == provider_pb2.DiffResponse.DIFF_SOME and engine.model.connections == connections
    with pytest.raises(Aborted) as err:
        engine.host.Update(
            provider_pb2.UpdateRequest(id=id_, urn=urn, olds=outputs, news=checked.inputs), Context()
        )
    # What the engine shows: the message alone, one line, no traceback; nothing ran.
    assert str(err.value) == (
        f"{grpc.StatusCode.UNKNOWN}: user `app`: update refused: CLICKHOUSE_SQL_USER=observer is the "
        "read-only login (previews, plans, drift): an `up` or `destroy` needs "
        "CLICKHOUSE_SQL_USER=provisioner and its password in CLICKHOUSE_SQL_PASSWORD "
        "(the deploy job's login; docs/sql-login.md)\n"
    )
    assert (engine.model.connections, len(engine.model.statements)) == (connections, statements)
