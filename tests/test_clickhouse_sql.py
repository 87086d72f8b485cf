"""The ClickHouse SQL dynamic providers, driven method by method with a recording fake service.

Every statement the providers emit here is also parsed by a real ClickHouse parser (chdb, the
embedded ClickHouse engine), and every read query is executed by it against its system tables.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import json
import traceback
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import chdb
import dill  # type: ignore[import-untyped]
import pytest
from clickhouse_connect.driver._backend.httpcommon import build_http_error
from clickhouse_connect.driver.exceptions import DatabaseError
from pulumi.dynamic import CreateResult, ReadResult, UpdateResult
from pulumi.output import UNKNOWN

from clickhouse_sql import client, statements
from clickhouse_sql.client import ClickHouseSQLError, Connection
from clickhouse_sql.provider import (
    DatabaseProvider,
    GrantProvider,
    PreciseDiff,
    RoleProvider,
    SqlProvider,
    UserProvider,
)
from clickhouse_sql.statements import Query
from tools.sdk_internals import serialize_provider

chdb_query: Callable[..., Any] = chdb.query  # chdb.query is untyped


def hex_of(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


ADMIN_PASSWORD = "Adm1n-Secret-Passw0rd!"
ROTATED_ADMIN_PASSWORD = "Rotated-Adm1n-Passw0rd!"
HOST = "abc123xyz.us-east-1.aws.clickhouse.cloud"
# As the engine hands it to a dynamic provider: numbers are floats (protobuf), no secret wrapper.
CONNECTION: dict[str, Any] = {"host": HOST, "port": 8443.0, "username": "default", "password": ADMIN_PASSWORD}
APP_HEX = hex_of("app-password-one")
APP_NEW_HEX = hex_of("app-password-two")
APP_NEWER_HEX = hex_of("app-password-three")
PIPELINE_HEX = hex_of("pipeline-password")
AI_HEX = hex_of("ai-password")
SECRETS = [ADMIN_PASSWORD, ROTATED_ADMIN_PASSWORD, APP_HEX, APP_NEW_HEX, APP_NEWER_HEX, PIPELINE_HEX, AI_HEX]
WRITE_PRIVILEGES = ["SELECT", "INSERT", "CREATE TABLE", "ALTER TABLE", "DROP TABLE"]
USERS = {
    "app": (APP_HEX, "analytics_read"),
    "data_pipeline": (PIPELINE_HEX, "analytics_write"),
    "ai": (AI_HEX, "analytics_read"),
}

REPLACE_READ_PROFILE = (
    "CREATE SETTINGS PROFILE OR REPLACE `analytics_read_profile` "
    "SETTINGS readonly = {level} CONST TO `analytics_read`"
)

# Everything any fake executor in this module ran: the parser test checks all of it.
EMITTED: list[str] = []
READS: list[Query] = []


# --- the fake service -------------------------------------------------------------------------


class FakeExecutor:
    def __init__(self, service: FakeClickHouse) -> None:
        self.service = service

    def command(self, sql: str) -> None:
        self.service.commands.append(sql)
        EMITTED.append(sql)
        for prefix, error in self.service.fail_on.items():
            if sql.startswith(prefix):
                raise error

    def query(self, sql: str, parameters: Mapping[str, str]) -> list[tuple[Any, ...]]:
        query = Query(sql, dict(parameters))
        self.service.queries.append(query)
        READS.append(query)
        return self.service.rows(sql, parameters)

    def close(self) -> None:
        self.service.closed += 1


class FakeClickHouse:
    """Records statements; answers the providers' reads from a small model of the system tables."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.queries: list[Query] = []
        self.connections: list[Connection] = []
        self.closed = 0
        self.fail_on: dict[str, Exception] = {}
        self.databases: set[str] = set()
        self.roles: set[str] = set()
        self.profiles: dict[str, tuple[list[str], str, str]] = {}  # name: (apply_to_list, value, writability)
        self.grants: dict[tuple[str, str], list[str]] = {}  # (role, database): access types
        self.users: dict[str, tuple[int, list[str]]] = {}  # name: (default_roles_all, default_roles_list)
        self.role_grants: dict[str, list[str]] = {}  # user: granted roles

    def factory(self, connection: Connection) -> FakeExecutor:
        self.connections.append(connection)
        return FakeExecutor(self)

    def rows(self, sql: str, p: Mapping[str, str]) -> list[tuple[Any, ...]]:
        table = sql.split(" FROM ", 1)[1].split()[0]
        if table == "system.databases":
            return [(p["name"],)] if p["name"] in self.databases else []
        if table == "system.roles":
            return [(p["name"],)] if p["name"] in self.roles else []
        if table == "system.settings_profiles":
            return [(self.profiles[p["profile"]][0],)] if p["profile"] in self.profiles else []
        if table == "system.settings_profile_elements":
            found = self.profiles.get(p["profile"])
            return [(found[1], found[2])] if found and p["setting"] == "readonly" else []
        if table == "system.grants":
            return [(t,) for t in self.grants.get((p["role"], p["database"]), [])]
        if table == "system.users":
            return [self.users[p["name"]]] if p["name"] in self.users else []
        if table == "system.role_grants":
            return [(r,) for r in self.role_grants.get(p["name"], [])]
        raise AssertionError(f"unexpected read: {sql}")


@pytest.fixture
def ch() -> FakeClickHouse:
    return FakeClickHouse()


