"""The providers inside the real dynamic provider host (`python -m pulumi.dynamic`, what the Pulumi
CLI starts, here from the program directory), over its gRPC interface, against the loopback
ClickHouse of test_clickhouse_sql_transport (reads answered by chdb from a users.xml): unpickling
by reference, RPC-shaped properties (floats, structs), the empty-read path and what an error looks
like when it reaches the engine. test_clickhouse_sql_host_model drives the same host in-process
against the stateful model (no-op runs after rotation steps)."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc  # type: ignore[import-untyped]
import pytest
from google.protobuf import struct_pb2
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from clickhouse_sql.base import MISSING
from clickhouse_sql.client import open_clickhouse
from clickhouse_sql.provider import DatabaseProvider, SqlProvider, UserProvider
from tests.chdb_server import APP_HEX
from tests.sql_login_env import SQL_LOGIN, SQL_PASSWORD
from tests.test_clickhouse_sql_transport import ADMIN_PASSWORD, APP_NEW_HEX, Loopback, loopback
from tools.sdk_internals import serialize_provider

__all__ = ["loopback"]  # the fixture, shared with the transport tests

ROOT = Path(__file__).resolve().parent.parent
URN = "urn:pulumi:test::salla-analytics-infra::pulumi-python:dynamic/clickhouse:{kind}::{name}"


@pytest.fixture(scope="module")
def host() -> Iterator[Any]:
    """The dynamic provider host, started like the CLI does: the venv's python, cwd = the program,
    the environment of `pulumi` (here: the deploy job's SQL login)."""
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.dynamic"],
        cwd=ROOT,
        env={**os.environ, **SQL_LOGIN},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        yield provider_pb2_grpc.ResourceProviderStub(channel)
        channel.close()
    finally:
        process.kill()
        process.wait(timeout=10)


def plain_http_provider(cls: type[SqlProvider]) -> SqlProvider:
    # The production opener minus TLS; a partial of a module-level function pickles by reference.
    return cls(functools.partial(open_clickhouse, secure=False))


def struct(values: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(values)
    return message


def props(provider: SqlProvider, loopback: Loopback, **values: Any) -> struct_pb2.Struct:
    connection = {"host": "127.0.0.1", "port": loopback.port}  # the endpoint: the login is the host's env
    return struct(
        {**values, "connection": connection, "stack": "prod", "__provider": serialize_provider(provider)}
    )


def test_the_host_runs_create_read_diff_and_delete(host: Any, loopback: Loopback) -> None:
    provider = plain_http_provider(DatabaseProvider)
    urn = URN.format(kind="Database", name="analytics")
    created = host.Create(
        provider_pb2.CreateRequest(urn=urn, properties=props(provider, loopback, name="analytics"))
    )
    assert created.id == "analytics"
    assert created.properties["connection"]["port"] == loopback.port
    assert [(r.method, r.body) for r in loopback.requests if r.body.startswith("CREATE")] == [
        ("POST", "CREATE DATABASE IF NOT EXISTS `analytics`")
    ]
    existing = props(provider, loopback, name="system")
    found = host.Read(provider_pb2.ReadRequest(id="system", urn=urn, properties=existing))
    assert found.id == "system" and list(found.properties["drift"]) == []
    # The loopback records DDL without applying it: `analytics` is still missing on the server.
    # Missing with a stored state: kept, with the drift MISSING, so the next up's update creates it.
    kept = host.Read(provider_pb2.ReadRequest(id="analytics", urn=urn, properties=created.properties))
    assert kept.id == "analytics" and list(kept.properties["drift"]) == [MISSING]
    # Missing without a stored state (an import): gone, nothing to adopt.
    gone = host.Read(
        provider_pb2.ReadRequest(
            id="analytics", urn=urn, properties=props(provider, loopback, name="analytics")
        )
    )
    assert gone.id == "" and set(gone.properties) == {"__provider"}
    renamed = props(provider, loopback, name="events")
    diff = host.Diff(provider_pb2.DiffRequest(id="analytics", urn=urn, olds=created.properties, news=renamed))
    assert (diff.changes, list(diff.replaces)) == (provider_pb2.DiffResponse.DIFF_SOME, ["name"])
    same = host.Diff(
        provider_pb2.DiffRequest(id="analytics", urn=urn, olds=created.properties, news=created.properties)
    )
    assert same.changes == provider_pb2.DiffResponse.DIFF_NONE
    ddl = len([r for r in loopback.requests if r.method == "POST"])
    host.Delete(provider_pb2.DeleteRequest(id="analytics", urn=urn, properties=created.properties))
    assert len([r for r in loopback.requests if r.method == "POST"]) == ddl  # a database is never dropped


def test_a_user_rotation_through_the_host_and_a_clean_engine_error(host: Any, loopback: Loopback) -> None:
    # `app` exists on the server (users.xml) with APP_HEX: adopted, create converges it (no CREATE USER).
    provider = plain_http_provider(UserProvider)
    urn = URN.format(kind="User", name="app")
    values = {"name": "app", "default_role": "analytics_read", "adopt": True}
    inputs = props(provider, loopback, **values, passwords_sha256_hex=[APP_HEX])
    created = host.Create(provider_pb2.CreateRequest(urn=urn, properties=inputs))
    assert not [r for r in loopback.requests if r.body.startswith("CREATE USER")]
    started_inputs = props(provider, loopback, **values, passwords_sha256_hex=[APP_HEX, APP_NEW_HEX])
    diff = host.Diff(
        provider_pb2.DiffRequest(id="app", urn=urn, olds=created.properties, news=started_inputs)
    )
    assert (diff.changes, list(diff.replaces), diff.deleteBeforeReplace) == (
        provider_pb2.DiffResponse.DIFF_SOME,
        [],
        False,
    )
    sent = len(loopback.requests)
    started = host.Update(
        provider_pb2.UpdateRequest(id="app", urn=urn, olds=created.properties, news=started_inputs)
    )
    assert list(started.properties["passwords_sha256_hex"]) == [APP_HEX, APP_NEW_HEX]
    assert f"ALTER USER `app` ADD IDENTIFIED WITH sha256_hash BY '{APP_NEW_HEX}'" in [
        r.body for r in loopback.requests[sent:]
    ]
    same = host.Diff(
        provider_pb2.DiffRequest(id="app", urn=urn, olds=started.properties, news=started_inputs)
    )
    assert same.changes == provider_pb2.DiffResponse.DIFF_NONE

    # ClickHouse refuses the rotation; the engine receives the clean message alone (no traceback).
    echoed = f"Code: 497. DB::Exception: Not enough privileges: BY '{APP_NEW_HEX}'. (ACCESS_DENIED)"
    loopback.fail["ALTER USER"] = (497, echoed)
    with pytest.raises(grpc.RpcError) as err:
        host.Update(
            provider_pb2.UpdateRequest(id="app", urn=urn, olds=created.properties, news=started_inputs)
        )
    details = err.value.details()
    assert details.startswith("user `app`: ALTER USER failed with ClickHouse error code 497: Code: 497.")
    assert "Traceback" not in details and len(details.strip().splitlines()) == 1
    for secret in (APP_HEX, APP_NEW_HEX, ADMIN_PASSWORD, SQL_PASSWORD):
        assert secret not in details


def test_a_missing_provisioning_user_is_one_clean_error_naming_make_provisioner(
    host: Any, loopback: Loopback
) -> None:
    """The first `up` of a new stack, before `make provisioner`: ClickHouse answers 516 to the login
    (what it says for an unknown user and for a wrong password alike)."""
    refused = (
        "Code: 516. DB::Exception: provisioner: Authentication failed: password is incorrect, or there "
        "is no user with such name. (AUTHENTICATION_FAILED)"
    )
    loopback.fail["SELECT"] = (516, refused)  # the driver's first query, while it opens the client
    provider = plain_http_provider(DatabaseProvider)
    urn = URN.format(kind="Database", name="analytics")
    with pytest.raises(grpc.RpcError) as err:
        host.Create(
            provider_pb2.CreateRequest(urn=urn, properties=props(provider, loopback, name="analytics"))
        )
    details = err.value.details()
    assert details == (
        f"database `analytics`: connecting failed: ClickHouse at 127.0.0.1:{loopback.port} refused the login "
        "CLICKHOUSE_SQL_USER=provisioner (code 516, AUTHENTICATION_FAILED: the user does not exist or "
        "CLICKHOUSE_SQL_PASSWORD is not its password). On a new service, create the SQL users "
        "`provisioner` and `observer` first: "
        f"`make provisioner STACK=prod HOST=127.0.0.1 PORT={loopback.port}`, "
        "then re-run; otherwise set CLICKHOUSE_SQL_PASSWORD to the current password of `provisioner` "
        "(docs/sql-login.md)\n"
    )
    assert not [r for r in loopback.requests if not r.sql.startswith("SELECT")]  # no DDL was attempted
    # An error that is not worded for a user (a bug) keeps its traceback: only clean errors lose it.
    broken = props(provider, loopback, name="analytics")
    del broken["connection"]
    with pytest.raises(grpc.RpcError) as bug:
        host.Create(provider_pb2.CreateRequest(urn=urn, properties=broken))
    assert bug.value.details().startswith("Traceback (most recent call last):")
