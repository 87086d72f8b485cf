"""Moving the consumers' SQL objects into the `salla_` namespace, like a rotation (docs/provisioning.md):
create the new (`legacySqlUser: true` keeps the old), hand out the new, then drop the old."""

from __future__ import annotations

import hashlib
from typing import Any

from settings.consumers import SQL_NAMESPACE, legacy_sql_user_name, sql_user_name
from tests.ch_model import ClickHouseModel
from tests.helpers import config_error, run_ok, stack_value, unwrapped
from tests.sql_engine import Engine, declare
from tests.test_policies import findings

USER = "pulumi-python:dynamic/clickhouse:User"
PROFILE = "pulumi-python:dynamic/clickhouse:SettingsProfile"
QUOTA = "pulumi-python:dynamic/clickhouse:Quota"
PASSWORD = "random:index/randomPassword:RandomPassword"


def test_names() -> None:
    assert SQL_NAMESPACE == "salla_"
    assert (sql_user_name("data-pipeline"), legacy_sql_user_name("data-pipeline")) == (
        "salla_data_pipeline",
        "data_pipeline",
    )


def _migrating(stack: str) -> dict[str, Any]:
    consumers: dict[str, Any] = stack_value(stack, "consumers")
    for consumer in consumers.values():
        if consumer.get("clickhouse", "none") != "none":
            consumer["legacySqlUser"] = True
    return consumers


def test_step_one_keeps_the_former_objects_unprotected_and_hands_out_the_new_user() -> None:
    before = run_ok("prod")
    run = run_ok("prod", {"consumers": _migrating("prod")})
    users = {unwrapped(u.inputs["name"]): u for u in run.of_type(USER)}
    assert set(users) == {"salla_app", "salla_data_pipeline", "salla_ai", "app", "data_pipeline", "ai"}
    for name, user in users.items():
        former = not name.startswith(SQL_NAMESPACE)
        # The former objects keep the resource names they have in the state; unprotected, retiring.
        assert user.name.endswith("-sql-user") is not former
        assert (user.protect, unwrapped(user.inputs["retiring"])) == (
            (False, True) if former else (True, False)
        )
    # The same passwords for both: handing out the new user changes only the user name.
    assert unwrapped(users["app"].inputs["passwords_sha256_hex"]) == unwrapped(
        users["salla_app"].inputs["passwords_sha256_hex"]
    )
    assert {unwrapped(p.inputs["name"]) for p in run.of_type(PROFILE)} >= {"app_limits", "salla_app_limits"}
    assert {unwrapped(q.inputs["name"]) for q in run.of_type(QUOTA)} >= {"ai_quota", "salla_ai_quota"}
    assert all(p.protect for p in run.of_type(PASSWORD))
    env = run.outputs["consumer_env"]["app"]["CLICKHOUSE_URL"]
    assert "://salla_app:" in env and env == before.outputs["consumer_env"]["app"]["CLICKHOUSE_URL"]
    # Prod's policies pass: the former objects may go, the new ones and the passwords stay protected.
    found = findings("prod", {"consumers": _migrating("prod")})
    assert [(f.policy, f.resource) for f in found if f.level == "mandatory"] == []
    # The pack really runs on this program: a missing limit is still found.
    unmarked = _migrating("prod")
    unmarked["ai"]["limits"].pop("maxResultRows")
    assert {f.resource for f in findings("prod", {"consumers": unmarked})} >= {
        "warehouse-access-ai-sql-limits"
    }


def test_without_the_key_prod_declares_only_the_namespace() -> None:
    run = run_ok("prod")
    assert sorted(unwrapped(u.inputs["name"]) for u in run.of_type(USER)) == [
        "salla_ai",
        "salla_app",
        "salla_data_pipeline",
    ]
    assert all(u.name.endswith("-sql-user") and u.protect for u in run.of_type(USER))


def test_the_key_needs_a_clickhouse_user() -> None:
    consumers = stack_value("dev", "consumers")
    consumers["web"] = {"redis": "cache", "legacySqlUser": True}
    assert "legacySqlUser apply to a consumer's ClickHouse user" in config_error(
        "dev", {"consumers": consumers}
    )


def test_the_sql_steps_create_the_new_then_drop_the_old() -> None:
    """With the real providers on the model: the old users exist; step 1 creates the new ones
    beside them (no statement on the old ones); step 2 (key removed) drops only the old ones."""
    app = [hashlib.sha256(b"app-pw").hexdigest()]
    model = ClickHouseModel()
    engine = Engine(model)
    engine.up(declare({"app": (app, "read")}))
    step1 = engine.up(
        declare({"salla_app": (app, "read"), "app": (app, "read")}, retiring=frozenset({"app"}))
    )
    assert [sql for sql in step1 if "`app" in sql] == []  # the old objects: only their flag changed
    assert {"app", "salla_app"} <= set(model.users)
    assert model.passwords("salla_app") == model.passwords("app") == app
    assert set(model.profiles) == {"app_limits", "salla_app_limits"}
    assert model.quotas["salla_app_quota"].to == ["salla_app"]
    step2 = engine.up(declare({"salla_app": (app, "read")}))
    assert "DROP USER IF EXISTS `app`" in step2 and "salla_app" not in " ".join(step2)
    assert set(model.users) == {"salla_app"} and set(model.profiles) == {"salla_app_limits"}
    assert set(model.quotas) == {"salla_app_quota"}


def test_a_former_name_may_not_be_another_consumers_new_name() -> None:
    consumers = stack_value("dev", "consumers")
    consumers["salla-app"] = {"clickhouse": "read", "legacySqlUser": True}  # former user `salla_app`
    message = config_error("dev", {"consumers": consumers})
    assert "its former SQL user 'salla_app' is the SQL user of consumer 'app'" in message
    consumers["salla-app"]["legacySqlUser"] = False
    run = run_ok("dev", {"consumers": consumers})
    assert "salla_salla_app" in {unwrapped(u.inputs["name"]) for u in run.of_type(USER)}
