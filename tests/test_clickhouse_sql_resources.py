"""The clickhouse_sql resources as the engine sees them, under Pulumi mocks: type tokens, secret
inputs, resource options and the serialized provider each registration carries."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import dill  # type: ignore[import-untyped]
import pulumi
import pytest
from pulumi.runtime import rpc

from clickhouse_sql import Database, Endpoint, Grant, Quota, Role, SettingsProfile, User
from clickhouse_sql.provider import (
    DatabaseProvider,
    GrantProvider,
    QuotaProvider,
    RoleProvider,
    SettingsProfileProvider,
    UserProvider,
)
from clickhouse_sql.role import LEGACY_READONLY
from tests.sql_engine import CONNECTION as SQL_CONNECTION
from tests.sql_login_env import SQL_PASSWORD
from tools.mocks import PlatformMocks, RecordingMonitor, Registration

HOST = "abc123xyz.us-east-1.aws.clickhouse.cloud"
APP_HEX = hashlib.sha256(b"app-password-one").hexdigest()
PIPELINE_HEX = hashlib.sha256(b"pipeline-password").hexdigest()
AI_HEX = hashlib.sha256(b"ai-password").hexdigest()
# The SQL login's password is in the environment while the program runs (tests/conftest.py).
SECRETS = [SQL_PASSWORD, APP_HEX, PIPELINE_HEX, AI_HEX]

# pulumi.runtime.test is untyped; this is the same decorator with a type.
runtime_test: Callable[[Callable[[], Any]], Callable[[], None]] = pulumi.runtime.test


class Recording(RecordingMonitor):
    """The project's recording monitor (tools.mocks), indexed by resource name."""

    @property
    def requests(self) -> dict[str, Registration]:
        return {r.name: r for r in self.registrations}


@pytest.fixture
def monitor() -> Iterator[Recording]:
    platform = PlatformMocks()
    recording = Recording(platform)
    pulumi.runtime.reset_options(project="salla-analytics-infra", stack="test", preview=False)
    pulumi.runtime.set_mocks(
        platform, project="salla-analytics-infra", stack="test", preview=False, monitor=recording
    )
    yield recording


def admin_connection() -> pulumi.Output[Endpoint]:
    """As the components pass it: the served service's endpoint, no login (it comes from the environment)."""
    return pulumi.Output.from_input(HOST).apply(lambda host: Endpoint(host=host, port=8443))


def declare_stack(database_opts: pulumi.ResourceOptions | None = None) -> None:
    connection = admin_connection()
    db = Database("analytics", name="analytics", connection=connection, opts=database_opts)
    read = Role("analytics_read", name="analytics_read", databases=["analytics"], connection=connection)
    write = Role("analytics_write", name="analytics_write", databases=["analytics"], connection=connection)
    Grant("read", role=read.name, database=db.name, privileges=["SELECT"], connection=connection)
    Grant(
        "write",
        role=write.name,
        database=db.name,
        privileges=["drop table", "SELECT", "INSERT", "CREATE TABLE", "ALTER TABLE"],
        connection=connection,
    )
    for user, password_hex, role in [
        ("app", APP_HEX, read),
        ("data_pipeline", PIPELINE_HEX, write),
        ("ai", AI_HEX, read),
    ]:
        User(
            user,
            name=user,
            passwords_sha256_hex=[password_hex],
            default_role=role.name,
            connection=connection,
        )
    SettingsProfile(
        "app_limits",
        name="app_limits",
        user="app",
        settings=[{"name": "readonly", "value": 2, "const": True}],
        limits_source="defaults",
        connection=connection,
    )
    Quota(
        "app_quota",
        name="app_quota",
        user="app",
        interval_seconds=3600,
        limits={"queries": 10_000, "read_rows": 10**10},
        limits_source="config",
        connection=connection,
    )


