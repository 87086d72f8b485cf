"""The program's access inventory and `adopt`, under the mock harness: what the inventory is told
is declared (every consumer's user, profile and quota, the project roles, the namespace, the
provisioning user; during the namespace migration also the former objects `legacySqlUser` keeps),
that it holds no secret (the connection is the endpoint only, the login comes from the
environment), and that `consumers.<name>.adopt` reaches exactly that consumer's SQL objects
(validated: ClickHouse only)."""

from __future__ import annotations

from typing import Any

from pulumi.runtime import rpc

from settings.consumers import SQL_NAMESPACE, legacy_sql_user_name, sql_user_name
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
    # No secret: the connection is the service's endpoint only (the login comes from the environment,
    # like every SQL resource's), `stack` names the stack; the lists are names.
    service = {r.inputs["connection"]["host"] for r in run.of_type(SQL + "User")}
    assert set(inputs["connection"]) == {"host", "port"} and {inputs["connection"]["host"]} == service
    assert inputs["stack"] == "prod"
    assert inventory.secret_inputs <= {"__provider"}
    # It owns nothing: not protected, even in prod (its delete runs no SQL).
    assert not inventory.protect


def test_during_the_namespace_migration_the_former_objects_are_declared_too() -> None:
    """`legacySqlUser` keeps `app` (and `app_limits`, `app_quota`) beside `salla_app`: the inventory
    must count them as declared, or it would revoke the project role from the former user, and
    detach its profile and quota, while consumers still use it."""
    consumers = stack_value("prod", "consumers")
    consumers["app"]["legacySqlUser"] = True
    run = run_ok("prod", {"consumers": consumers})
    inputs = plain(run.one(INVENTORY).inputs)
    former = legacy_sql_user_name("app")
    assert former in inputs["users"] and sql_user_name("app") in inputs["users"]
    assert {f"{former}_limits", f"{former}_quota"} <= set(inputs["profiles"]) | set(inputs["quotas"])
    assert inputs["users"] == sorted(r.inputs["name"] for r in run.of_type(SQL + "User"))
    assert inputs["profiles"] == sorted(r.inputs["name"] for r in run.of_type(SQL + "SettingsProfile"))
    assert inputs["quotas"] == sorted(r.inputs["name"] for r in run.of_type(SQL + "Quota"))
    # Without the key, the former objects are not declared (a refresh would report them).
    assert former not in plain(run_ok("prod").one(INVENTORY).inputs)["users"]


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
        and "limits, adopt and legacySqlUser apply to a consumer's ClickHouse user" in report
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