def sql_error(code: int, name: str, text: str) -> DatabaseError:
    """The exception clickhouse-connect raises for a ClickHouse error response (its own builder)."""
    body = f"Code: {code}. DB::Exception: {text}. ({name}) (version 25.8.1.8)"
    return build_http_error(500, str(code), body, True, f"https://{HOST}:8443", False)


def user_inputs(
    name: str, password_hex: str, role: str, connection: Mapping[str, Any] = CONNECTION
) -> dict[str, Any]:
    return {
        "name": name,
        "password_sha256_hex": password_hex,
        "default_role": role,
        "connection": dict(connection),
    }


def grant_inputs(role: str, privileges: list[str], database: str = "analytics") -> dict[str, Any]:
    return {"role": role, "database": database, "privileges": privileges, "connection": dict(CONNECTION)}


def outs(result: CreateResult | UpdateResult | ReadResult) -> dict[str, Any]:
    assert result.outs is not None
    return result.outs


def create_fresh_stack(ch: FakeClickHouse) -> dict[str, CreateResult]:
    """What a first `pulumi up` runs: database, two roles, two grants, three users."""
    created = {
        "analytics": DatabaseProvider(ch.factory).create({"name": "analytics", "connection": CONNECTION})
    }
    created["analytics_read"] = RoleProvider(ch.factory).create(
        {"name": "analytics_read", "readonly": 2.0, "connection": CONNECTION}
    )
    created["analytics_write"] = RoleProvider(ch.factory).create(
        {"name": "analytics_write", "connection": CONNECTION}
    )
    created["read@analytics"] = GrantProvider(ch.factory).create(grant_inputs("analytics_read", ["SELECT"]))
    created["write@analytics"] = GrantProvider(ch.factory).create(
        grant_inputs("analytics_write", WRITE_PRIVILEGES)
    )
    for user, (password_hex, role) in USERS.items():
        created[user] = UserProvider(ch.factory).create(user_inputs(user, password_hex, role))
    return created


FRESH_STACK_STATEMENTS = [
    "CREATE DATABASE IF NOT EXISTS `analytics`",
    "CREATE ROLE IF NOT EXISTS `analytics_read`",
    "CREATE SETTINGS PROFILE IF NOT EXISTS `analytics_read_profile` "
    "SETTINGS readonly = 2 CONST TO `analytics_read`",
    "CREATE ROLE IF NOT EXISTS `analytics_write`",
    "GRANT SELECT ON `analytics`.* TO `analytics_read`",
    "GRANT SELECT, INSERT, CREATE TABLE, ALTER TABLE, DROP TABLE ON `analytics`.* TO `analytics_write`",
    f"CREATE USER IF NOT EXISTS `app` IDENTIFIED WITH sha256_hash BY '{APP_HEX}'",
    f"ALTER USER `app` IDENTIFIED WITH sha256_hash BY '{APP_HEX}'",
    "GRANT `analytics_read` TO `app`",
    "SET DEFAULT ROLE `analytics_read` TO `app`",
    f"CREATE USER IF NOT EXISTS `data_pipeline` IDENTIFIED WITH sha256_hash BY '{PIPELINE_HEX}'",
    f"ALTER USER `data_pipeline` IDENTIFIED WITH sha256_hash BY '{PIPELINE_HEX}'",
    "GRANT `analytics_write` TO `data_pipeline`",
    "SET DEFAULT ROLE `analytics_write` TO `data_pipeline`",
    f"CREATE USER IF NOT EXISTS `ai` IDENTIFIED WITH sha256_hash BY '{AI_HEX}'",
    f"ALTER USER `ai` IDENTIFIED WITH sha256_hash BY '{AI_HEX}'",
    "GRANT `analytics_read` TO `ai`",
    "SET DEFAULT ROLE `analytics_read` TO `ai`",
]


# --- create: a fresh stack --------------------------------------------------------------------


def test_fresh_stack_runs_exactly_these_statements(ch: FakeClickHouse) -> None:
    created = create_fresh_stack(ch)
    assert ch.commands == FRESH_STACK_STATEMENTS
    assert ch.queries == []
    # One connection per operation, to the given endpoint (port normalised to int), always closed.
    assert len(ch.connections) == 8 == ch.closed
    assert all(c == {**CONNECTION, "port": 8443} and isinstance(c["port"], int) for c in ch.connections)
    assert {k: r.id for k, r in created.items()} == {
        "analytics": "analytics",
        "analytics_read": "analytics_read",
        "analytics_write": "analytics_write",
        "read@analytics": "analytics_read@analytics",
        "write@analytics": "analytics_write@analytics",
        "app": "app",
        "data_pipeline": "data_pipeline",
        "ai": "ai",
    }
    assert outs(created["app"]) == {
        "name": "app",
        "password_sha256_hex": APP_HEX,
        "default_role": "analytics_read",
        "previous_password_sha256_hex": None,
        "connection": {**CONNECTION, "port": 8443},
    }
    assert outs(created["analytics_read"])["readonly"] == 2
    assert outs(created["write@analytics"])["privileges"] == WRITE_PRIVILEGES


def test_grant_privileges_are_normalised_to_the_canonical_order(ch: FakeClickHouse) -> None:
    result = GrantProvider(ch.factory).create(grant_inputs("analytics_write", ["insert", "select", "SELECT"]))
    assert ch.commands == ["GRANT SELECT, INSERT ON `analytics`.* TO `analytics_write`"]
    assert outs(result)["privileges"] == ["SELECT", "INSERT"]


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["data-pipeline", "App", "1st", "", "a b", "x`; DROP USER admin; --", "_app"])
def test_identifiers_are_validated_not_escaped(bad: str) -> None:
    with pytest.raises(ValueError, match=r"not a valid ClickHouse identifier: it must match \^\[a-z\]"):
        statements.create_user(bad, APP_HEX)
    with pytest.raises(ValueError, match="role"):
        statements.create_role(bad)


