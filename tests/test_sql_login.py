"""The SQL login comes from the job's environment, never from config or state (issue 19, item 1).

- the real program under the harness: no stack file, config key, resource input or output, or
  pickled provider holds the SQL password that is in the environment;
- an update checks the login before declaring anything (missing, or the read-only `observer`);
  a preview needs none; `clickhouseProvisionerPassword` is refused with the migration steps;
- the providers (CRUD called directly, the stateful model as the server): with `observer` a
  preview (check, diff) and a refresh (read: SELECTs only) work, and create, update and delete stop
  with one clean error before any SQL; ACCESS_DENIED on a write with another read-only login says
  the same; a refused login (516) names `make provisioner` with the stack's values;
- a state written before (its `connection` holds username/password) moves to `{host, port}` by
  an update that runs no SQL.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from typing import Any

import dill  # type: ignore[import-untyped]
import pytest
from pulumi.runtime import rpc

from clickhouse_sql import ClickHouseLoginError, ClickHouseSQLError
from clickhouse_sql.base import SqlProvider
from clickhouse_sql.database import DatabaseProvider
from clickhouse_sql.user import UserProvider
from settings.sql_login import sql_login_problems
from tests.ch_model import ClickHouseModel
from tests.helpers import run_ok
from tests.sql_engine import CONNECTION, HOST, Engine, declare
from tests.sql_login_env import SQL_PASSWORD
from tests.test_clickhouse_sql_transport import sql_error
from tools.harness import (
    PLACEHOLDER_ENV,
    PLACEHOLDER_SQL_PASSWORD,
    PROJECT,
    ROOT,
    Secret,
    engine_config,
    read_stack_config,
    run_program,
)

P = f"{PROJECT}:"
DYNAMIC = "pulumi-python:dynamic/clickhouse:"
OLD_PASSWORD = "Old-Pr0visioner-Pa55!"  # what a stack's config held before
USERS = {"app": (["a" * 64], "read"), "data_pipeline": (["b" * 64], "write")}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        if rpc._special_sig_key in value:
            return _plain(rpc.unwrap_rpc_secret(value))
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


# --- the real program ----------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_input_output_state_or_pickled_provider_holds_the_sql_password(stack: str) -> None:
    assert PLACEHOLDER_ENV["CLICKHOUSE_SQL_PASSWORD"] == PLACEHOLDER_SQL_PASSWORD  # what the run had
    run = run_ok(stack)
    sql = [r for r in run.resources if r.type.startswith(DYNAMIC)]
    assert len(sql) >= 5  # the database, two roles, two grants, and the consumers' objects
    found: list[tuple[str, str]] = []
    for res in run.resources:
        text = json.dumps(_plain([res.inputs, res.state]), default=str)
        if PLACEHOLDER_SQL_PASSWORD in text:
            found.append((res.name, "inputs/outputs"))
        if "__provider" in res.inputs:
            pickled = base64.b64decode(_plain(res.inputs["__provider"]))
            if PLACEHOLDER_SQL_PASSWORD.encode() in pickled:
                found.append((res.name, "pickled provider"))
            if res.type.startswith(DYNAMIC):  # the SQL providers hold nothing but the executor factory
                assert vars(dill.loads(pickled)) == {"_executor_factory": None}, res.name
    if PLACEHOLDER_SQL_PASSWORD in json.dumps(run.outputs, default=str):
        found.append(("stack outputs", "outputs"))
    assert found == []
    for res in sql:  # the provider gets where to connect, and nothing of the login
        assert set(_plain(res.inputs["connection"])) == {"host", "port"}, res.name


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_stack_file_or_schema_knows_a_sql_password_key(stack: str) -> None:
    config = read_stack_config(stack)
    assert f"{P}clickhouseProvisionerPassword" not in config
    text = (ROOT / f"Pulumi.{stack}.yaml").read_text()
    assert "clickhouseProvisionerPassword" not in text and "CLICKHOUSE_SQL_PASSWORD=" not in text
    schema = (ROOT / "schema" / "pulumi-stack.schema.json").read_text()
    assert "clickhouseProvisionerPassword" not in schema
    # The config as the engine hands it to the program (secrets decrypted to the placeholders).
    values, _ = engine_config(config)
    assert [k for k in values if "password" in k.lower()] == [f"{P}clickhouseAdminPasswordHash"]
    assert PLACEHOLDER_SQL_PASSWORD not in json.dumps(values)


def test_a_stack_that_still_has_the_provisioner_password_gets_the_migration_steps() -> None:
    run = run_program("prod", {f"{P}clickhouseProvisionerPassword": Secret(OLD_PASSWORD)})
    assert run.error is not None
    assert run.error.startswith("stack 'prod' has 1 configuration problem:")
    assert f"{P}clickhouseProvisionerPassword = <redacted>: is no longer read" in run.error
    for step in (
        "CLICKHOUSE_SQL_USER, CLICKHOUSE_SQL_PASSWORD",
        f"pulumi config get {P}clickhouseProvisionerPassword --stack prod",
        "the secret CLICKHOUSE_SQL_PASSWORD of the deploy GitHub environment of stack 'prod'",
        "make provisioner STACK=prod LEGACY=1, else make provisioner STACK=prod: it creates the "
        "read-only `observer`",
        f"pulumi config rm {P}clickhouseProvisionerPassword --stack prod",
        "to {host, port} without running SQL",
        "docs/sql-login.md",
    ):
        assert step in run.error, step
    assert OLD_PASSWORD not in run.error
    assert run.resources == []


def test_an_update_without_a_sql_login_stops_before_any_resource() -> None:
    run = run_program("dev", env={"CLICKHOUSE_SQL_USER": "", "CLICKHOUSE_SQL_PASSWORD": ""})
    assert run.error is not None and run.resources == []
    assert "stack 'dev' has 2 configuration problems:" in run.error
    for name in ("CLICKHOUSE_SQL_USER", "CLICKHOUSE_SQL_PASSWORD"):
        assert f"{name} (environment variable) = (not set): is required for an update" in run.error
    assert "export CLICKHOUSE_SQL_USER=provisioner CLICKHOUSE_SQL_PASSWORD=<its password>" in run.error


def test_an_update_with_the_observer_login_stops_naming_the_variable() -> None:
    run = run_program(
        "prod", env={"CLICKHOUSE_SQL_USER": "observer", "CLICKHOUSE_SQL_PASSWORD": "0bserver-Pw!"}
    )
    assert run.error is not None and run.resources == []
    assert (
        'CLICKHOUSE_SQL_USER (environment variable) = "observer": CLICKHOUSE_SQL_USER=observer is the '
        "read-only login (previews, plans, drift): an update needs CLICKHOUSE_SQL_USER=provisioner and its "
        "password in CLICKHOUSE_SQL_PASSWORD"
    ) in run.error
    assert "0bserver-Pw!" not in run.error


@pytest.mark.parametrize(
    "env",
    [
        {"CLICKHOUSE_SQL_USER": "observer", "CLICKHOUSE_SQL_PASSWORD": "0bserver-Pw!"},
        {"CLICKHOUSE_SQL_USER": "", "CLICKHOUSE_SQL_PASSWORD": ""},
    ],
    ids=["observer", "no-login"],
)
def test_a_preview_needs_no_writing_login(env: dict[str, str]) -> None:
    run = run_program("prod", preview=True, env=env)
    assert run.error is None
    assert len([r for r in run.resources if r.type.startswith(DYNAMIC)]) >= 5


def test_the_check_reads_the_environment_it_is_given() -> None:
    login = {"CLICKHOUSE_SQL_USER": "provisioner", "CLICKHOUSE_SQL_PASSWORD": "x"}
    assert sql_login_problems(login, "dev", dry_run=False) == []
    assert sql_login_problems({}, "dev", dry_run=True) == []
    assert [p.key for p in sql_login_problems({"CLICKHOUSE_SQL_USER": " "}, "dev", dry_run=False)] == [
        "CLICKHOUSE_SQL_USER (environment variable)",
        "CLICKHOUSE_SQL_PASSWORD (environment variable)",
    ]


# --- the providers: observer, read-only logins, refused logins ---------------------------------


def _up(model: ClickHouseModel) -> Engine:
    engine = Engine(model)
    engine.up(declare(USERS))
    return engine


def test_the_observer_previews_and_refreshes_but_every_write_stops_before_any_sql(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = ClickHouseModel()
    engine = _up(model)  # as provisioner (tests/conftest.py)
    monkeypatch.setenv("CLICKHOUSE_SQL_USER", "observer")
    monkeypatch.setenv("CLICKHOUSE_SQL_PASSWORD", "0bserver-Pw!")
    statements, reads, connections = len(model.statements), len(model.reads), model.connections

    # A preview: check and diff, no connection at all.
    changed = {**dict(declare(USERS)[-3][2]), "passwords_sha256_hex": ["c" * 64]}  # data_pipeline's user
    previewed: dict[str, bool] = {}
    preview: list[tuple[str, type[SqlProvider], dict[str, Any]]] = [
        *declare(USERS)[:-3],
        ("data_pipeline-user", UserProvider, changed),
    ]
    for name, cls, inputs in preview:
        checked = cls(model.factory).check({}, inputs)
        assert not checked.failures, name
        _, id_, olds = engine.state[name]
        previewed[name] = bool(cls(model.factory).diff(id_, olds, dict(checked.inputs or {})).changes)
    assert [name for name, changes in previewed.items() if changes] == ["data_pipeline-user"]
    assert (model.connections, len(model.reads)) == (connections, reads)

    # A refresh: reads only.
    assert engine.refresh() == {}
    assert len(model.reads) > reads and len(model.statements) == statements

    # An up: create, update and delete each stop with the clean error, before connecting.
    connections = model.connections
    name, cls, inputs = declare(USERS)[5]  # the first user
    _, id_, olds = engine.state[name]
    provider = cls(model.factory)
    calls: list[tuple[str, Callable[[], object]]] = [
        ("create", lambda: provider.create(dict(inputs))),
        ("update", lambda: provider.update(id_, olds, {**inputs, "passwords_sha256_hex": ["c" * 64]})),
        ("writing", lambda: provider.delete(id_, olds)),  # a user's delete drops it: its session refuses
        ("delete", lambda: DatabaseProvider(model.factory).delete("analytics", engine.state["database"][2])),
    ]
    for verb, call in calls:
        with pytest.raises(ClickHouseLoginError) as err:
            call()
        message = str(err.value)
        assert message.endswith(
            f"{verb} refused: CLICKHOUSE_SQL_USER=observer is the read-only login (previews, plans, "
            "drift): an `up` or `destroy` needs CLICKHOUSE_SQL_USER=provisioner and its password in "
            "CLICKHOUSE_SQL_PASSWORD (the deploy job's login; docs/sql-login.md)"
        ), message
        assert "0bserver-Pw!" not in message
    assert (model.connections, len(model.statements)) == (connections, statements)


class ReadOnlyExecutor:
    """A login that may read but not write (not named `observer`): ClickHouse answers DDL with 497."""

    def __init__(self, model: ClickHouseModel) -> None:
        self.model = model

    def __call__(self, _connection: Any) -> ReadOnlyExecutor:
        return self

    def command(self, sql: str) -> None:
        raise sql_error(
            497,
            "ACCESS_DENIED",
            f"auditor: Not enough privileges. To execute this query, it's necessary to have {sql.split()[0]}",
        )

    def query(self, sql: str, parameters: Mapping[str, str]) -> list[tuple[Any, ...]]:
        return self.model.query(sql, parameters)

    def close(self) -> None:
        return None


def test_access_denied_on_a_write_with_another_login_is_the_read_only_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLICKHOUSE_SQL_USER", "auditor")
    provider = DatabaseProvider(ReadOnlyExecutor(ClickHouseModel()))
    with pytest.raises(ClickHouseSQLError) as err:
        provider.create({"name": "events", "connection": CONNECTION})
    assert str(err.value) == (
        "database `events`: CREATE DATABASE failed with ClickHouse error code 497 (ACCESS_DENIED): "
        "CLICKHOUSE_SQL_USER=auditor is the read-only login (previews, plans, drift): an `up` or "
        "`destroy` needs CLICKHOUSE_SQL_USER=provisioner and its password in CLICKHOUSE_SQL_PASSWORD "
        "(the deploy job's login; docs/sql-login.md)"
    )
    assert err.value.code == 497


def test_a_refused_login_names_make_provisioner_with_the_stacks_values_and_no_password() -> None:
    def refusing(_connection: Any) -> Any:
        raise sql_error(
            516,
            "AUTHENTICATION_FAILED",
            f"provisioner: Authentication failed: password {SQL_PASSWORD} is incorrect",
        )

    inputs = {"name": "analytics", "connection": {"host": HOST, "port": 8443.0}, "stack": "prod"}
    with pytest.raises(ClickHouseSQLError) as err:
        DatabaseProvider(refusing).create(inputs)
    message = str(err.value)
    assert f"`make provisioner STACK=prod HOST={HOST} PORT=8443`" in message
    assert message.startswith(f"database `analytics`: connecting failed: ClickHouse at {HOST}:8443 refused")
    assert SQL_PASSWORD not in message and err.value.code == 516


def test_a_missing_login_is_one_clean_error_naming_both_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLICKHOUSE_SQL_USER")
    monkeypatch.delenv("CLICKHOUSE_SQL_PASSWORD")
    model = ClickHouseModel()
    with pytest.raises(ClickHouseLoginError) as err:
        DatabaseProvider(model.factory).read("analytics", {"name": "analytics", "connection": CONNECTION})
    assert str(err.value).startswith(
        "database `analytics`: CLICKHOUSE_SQL_USER and CLICKHOUSE_SQL_PASSWORD are not set: the SQL provider "
        "reads its login from the environment"
    )
    assert model.connections == 0


def test_the_environment_password_is_scrubbed_from_errors() -> None:
    def echoing(_connection: Any) -> Any:
        raise sql_error(1000, "UNKNOWN", f"something echoed {SQL_PASSWORD} back")

    with pytest.raises(ClickHouseSQLError) as err:
        DatabaseProvider(echoing).create({"name": "analytics", "connection": CONNECTION})
    assert SQL_PASSWORD not in str(err.value) and "<redacted>" in str(err.value)


def test_check_refuses_a_login_in_the_connection_input_without_echoing_it() -> None:
    news = {
        "name": "analytics",
        "connection": {**CONNECTION, "username": "provisioner", "password": OLD_PASSWORD},
    }
    failures = DatabaseProvider().check({}, news).failures
    assert [f.property for f in failures] == ["connection"]
    assert "password, username" in failures[0].reason and OLD_PASSWORD not in failures[0].reason


# --- migration of a state whose connection still holds the login ----------------------------------


@pytest.mark.parametrize("index", range(len(declare(USERS))), ids=[n for n, _, _ in declare(USERS)])
def test_a_stored_login_leaves_the_state_by_an_update_that_runs_no_sql(index: int) -> None:
    model = ClickHouseModel()
    engine = _up(model)
    name, cls, inputs = declare(USERS)[index]
    _, id_, outs = engine.state[name]
    # The state as the previous version wrote it: the login inside `connection`, no `stack`.
    legacy = {**outs, "connection": {**CONNECTION, "username": "provisioner", "password": OLD_PASSWORD}}
    legacy.pop("stack", None)
    provider: SqlProvider = cls(model.factory)
    news = {**dict(provider.check({}, inputs).inputs or {}), "stack": "prod"}
    diff = provider.diff(id_, legacy, news)
    assert diff.changes and diff.replaces == [] and set(diff.diffs) == {"connection", "stack"}
    statements, connections = len(model.statements), model.connections
    updated = provider.update(id_, legacy, news).outs or {}
    assert (len(model.statements), model.connections) == (statements, connections)  # store-only
    assert updated["connection"] == {"host": HOST, "port": 8443} and updated["stack"] == "prod"
    assert OLD_PASSWORD not in json.dumps(updated, default=str)
    assert not provider.diff(id_, updated, news).changes  # the next `up` finds nothing to do
