"""The program's access inventory and `adopt`, under the mock harness: what the inventory is told
is declared (every consumer's user, profile and quota, the project roles, the namespace, the
provisioning user), that it holds no secret but the connection (secret), and that
`consumers.<name>.adopt` reaches exactly that consumer's SQL objects (validated: ClickHouse only)."""

from __future__ import annotations

from typing import Any

from pulumi.runtime import rpc

from settings.consumers import SQL_NAMESPACE, sql_user_name
from tests.helpers import config_error, run_ok, stack_value

SQL = "pulumi-python:dynamic/clickhouse:"
INVENTORY = SQL + "AccessInventory"


def plain(inputs: dict[str, Any]) -> dict[str, Any]:
    return {k: rpc.unwrap_rpc_secret(v) for k, v in inputs.items() if k != "__provider"}


def test_the_inventory_is_told_every_declared_object_and_depends_on_them() -> None:
    run = run_ok("prod")
    inventory = run.one(INVENTORY)
    inputs = plain(inventory.inputs)
    users = sorted(r.inputs["name"] for r in run.of_type(SQL + "User"))
    assert len(users) == 3
    assert inputs["users"] == users == sorted(sql_user_name(c) for c in ("app", "data-pipeline", "ai"))
    assert inputs["profiles"] == sorted(r.inputs["name"] for r in run.of_type(SQL + "SettingsProfile"))
    assert inputs["quotas"] == sorted(r.inputs["name"] for r in run.of_type(SQL + "Quota"))
    assert inputs["roles"] == sorted(r.inputs["name"] for r in run.of_type(SQL + "Role"))
    assert inputs["namespace"] == SQL_NAMESPACE and inputs["operators"] == ["provisioner"]
    assert inputs["name"] == stack_value("prod", "dataWarehouse")["database"]
    # Secret: the connection only (it carries the login today); the lists are names, never secret.
    assert "connection" in inventory.secret_inputs
    assert not {"users", "profiles", "quotas", "roles", "found", "repair", "drift"} & inventory.secret_inputs
    # It owns nothing: not protected, even in prod (its delete runs no SQL).
    assert not inventory.protect


def test_adopt_reaches_exactly_that_consumers_sql_objects() -> None:
    consumers = stack_value("dev", "consumers")
    consumers["ai"]["adopt"] = True
    run = run_ok("dev", {"consumers": consumers})
    adopting = {
        r.inputs["name"]: (r.inputs["adopt"], r.inputs["adopt_with"])
        for kind in ("User", "SettingsProfile", "Quota")
        for r in run.of_type(SQL + kind)
    }
    ai = sql_user_name("ai")
    assert adopting == {
        name: (name.startswith(ai), f"consumers.{consumer}.adopt")
        for consumer in ("app", "data-pipeline", "ai")
        for name in (
            sql_user_name(consumer),
            f"{sql_user_name(consumer)}_limits",
            f"{sql_user_name(consumer)}_quota",
        )
    }


def test_adopt_without_a_clickhouse_user_is_one_clean_error() -> None:
    consumers = stack_value("dev", "consumers")
    consumers["ai"] = {"clickhouse": "none", "adopt": True}
    report = config_error("dev", {"consumers": consumers})
    assert (
        "consumers.ai" in report
        and "limits, retire and adopt apply to a consumer's ClickHouse user" in report
    )
    assert "Traceback" not in report


def test_adopt_must_be_a_boolean() -> None:
    consumers = stack_value("dev", "consumers")
    consumers["ai"]["adopt"] = "please"
    report = config_error("dev", {"consumers": consumers})
    assert "consumers.ai.adopt" in report and "please" in report


def test_adopt_roles_reaches_the_roles_only() -> None:
    warehouse = stack_value("dev", "dataWarehouse")
    run = run_ok("dev", {"dataWarehouse": {**warehouse, "adoptRoles": True}})
    roles = {r.inputs["name"]: (r.inputs["adopt"], r.inputs["adopt_with"]) for r in run.of_type(SQL + "Role")}
    assert set(roles.values()) == {(True, "dataWarehouse.adoptRoles")} and len(roles) == 2
    assert not any(r.inputs["adopt"] for r in run.of_type(SQL + "User"))
    default = {r.inputs["adopt"] for r in run_ok("dev").of_type(SQL + "Role")}
    assert default == {False}