@pytest.mark.parametrize(
    "bad",
    [
        base64.b64encode(hashlib.sha256(b"pw").digest()).decode(),  # the base64 form
        APP_HEX.upper(),
        APP_HEX[:-1],
        APP_HEX + "0",
        "' OR 1 --" + APP_HEX[10:],
    ],
)
def test_password_hash_must_be_64_lowercase_hex_and_is_never_echoed(bad: str) -> None:
    with pytest.raises(ValueError, match="64 lowercase hex") as err:
        statements.create_user("app", bad)
    assert bad not in str(err.value)


@pytest.mark.parametrize(
    "bad",
    [
        ["ALL"],
        ["SELECT", "ALL PRIVILEGES"],
        ["*"],
        ["ACCESS MANAGEMENT"],
        ["CREATE USER"],
        ["SELECT ON *.*"],
        [],
    ],
)
def test_privileges_outside_the_allow_list_are_rejected(bad: list[str]) -> None:
    with pytest.raises(ValueError, match="SELECT, INSERT, CREATE TABLE, ALTER TABLE, DROP TABLE"):
        statements.grant_privileges(bad, "analytics", "analytics_write")


def test_check_reports_every_bad_input_without_secrets() -> None:
    base64_hash = base64.b64encode(hashlib.sha256(b"pw").digest()).decode()
    news = {
        "name": "data-pipeline",
        "password_sha256_hex": base64_hash,
        "default_role": "Analytics",
        "connection": {**CONNECTION, "port": "8443"},
    }
    result = UserProvider().check({}, news)
    reasons = {f.property: f.reason for f in result.failures}
    assert set(reasons) == {"name", "password_sha256_hex", "default_role", "connection"}
    assert "map hyphens to underscores" in reasons["name"]
    assert "not the base64 form" in reasons["password_sha256_hex"]
    assert all(base64_hash not in r and ADMIN_PASSWORD not in r for r in reasons.values())


def test_check_normalises_known_values_and_passes_unknowns_through() -> None:
    news = {
        "role": UNKNOWN,
        "database": "analytics",
        "privileges": ["insert", "select"],
        "connection": UNKNOWN,
    }
    result = GrantProvider().check({}, news)
    assert result.failures == []
    assert result.inputs["privileges"] == ["SELECT", "INSERT"]
    assert result.inputs["role"] is UNKNOWN and result.inputs["connection"] is UNKNOWN
    bad = GrantProvider().check({}, {**news, "privileges": ["SELECT", "ALL"]})
    assert [f.property for f in bad.failures] == ["privileges"]


# --- diff -------------------------------------------------------------------------------------


def diff(provider: SqlProvider, olds: dict[str, Any], news: dict[str, Any]) -> PreciseDiff:
    result = provider.diff("id", olds, news)
    assert isinstance(result, PreciseDiff)
    assert result.changes is bool(result.diffs)
    return result


def test_diff_without_changes_is_empty(ch: FakeClickHouse) -> None:
    created = create_fresh_stack(ch)
    cases: list[tuple[SqlProvider, str, dict[str, Any]]] = [
        (DatabaseProvider(), "analytics", {"name": "analytics", "connection": CONNECTION}),
        (
            RoleProvider(),
            "analytics_read",
            {"name": "analytics_read", "readonly": 2.0, "connection": CONNECTION},
        ),
        (RoleProvider(), "analytics_write", {"name": "analytics_write", "connection": CONNECTION}),
        (
            GrantProvider(),
            "write@analytics",
            grant_inputs("analytics_write", list(reversed(WRITE_PRIVILEGES))),
        ),
        (UserProvider(), "app", user_inputs("app", APP_HEX, "analytics_read")),
    ]
    for provider, key, news in cases:
        result = diff(provider, outs(created[key]), news)
        assert (result.diffs, result.replaces, result.changes) == ([], [], False), key


@pytest.mark.parametrize(
    ("changes", "diffs", "replaces"),
    [
        ({"name": "app2"}, ["name"], ["name"]),
        ({"password_sha256_hex": APP_NEW_HEX}, ["password_sha256_hex"], []),
        ({"default_role": "analytics_write"}, ["default_role"], []),
        ({"connection": {**CONNECTION, "password": ROTATED_ADMIN_PASSWORD}}, ["connection"], []),
        ({"connection": {**CONNECTION, "username": "admin2"}}, ["connection"], []),
        # Another endpoint (a new service) is an update too: it provisions there, see below.
        ({"connection": {**CONNECTION, "host": "other.clickhouse.cloud"}}, ["connection"], []),
        ({"connection": {**CONNECTION, "port": 9440.0}}, ["connection"], []),
        (
            {"password_sha256_hex": APP_NEW_HEX, "default_role": "analytics_write"},
            ["password_sha256_hex", "default_role"],
            [],
        ),
        # Values a preview does not know yet: a new identity replaces, everything else updates.
        ({"name": UNKNOWN}, ["name"], ["name"]),
        ({"default_role": UNKNOWN}, ["default_role"], []),
        ({"connection": UNKNOWN}, ["connection"], []),
        ({"connection": {**CONNECTION, "host": UNKNOWN}}, ["connection"], []),
    ],
)
def test_user_diff_is_precise(
    ch: FakeClickHouse, changes: dict[str, Any], diffs: list[str], replaces: list[str]
) -> None:
    state = outs(UserProvider(ch.factory).create(user_inputs("app", APP_HEX, "analytics_read")))
    result = diff(UserProvider(), state, {**user_inputs("app", APP_HEX, "analytics_read"), **changes})
    assert (result.diffs, result.replaces) == (diffs, replaces)
    assert result.delete_before_replace is (True if replaces else None)