def test_registrations_types_secrets_and_options(monitor: Recording) -> None:
    @runtime_test
    def program() -> None:
        declare_stack(pulumi.ResourceOptions(additional_secret_outputs=["name"], retain_on_delete=False))

    program()
    requests = monitor.requests
    assert {name: r.type for name, r in requests.items()} == {
        "analytics": "pulumi-python:dynamic/clickhouse:Database",
        "analytics_read": "pulumi-python:dynamic/clickhouse:Role",
        "analytics_write": "pulumi-python:dynamic/clickhouse:Role",
        "read": "pulumi-python:dynamic/clickhouse:Grant",
        "write": "pulumi-python:dynamic/clickhouse:Grant",
        "app": "pulumi-python:dynamic/clickhouse:User",
        "data_pipeline": "pulumi-python:dynamic/clickhouse:User",
        "ai": "pulumi-python:dynamic/clickhouse:User",
        "app_limits": "pulumi-python:dynamic/clickhouse:SettingsProfile",
        "app_quota": "pulumi-python:dynamic/clickhouse:Quota",
    }
    # Secret inputs: the hash on users, and the serialized provider (the SDK's default: always a
    # secret). The connection is the endpoint only, so it need not be secret.
    for name, request in requests.items():
        expected = {"__provider"}
        if request.type.endswith(":User"):
            expected.add("passwords_sha256_hex")
        if request.type.endswith(":Grant"):
            expected.add("database")  # the database's name: an output this test made secret
        assert request.secret_inputs == expected, name
    # The options: ours merged over the caller's (lists concatenated, our flags win).
    db = requests["analytics"]
    assert list(db.additional_secret_outputs) == ["name"]
    assert db.retain_on_delete is True
    for user in ("app", "data_pipeline", "ai"):
        assert requests[user].delete_before_replace is True
        assert list(requests[user].additional_secret_outputs) == ["passwords_sha256_hex"]
    for name in ("app_limits", "app_quota"):  # same-named objects: the old one goes first
        assert requests[name].delete_before_replace is True
        assert list(requests[name].additional_secret_outputs) == []
    for name in ("analytics_read", "analytics_write", "read", "write"):
        assert list(requests[name].additional_secret_outputs) == []
        assert requests[name].delete_before_replace is False and requests[name].retain_on_delete is False
    # Inputs as the provider will receive them (privileges normalised at construction).
    write = mocks_inputs(requests["write"])
    assert write["privileges"] == ["SELECT", "INSERT", "CREATE TABLE", "ALTER TABLE", "DROP TABLE"]
    assert write["role"] == "analytics_write" and write["database"] == "analytics"
    assert "readonly" not in mocks_inputs(requests["analytics_read"])  # readers' profiles carry it
    app = mocks_inputs(requests["app"])
    assert (app["default_role"], app["passwords_sha256_hex"]) == ("analytics_read", [APP_HEX])
    assert app["retiring"] is False and "drift" not in app  # None: an output slot only
    limits = mocks_inputs(requests["app_limits"])
    # Normalised at construction (const as a bool); the wire drops the None bounds.
    assert limits["settings"] == [{"name": "readonly", "value": 2, "const": True}]
    assert mocks_inputs(requests["app_quota"])["limits"] == {"queries": 10_000, "read_rows": 10**10}
    assert app["connection"] == {"host": HOST, "port": 8443}
    assert all(mocks_inputs(r)["stack"] == "test" for r in requests.values())  # for the provider's errors


def mocks_inputs(request: Registration) -> dict[str, Any]:
    return {k: rpc.unwrap_rpc_secret(v) if rpc.is_rpc_secret(v) else v for k, v in request.inputs.items()}


def test_the_serialized_provider_in_the_state_holds_no_secrets(monitor: Recording) -> None:
    @runtime_test
    def program() -> None:
        declare_stack()

    program()
    classes = {
        "Database": DatabaseProvider,
        "Role": RoleProvider,
        "Grant": GrantProvider,
        "User": UserProvider,
        "SettingsProfile": SettingsProfileProvider,
        "Quota": QuotaProvider,
    }
    for name, request in monitor.requests.items():
        stored = base64.b64decode(mocks_inputs(request)["__provider"])
        for secret in SECRETS:
            assert secret.encode() not in stored, name
        provider = dill.loads(stored)
        assert type(provider) is classes[request.type.rsplit(":", 1)[1]]
        assert vars(provider) == {"_executor_factory": None}


@pytest.mark.parametrize(
    ("construct", "message"),
    [
        (lambda c: Database("d", name="data-pipeline", connection=c), "map hyphens to underscores"),
        (
            lambda c: Role("r", name="analytics read", databases=["analytics"], connection=c),
            "not a valid ClickHouse identifier",
        ),
        (
            lambda c: Grant("g", role="r", database="analytics", privileges=["ALL"], connection=c),
            "privilege 'ALL' is not allowed",
        ),
        (
            lambda c: Grant("g", role="r", database="analytics", privileges=["SELECT", "*"], connection=c),
            "never ALL",
        ),
        (
            lambda c: User(
                "u", name="app", passwords_sha256_hex=["not-a-hash"], default_role="r", connection=c
            ),
            "64 lowercase hex",
        ),
        (
            lambda c: User(
                "u", name="app", passwords_sha256_hex=[APP_HEX] * 2, default_role="r", connection=c
            ),
            "1 distinct hash, or 2 while a rotation is in progress",
        ),
        (
            lambda c: User("u", name="App", passwords_sha256_hex=[APP_HEX], default_role="r", connection=c),
            "not a valid ClickHouse identifier",
        ),
    ],
)
def test_literal_inputs_are_validated_at_construction(
    monitor: Recording, construct: Callable[[pulumi.Output[Endpoint]], Any], message: str
) -> None:
    @runtime_test
    def program() -> None:
        with pytest.raises(ValueError, match=message) as err:
            construct(admin_connection())
        assert "not-a-hash" not in str(err.value)

    program()
    assert monitor.requests == {}


def test_a_role_declared_with_readonly_is_refused_by_check() -> None:
    """Only states from before roles lost `readonly` hold it; a declaration naming it is an error."""
    news = {
        "name": "analytics_read",
        "readonly": 2.0,
        "databases": ["analytics"],
        "connection": SQL_CONNECTION,
    }
    failures = RoleProvider().check({}, news).failures
    assert [(f.property, f.reason) for f in failures] == [("readonly", LEGACY_READONLY)]
    assert RoleProvider().check({}, {**news, "readonly": None}).failures == []