@pytest.mark.parametrize(
    ("provider", "olds", "news", "diffs", "replaces"),
    [
        (
            DatabaseProvider(),
            {"name": "analytics", "connection": CONNECTION},
            {"name": "analytics2", "connection": CONNECTION},
            ["name"],
            ["name"],
        ),
        (
            RoleProvider(),
            {"name": "analytics_read", "readonly": 2.0, "connection": CONNECTION},
            {"name": "analytics_read", "readonly": 1.0, "connection": CONNECTION},
            ["readonly"],
            [],
        ),
        (
            RoleProvider(),
            {"name": "analytics_read", "readonly": 2.0, "connection": CONNECTION},
            {"name": "analytics_read", "connection": CONNECTION},
            ["readonly"],
            [],
        ),
        (
            RoleProvider(),
            {"name": "analytics_read", "connection": CONNECTION},
            {"name": "reporting", "connection": {**CONNECTION, "password": ROTATED_ADMIN_PASSWORD}},
            ["name", "connection"],
            ["name"],
        ),
        (
            GrantProvider(),
            grant_inputs("analytics_read", ["SELECT"]),
            grant_inputs("analytics_read", ["SELECT", "INSERT"]),
            ["privileges"],
            [],
        ),
        (
            GrantProvider(),
            grant_inputs("analytics_read", ["SELECT"]),
            grant_inputs("analytics_write", ["SELECT"]),
            ["role"],
            ["role"],
        ),
        (
            GrantProvider(),
            grant_inputs("analytics_read", ["SELECT"]),
            grant_inputs("analytics_read", ["SELECT"], database="staging"),
            ["database"],
            ["database"],
        ),
    ],
)
def test_diff_replaces_only_for_identity(
    provider: SqlProvider, olds: dict[str, Any], news: dict[str, Any], diffs: list[str], replaces: list[str]
) -> None:
    result = diff(provider, olds, news)
    assert (result.diffs, result.replaces) == (diffs, replaces)
    assert result.delete_before_replace is None  # only users are deleted before their replacement


# --- update -----------------------------------------------------------------------------------


def test_admin_password_rotation_updates_outputs_without_sql(ch: FakeClickHouse) -> None:
    created = create_fresh_stack(ch)
    ch.commands.clear()
    rotated = {**CONNECTION, "password": ROTATED_ADMIN_PASSWORD}
    cases: list[tuple[SqlProvider, str, dict[str, Any]]] = [
        (DatabaseProvider(ch.factory), "analytics", {"name": "analytics", "connection": rotated}),
        (
            RoleProvider(ch.factory),
            "analytics_read",
            {"name": "analytics_read", "readonly": 2, "connection": rotated},
        ),
        (
            GrantProvider(ch.factory),
            "read@analytics",
            {**grant_inputs("analytics_read", ["SELECT"]), "connection": rotated},
        ),
        (UserProvider(ch.factory), "app", user_inputs("app", APP_HEX, "analytics_read", rotated)),
    ]
    for provider, key, news in cases:
        state = outs(created[key])
        assert diff(provider, state, news).diffs == ["connection"]
        updated = outs(provider.update(created[key].id, state, news))
        assert updated == {**state, "connection": {**rotated, "port": 8443}}
    assert ch.commands == []


def test_a_moved_endpoint_provisions_everything_on_the_new_service(ch: FakeClickHouse) -> None:
    created = create_fresh_stack(ch)
    ch.commands.clear()
    ch.connections.clear()
    moved = {**CONNECTION, "host": "restored.us-east-1.aws.clickhouse.cloud"}
    pending = {**outs(created["app"]), "previous_password_sha256_hex": APP_NEW_HEX}
    cases: list[tuple[SqlProvider, dict[str, Any], dict[str, Any]]] = [
        (
            DatabaseProvider(ch.factory),
            outs(created["analytics"]),
            {"name": "analytics", "connection": moved},
        ),
        (
            RoleProvider(ch.factory),
            outs(created["analytics_read"]),
            {"name": "analytics_read", "readonly": 2, "connection": moved},
        ),
        (
            GrantProvider(ch.factory),
            outs(created["read@analytics"]),
            {**grant_inputs("analytics_read", ["SELECT"]), "connection": moved},
        ),
        (UserProvider(ch.factory), pending, user_inputs("app", APP_HEX, "analytics_read", moved)),
    ]
    results = [outs(provider.update("id", olds, news)) for provider, olds, news in cases]
    # The create statements again (all idempotent), only on the new endpoint; nothing on the old one.
    assert (
        ch.commands == FRESH_STACK_STATEMENTS[:3] + FRESH_STACK_STATEMENTS[4:5] + FRESH_STACK_STATEMENTS[6:10]
    )
    assert {c["host"] for c in ch.connections} == {moved["host"]}
    assert all(r["connection"]["host"] == moved["host"] for r in results)
    assert results[-1]["previous_password_sha256_hex"] is None  # the new service knows one password


def test_password_rotation_is_two_step_add_then_retire(ch: FakeClickHouse) -> None:
    provider = UserProvider(ch.factory)
    state = outs(provider.create(user_inputs("app", APP_HEX, "analytics_read")))
    news = user_inputs("app", APP_NEW_HEX, "analytics_read")
    ch.commands.clear()

    # Step 1: the new hash is added; old and new passwords both work.
    assert diff(provider, state, news).diffs == ["password_sha256_hex"]
    rotated = outs(provider.update("app", state, news))
    assert ch.commands == [f"ALTER USER `app` ADD IDENTIFIED WITH sha256_hash BY '{APP_NEW_HEX}'"]
    assert rotated["password_sha256_hex"] == APP_NEW_HEX
    assert rotated["previous_password_sha256_hex"] == APP_HEX

    # Step 2: the next `pulumi up` (same inputs) sees the pending hash and retires it.
    pending = diff(provider, rotated, news)
    assert (pending.diffs, pending.replaces) == (["previous_password_sha256_hex"], [])
    ch.commands.clear()
    retired = outs(provider.update("app", rotated, news))
    assert ch.commands == [f"ALTER USER `app` IDENTIFIED WITH sha256_hash BY '{APP_NEW_HEX}'"]
    assert retired["previous_password_sha256_hex"] is None
    assert retired["password_sha256_hex"] == APP_NEW_HEX
    assert diff(provider, retired, news).changes is False


def test_rotating_again_while_a_previous_hash_is_pending_keeps_two_passwords(ch: FakeClickHouse) -> None:
    provider = UserProvider(ch.factory)
    rotated = {**outs(provider.create(user_inputs("app", APP_NEW_HEX, "analytics_read")))}
    rotated["previous_password_sha256_hex"] = APP_HEX
    news = user_inputs("app", APP_NEWER_HEX, "analytics_read")
    assert diff(provider, rotated, news).diffs == ["password_sha256_hex", "previous_password_sha256_hex"]
    ch.commands.clear()
    result = outs(provider.update("app", rotated, news))
    assert ch.commands == [
        f"ALTER USER `app` IDENTIFIED WITH sha256_hash BY '{APP_NEW_HEX}'",
        f"ALTER USER `app` ADD IDENTIFIED WITH sha256_hash BY '{APP_NEWER_HEX}'",
    ]
    assert (result["password_sha256_hex"], result["previous_password_sha256_hex"]) == (
        APP_NEWER_HEX,
        APP_NEW_HEX,
    )


def test_default_role_change_revokes_grants_and_sets_default(ch: FakeClickHouse) -> None:
    provider = UserProvider(ch.factory)
    state = outs(provider.create(user_inputs("ai", AI_HEX, "analytics_read")))
    ch.commands.clear()
    news = user_inputs("ai", AI_HEX, "analytics_write")
    result = outs(provider.update("ai", state, news))
    assert ch.commands == [
        "REVOKE `analytics_read` FROM `ai`",
        "GRANT `analytics_write` TO `ai`",
        "SET DEFAULT ROLE `analytics_write` TO `ai`",
    ]
    assert result["default_role"] == "analytics_write" and result["previous_password_sha256_hex"] is None


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            None,
            1,
            REPLACE_READ_PROFILE.format(level=1),
        ),
        (
            2.0,
            1,
            REPLACE_READ_PROFILE.format(level=1),
        ),
        (2.0, None, "DROP SETTINGS PROFILE IF EXISTS `analytics_read_profile`"),
    ],
)
def test_role_readonly_change(ch: FakeClickHouse, old: float | None, new: int | None, expected: str) -> None:
    olds = {"name": "analytics_read", "readonly": old, "connection": CONNECTION}
    news = {"name": "analytics_read", "readonly": new, "connection": CONNECTION}
    result = outs(RoleProvider(ch.factory).update("analytics_read", olds, news))
    assert ch.commands == [expected]
    assert result["readonly"] == new


def test_grant_update_revokes_removed_and_grants_added_privileges(ch: FakeClickHouse) -> None:
    olds = outs(
        GrantProvider(ch.factory).create(grant_inputs("analytics_write", ["SELECT", "INSERT", "DROP TABLE"]))
    )
    ch.commands.clear()
    news = grant_inputs("analytics_write", ["SELECT", "CREATE TABLE", "ALTER TABLE"])
    result = outs(GrantProvider(ch.factory).update("analytics_write@analytics", olds, news))
    assert ch.commands == [
        "REVOKE INSERT, DROP TABLE ON `analytics`.* FROM `analytics_write`",
        "GRANT CREATE TABLE, ALTER TABLE ON `analytics`.* TO `analytics_write`",
    ]
    assert result["privileges"] == ["SELECT", "CREATE TABLE", "ALTER TABLE"]


# --- read (refresh, drift) --------------------------------------------------------------------


def test_read_database(ch: FakeClickHouse) -> None:
    state = outs(DatabaseProvider(ch.factory).create({"name": "analytics", "connection": CONNECTION}))
    ch.databases.add("analytics")
    found = DatabaseProvider(ch.factory).read("analytics", state)
    assert (found.id, found.outs) == ("analytics", state)
    ch.databases.clear()
    gone = DatabaseProvider(ch.factory).read("analytics", state)
    assert (gone.id, gone.outs) == ("", {})  # the host's Read needs a dict, never None
    assert ch.queries[-1] == Query(
        "SELECT name FROM system.databases WHERE name = {name:String}", {"name": "analytics"}
    )


def test_read_role_and_its_readonly_profile(ch: FakeClickHouse) -> None:
    provider = RoleProvider(ch.factory)
    state = outs(provider.create({"name": "analytics_read", "readonly": 2, "connection": CONNECTION}))
    ch.roles.add("analytics_read")
    ch.profiles["analytics_read_profile"] = (["analytics_read"], "2", "CONST")
    assert outs(provider.read("analytics_read", state)) == state

    # Drift: the profile lost CONST. Refresh reports no readonly; the next update replaces the profile.
    ch.profiles["analytics_read_profile"] = (["analytics_read"], "2", "WRITABLE")
    drifted = outs(provider.read("analytics_read", state))
    assert drifted["readonly"] is None
    news = {"name": "analytics_read", "readonly": 2, "connection": CONNECTION}
    assert diff(provider, drifted, news).diffs == ["readonly"]
    ch.commands.clear()
    provider.update("analytics_read", drifted, news)
    assert ch.commands == [REPLACE_READ_PROFILE.format(level=2)]
    # A profile no longer applied to the role counts as missing too.
    ch.profiles["analytics_read_profile"] = ([], "2", "CONST")
    assert outs(provider.read("analytics_read", state))["readonly"] is None

    ch.roles.clear()
    assert provider.read("analytics_read", state).id == ""


def test_read_grant_reports_the_privileges_still_held(ch: FakeClickHouse) -> None:
    provider = GrantProvider(ch.factory)
    state = outs(provider.create(grant_inputs("analytics_write", WRITE_PRIVILEGES)))
    ch.grants[("analytics_write", "analytics")] = ["SELECT", "INSERT", "ALTER TABLE", "SHOW TABLES"]
    partial = provider.read("analytics_write@analytics", state)
    assert partial.id == "analytics_write@analytics"
    assert outs(partial)["privileges"] == ["SELECT", "INSERT", "ALTER TABLE"]
    ch.commands.clear()
    provider.update(
        "analytics_write@analytics", outs(partial), grant_inputs("analytics_write", WRITE_PRIVILEGES)
    )
    assert ch.commands == ["GRANT CREATE TABLE, DROP TABLE ON `analytics`.* TO `analytics_write`"]
    ch.grants.clear()
    assert (provider.read("analytics_write@analytics", state).id, provider.read("x", state).outs) == ("", {})


def test_read_user_and_default_role_drift(ch: FakeClickHouse) -> None:
    provider = UserProvider(ch.factory)
    state = outs(provider.create(user_inputs("app", APP_HEX, "analytics_read")))
    ch.users["app"] = (0, ["analytics_read"])
    ch.role_grants["app"] = ["analytics_read"]
    assert outs(provider.read("app", state)) == state

    # Someone made another role the default: refresh shows it, the update puts ours back.
    ch.users["app"] = (0, ["analytics_write"])
    ch.role_grants["app"] = ["analytics_read", "analytics_write"]
    drifted = outs(provider.read("app", state))
    assert drifted["default_role"] == "analytics_write"
    assert drifted["password_sha256_hex"] == APP_HEX  # hashes cannot be read back: kept from state
    news = user_inputs("app", APP_HEX, "analytics_read")
    assert diff(provider, drifted, news).diffs == ["default_role"]
    ch.commands.clear()
    provider.update("app", drifted, news)
    assert ch.commands == [
        "REVOKE `analytics_write` FROM `app`",
        "GRANT `analytics_read` TO `app`",
        "SET DEFAULT ROLE `analytics_read` TO `app`",
    ]

    # No usable default role at all: "" (nothing to revoke), then grant and set ours.
    ch.users["app"] = (0, [])
    none_left = outs(provider.read("app", state))
    assert none_left["default_role"] == ""
    ch.commands.clear()
    provider.update("app", none_left, news)
    assert ch.commands == ["GRANT `analytics_read` TO `app`", "SET DEFAULT ROLE `analytics_read` TO `app`"]

    ch.users.clear()
    assert (provider.read("app", state).id, provider.read("app", state).outs) == ("", {})


def test_reads_use_server_side_parameters(ch: FakeClickHouse) -> None:
    drive_every_path(ch)
    assert {q.sql.split(" FROM ")[1].split()[0] for q in ch.queries} == {
        "system.databases",
        "system.roles",
        "system.settings_profiles",
        "system.settings_profile_elements",
        "system.grants",
        "system.users",
        "system.role_grants",
    }
    for query in ch.queries:
        assert query.parameters
        for key, value in query.parameters.items():
            assert f"{{{key}:String}}" in query.sql
            assert f"'{value}'" not in query.sql and f"`{value}`" not in query.sql


# --- delete -----------------------------------------------------------------------------------


def test_delete(ch: FakeClickHouse) -> None:
    created = create_fresh_stack(ch)
    ch.commands.clear()
    ch.connections.clear()
    DatabaseProvider(ch.factory).delete("analytics", outs(created["analytics"]))
    assert (ch.commands, ch.connections) == ([], [])  # retained: not even a connection
    RoleProvider(ch.factory).delete("analytics_read", outs(created["analytics_read"]))
    RoleProvider(ch.factory).delete("analytics_write", outs(created["analytics_write"]))
    GrantProvider(ch.factory).delete("analytics_write@analytics", outs(created["write@analytics"]))
    UserProvider(ch.factory).delete("app", outs(created["app"]))
    assert ch.commands == [
        "DROP SETTINGS PROFILE IF EXISTS `analytics_read_profile`",
        "DROP ROLE IF EXISTS `analytics_read`",
        "DROP ROLE IF EXISTS `analytics_write`",
        "REVOKE SELECT, INSERT, CREATE TABLE, ALTER TABLE, DROP TABLE "
        "ON `analytics`.* FROM `analytics_write`",
        "DROP USER IF EXISTS `app`",
    ]


def test_deleting_a_grant_of_a_role_that_is_gone_succeeds(ch: FakeClickHouse) -> None:
    state = outs(GrantProvider(ch.factory).create(grant_inputs("analytics_read", ["SELECT"])))
    ch.fail_on["REVOKE"] = sql_error(
        511, "UNKNOWN_ROLE", "There is no role `analytics_read` in user directories"
    )
    GrantProvider(ch.factory).delete("analytics_read@analytics", state)
    ch.fail_on["REVOKE"] = sql_error(497, "ACCESS_DENIED", "default: Not enough privileges")
    with pytest.raises(ClickHouseSQLError, match="error code 497"):
        GrantProvider(ch.factory).delete("analytics_read@analytics", state)


# --- errors -----------------------------------------------------------------------------------


def test_sql_error_is_not_retried_and_names_object_and_code_without_secrets(ch: FakeClickHouse) -> None:
    provider = UserProvider(ch.factory)
    state = outs(provider.create(user_inputs("app", APP_HEX, "analytics_read")))
    echoed = f"Not enough privileges for ALTER USER app ADD IDENTIFIED WITH sha256_hash BY '{APP_NEW_HEX}'"
    ch.fail_on["ALTER USER"] = sql_error(497, "ACCESS_DENIED", echoed)
    ch.commands.clear()
    ch.connections.clear()
    with pytest.raises(ClickHouseSQLError) as err:
        provider.update("app", state, user_inputs("app", APP_NEW_HEX, "analytics_read"))
    message = str(err.value)
    assert message.startswith(
        "user `app`: ALTER USER failed with ClickHouse error code 497: Code: 497. DB::Exception:"
    )
    assert "ACCESS_DENIED" in message and "BY '<redacted>'" in message
    assert err.value.code == 497
    assert (len(ch.commands), len(ch.connections), ch.closed > 0) == (1, 1, True)  # one attempt, closed
    # The dynamic provider host sends the formatted traceback to the engine: it must be clean too.
    shown = "".join(traceback.format_exception(err.value))
    assert all(secret not in shown for secret in SECRETS)
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_read_error_is_clean_too(ch: FakeClickHouse) -> None:
    def failing(sql: str, parameters: Mapping[str, str]) -> list[tuple[Any, ...]]:
        raise sql_error(60, "UNKNOWN_TABLE", f"Table system.users does not exist; password {ADMIN_PASSWORD}")

    ch.rows = failing  # type: ignore[method-assign,assignment]
    with pytest.raises(ClickHouseSQLError) as err:
        UserProvider(ch.factory).read("app", user_inputs("app", APP_HEX, "analytics_read"))
    assert str(err.value).startswith("user `app`: reading system.users failed with ClickHouse error code 60")
    assert ADMIN_PASSWORD not in str(err.value)


# --- pickling ---------------------------------------------------------------------------------


def test_pickled_providers_hold_no_secrets(ch: FakeClickHouse, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client, "connect", ch.factory)  # the default factory, looked up per call
    providers: list[SqlProvider] = [DatabaseProvider(), RoleProvider(), GrantProvider(), UserProvider()]
    database, role, grant, user = providers
    database.create({"name": "analytics", "connection": CONNECTION})
    role.create({"name": "analytics_read", "readonly": 2, "connection": CONNECTION})
    grant.create(grant_inputs("analytics_read", ["SELECT"]))
    state = outs(user.create(user_inputs("app", APP_HEX, "analytics_read")))
    rotated = outs(user.update("app", state, user_inputs("app", APP_NEW_HEX, "analytics_read")))
    user.read("app", rotated)
    user.delete("app", rotated)
    assert any(APP_NEW_HEX in sql for sql in ch.commands) and ch.connections[0]["password"] == ADMIN_PASSWORD

    for provider in providers:
        assert vars(provider) == {"_executor_factory": None}
        blob = dill.dumps(provider, recurse=True)
        stored = base64.b64decode(serialize_provider(provider))  # exactly what goes into the state
        for secret in SECRETS:
            assert secret.encode() not in blob and secret.encode() not in stored
        assert type(dill.loads(stored)) is type(provider)


# --- every statement parses with a real ClickHouse parser ------------------------------------

NOT_BUILDERS = {"identifier", "quote_identifier", "sha256_hex", "quote_literal", "profile_name"}
BUILDERS = sorted(
    name
    for name, fn in inspect.getmembers(statements, inspect.isfunction)
    if fn.__module__ == statements.__name__
    and not name.startswith("_")
    and name not in NOT_BUILDERS
    and inspect.signature(fn).return_annotation in ("str", "Query")
)


def drive_every_path(ch: FakeClickHouse) -> None:
    """Every provider method on every branch that emits SQL or reads system tables."""
    created = create_fresh_stack(ch)
    # updates: readonly set/changed/removed, privileges, rotation, retire, rotation while pending, role
    role = RoleProvider(ch.factory)
    role.update(
        "r",
        outs(created["analytics_write"]),
        {"name": "analytics_write", "readonly": 1, "connection": CONNECTION},
    )
    role.update("r", outs(created["analytics_read"]), {"name": "analytics_read", "connection": CONNECTION})
    GrantProvider(ch.factory).update(
        "g", outs(created["write@analytics"]), grant_inputs("analytics_write", ["SELECT"])
    )
    GrantProvider(ch.factory).update(
        "g", outs(created["read@analytics"]), grant_inputs("analytics_read", ["INSERT"])
    )
    user = UserProvider(ch.factory)
    rotated = outs(
        user.update("app", outs(created["app"]), user_inputs("app", APP_NEW_HEX, "analytics_read"))
    )
    user.update("app", rotated, user_inputs("app", APP_NEWER_HEX, "analytics_read"))
    user.update("app", rotated, user_inputs("app", APP_NEW_HEX, "analytics_write"))
    # reads of live objects (all system tables) and of missing ones
    ch.databases.add("analytics")
    ch.roles.add("analytics_read")
    ch.profiles["analytics_read_profile"] = (["analytics_read"], "2", "CONST")
    ch.grants[("analytics_read", "analytics")] = ["SELECT"]
    ch.users["app"] = (0, ["analytics_read"])
    ch.role_grants["app"] = ["analytics_read"]
    for provider, key in [
        (DatabaseProvider(ch.factory), "analytics"),
        (RoleProvider(ch.factory), "analytics_read"),
        (GrantProvider(ch.factory), "read@analytics"),
        (UserProvider(ch.factory), "app"),
        (UserProvider(ch.factory), "ai"),
    ]:
        provider.read(created[key].id, outs(created[key]))
    # deletes
    RoleProvider(ch.factory).delete("analytics_read", outs(created["analytics_read"]))
    GrantProvider(ch.factory).delete("g", outs(created["read@analytics"]))
    UserProvider(ch.factory).delete("app", outs(created["app"]))


def assert_parses(sql: str) -> None:
    """ClickHouse's own parser (chdb, embedded ClickHouse) accepts the statement: formatQuery raises
    on a syntax error. The statement travels as a query parameter, so no quoting is involved."""
    formatted = chdb_query("SELECT formatQuery({statement:String})", "TSVRaw", params={"statement": sql})
    assert str(formatted).strip(), sql


def clickhouse_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def assert_all_parse(sqls: list[str]) -> None:
    """assert_parses for many statements in one chdb query (one Array(String) parameter).

    The statements come back next to their formatted form, proving the array literal delivered
    each one unchanged; on a failure each is checked alone, so the error names the bad one.
    """
    array = "[" + ",".join(clickhouse_string(sql) for sql in sqls) + "]"
    try:
        result = chdb_query(
            "SELECT s, formatQuery(s) FROM (SELECT arrayJoin({statements:Array(String)}) AS s)",
            "JSONCompactEachRow",
            params={"statements": array},
        )
    except Exception:
        for sql in sqls:
            assert_parses(sql)
        raise
    rows = [json.loads(line) for line in str(result).splitlines() if line.strip()]
    assert sorted(row[0] for row in rows) == sorted(sqls)
    assert all(row[1] for row in rows)


def assert_resolves(query: Query) -> None:
    """ClickHouse's analyzer resolves the read against chdb's own system tables, with its server-side
    parameters: the tables, columns and parameter types exist. (DESCRIBE analyses without executing;
    chdb's default user may not read the access tables.)"""
    described = chdb_query(f"DESCRIBE TABLE ({query.sql})", "TSVRaw", params=dict(query.parameters))
    assert str(described).strip(), query.sql


@pytest.fixture
def called_builders(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[str]]:
    called: set[str] = set()

    def recording(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            called.add(name)
            return fn(*args, **kwargs)

        return wrapper

    for name in BUILDERS:
        monkeypatch.setattr(statements, name, recording(name, getattr(statements, name)))
    yield called


def test_every_emitted_statement_is_valid_clickhouse_sql(
    ch: FakeClickHouse, called_builders: set[str]
) -> None:
    drive_every_path(ch)
    assert len(BUILDERS) >= 22 and called_builders == set(BUILDERS), set(BUILDERS) - called_builders
    ddl = list(dict.fromkeys([*ch.commands, *EMITTED]))
    reads = list({(q.sql, tuple(sorted(q.parameters.items()))): q for q in [*ch.queries, *READS]}.values())
    assert len(ddl) >= 30 and len(reads) >= 7
    assert_all_parse(ddl + [query.sql for query in reads])
    for query in {query.sql: query for query in reads}.values():
        assert_resolves(query)


@pytest.mark.parametrize(
    "broken",
    [
        "GRANT SELECT ON `analytics`.* TO",
        "CREATE ROLE IF NOT EXIST `analytics_read`",
        f"ALTER USER `app` IDENTIFIED WITH sha256_hash BY '{APP_HEX}",
        "SELECT name FROM system.roles WHERE name = {name:String",
    ],
)
def test_the_parser_check_rejects_broken_statements(broken: str) -> None:
    with pytest.raises(Exception, match=r"SYNTAX_ERROR|Syntax error"):
        assert_parses(broken)
    with pytest.raises(Exception, match=r"SYNTAX_ERROR|Syntax error") as err:
        assert_all_parse(["GRANT `analytics_read` TO `app`", broken, "DROP USER IF EXISTS `app`"])
    assert "GRANT `analytics_read` TO `app`'" not in str(err.value)  # names the broken one alone


def test_the_read_check_rejects_an_unknown_column() -> None:
    query = statements.user_granted_roles("app")
    with pytest.raises(Exception, match=r"UNKNOWN_IDENTIFIER|Unknown expression"):
        assert_resolves(query._replace(sql=query.sql.replace("granted_role_name", "granted_role")))


def test_the_batch_check_delivers_quotes_and_backslashes_unchanged() -> None:
    tricky = ["SELECT 'it\\'s'", "SELECT 'back\\\\slash'", "SELECT '{not:Param}'"]
    assert_all_parse(tricky)
