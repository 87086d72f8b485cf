"""Least privilege under the mocks: a SQL user per consumer, pipeline state (Vercel: test_vercel)."""

from __future__ import annotations

import pytest

from tests.helpers import config_error, run_ok, stack_value, unwrapped
from tools.harness import REDIS

USER = "pulumi-python:dynamic/clickhouse:User"
ROLE = "pulumi-python:dynamic/clickhouse:Role"
GRANT = "pulumi-python:dynamic/clickhouse:Grant"
DATABASE = "pulumi-python:dynamic/clickhouse:Database"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_one_user_per_consumer_with_its_role(stack: str) -> None:
    run = run_ok(stack)
    users = {unwrapped(u.inputs["name"]): unwrapped(u.inputs["default_role"]) for u in run.of_type(USER)}
    assert users == {
        "salla_app": "analytics_read",
        "salla_data_pipeline": "analytics_write",
        "salla_ai": "analytics_read",
    }
    for user in run.of_type(USER):
        assert "passwords_sha256_hex" in user.secret_inputs
        assert set(unwrapped(user.inputs["connection"])) == {"host", "port"}  # the login is the environment's
        assert user.delete_before_replace
    # The roles carry no settings (the provisioner holds them); a reader's own profile is read-only.
    roles = {unwrapped(r.inputs["name"]): r.inputs.get("readonly") for r in run.of_type(ROLE)}
    assert roles == {"analytics_read": None, "analytics_write": None}
    profiles = {unwrapped(p.inputs["user"]): unwrapped(p.inputs["settings"]) for p in run.of_type(PROFILE)}
    assert set(profiles) == set(users)  # every profile applies to one consumer's user, none to a role
    for user, settings in profiles.items():
        readonly = [(e["value"], e["const"]) for e in settings if e["name"] == "readonly"]
        assert readonly == ([(2, True)] if users[user] == "analytics_read" else []), user
    grants = {unwrapped(g.inputs["role"]): unwrapped(g.inputs["privileges"]) for g in run.of_type(GRANT)}
    assert grants == {
        "analytics_read": ["SELECT"],
        "analytics_write": ["SELECT", "INSERT", "CREATE TABLE", "ALTER TABLE", "DROP TABLE"],
    }
    database = run.one(DATABASE)
    assert database.retain_on_delete and set(unwrapped(database.inputs["connection"])) == {"host", "port"}


def test_a_consumer_without_clickhouse_gets_no_user() -> None:
    consumers = stack_value("dev", "consumers")
    consumers["ai"]["clickhouse"] = "none"
    run = run_ok("dev", {"consumers": consumers})
    assert sorted(unwrapped(u.inputs["name"]) for u in run.of_type(USER)) == [
        "salla_app",
        "salla_data_pipeline",
    ]
    assert (
        "ai" not in run.outputs["consumer_env"] or "CLICKHOUSE_URL" not in run.outputs["consumer_env"]["ai"]
    )


PASSWORD = "random:index/randomPassword:RandomPassword"
PROFILE = "pulumi-python:dynamic/clickhouse:SettingsProfile"
QUOTA = "pulumi-python:dynamic/clickhouse:Quota"


def test_rotation_is_two_explicit_steps_and_the_step_is_an_output() -> None:
    consumers = stack_value("dev", "consumers")
    before = run_ok("dev")
    assert before.outputs["clickhouse_rotation"]["app"]["passwords"] == ["initial"]
    consumers["app"]["passwords"] = ["initial", "2026-11"]
    started = run_ok("dev", {"consumers": consumers})
    # Sorted: the registration order of the passwords is not fixed.
    app_passwords = sorted(p.name for p in started.of_type(PASSWORD) if "-app-" in p.name)
    assert app_passwords == ["warehouse-access-app-password", "warehouse-access-app-password-2026-11"]
    app_user = next(u for u in started.of_type(USER) if unwrapped(u.inputs["name"]) == "salla_app")
    assert len(unwrapped(app_user.inputs["passwords_sha256_hex"])) == 2
    env = started.outputs["consumer_env"]
    assert env["app"]["CLICKHOUSE_URL"] != before.outputs["consumer_env"]["app"]["CLICKHOUSE_URL"]
    assert env["ai"]["CLICKHOUSE_URL"] == before.outputs["consumer_env"]["ai"]["CLICKHOUSE_URL"]
    assert started.outputs["clickhouse_rotation"]["app"]["step"].startswith("rotating: '2026-11' added")
    consumers["app"]["passwords"] = ["2026-11"]
    finished = run_ok("dev", {"consumers": consumers})
    assert [p.name for p in finished.of_type(PASSWORD) if "-app-" in p.name] == app_passwords[1:]
    assert finished.outputs["consumer_env"]["app"]["CLICKHOUSE_URL"] == env["app"]["CLICKHOUSE_URL"]


def test_prod_protects_sql_objects_and_passwords_until_a_consumer_retires() -> None:
    run = run_ok("prod")
    sql = [
        *run.of_type(USER),
        *run.of_type(ROLE),
        *run.of_type(GRANT),
        *run.of_type(PROFILE),
        *run.of_type(QUOTA),
    ]
    assert sql and all(r.protect for r in [*sql, *run.of_type(PASSWORD)])
    consumers = stack_value("prod", "consumers")
    consumers["ai"]["retire"] = True
    retiring = run_ok("prod", {"consumers": consumers})
    unprotected = sorted(r.name for r in retiring.resources if r.custom and not r.protect and "ai" in r.name)
    assert unprotected == [
        "warehouse-access-ai-password",
        "warehouse-access-ai-sql-limits",
        "warehouse-access-ai-sql-quota",
        "warehouse-access-ai-sql-user",
    ]
    assert all(r.protect for r in retiring.of_type(USER) if unwrapped(r.inputs["name"]) != "salla_ai")


def test_limits_default_by_access_and_can_be_set_per_consumer() -> None:
    run = run_ok("dev")
    profiles = {unwrapped(p.inputs["name"]): p.inputs for p in run.of_type(PROFILE)}
    app = {e["name"]: e for e in profiles["salla_app_limits"]["settings"]}
    assert (app["readonly"]["value"], app["readonly"]["const"]) == (2, True)
    assert app["max_memory_usage"]["max"] == 4 * 1024**3 and app["max_memory_usage"]["min"] == 1
    writer = {e["name"] for e in profiles["salla_data_pipeline_limits"]["settings"]}
    assert writer == {"max_memory_usage", "max_execution_time"}
    assert profiles["salla_app_limits"]["limits_source"] == "defaults"
    consumers = stack_value("dev", "consumers")
    consumers["ai"]["limits"] = {
        "maxMemoryUsageBytes": 2 * 1024**3,
        "maxExecutionTimeSeconds": 30,
        "maxResultRows": 1000,
        "queriesPerHour": 100,
        "readRowsPerHour": 1_000_000,
    }
    tuned = run_ok("dev", {"consumers": consumers})
    quota = next(q for q in tuned.of_type(QUOTA) if unwrapped(q.inputs["name"]) == "salla_ai_quota")
    assert quota.inputs["limits"] == {"queries": 100, "read_rows": 1_000_000}
    assert quota.inputs["limits_source"] == "config"


def test_bad_passwords_and_limits_are_config_errors() -> None:
    consumers = stack_value("dev", "consumers")
    consumers["app"]["passwords"] = ["a", "b", "c"]
    consumers["ai"]["limits"] = {"queriesPerHour": 0}
    text = config_error("dev", {"consumers": consumers})
    assert "consumers.app.passwords" in text and "2 while a rotation is in progress" in text
    assert "consumers.ai.limits.queriesPerHour" in text and "at least 1" in text


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_consumer_env_holds_exactly_what_access_allows(stack: str) -> None:
    run = run_ok(stack)
    assert "consumer_env" in run.secret_outputs
    envs = run.outputs["consumer_env"]
    clickhouse = {"CLICKHOUSE_URL", "CLICKHOUSE_HOST", "CLICKHOUSE_HTTPS_PORT", "CLICKHOUSE_DATABASE"}
    redis = {"REDIS_URL", "UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN"}
    qstash = {"QSTASH_TOKEN", "QSTASH_TOPICS", "QSTASH_CURRENT_SIGNING_KEY", "QSTASH_NEXT_SIGNING_KEY"}
    assert set(envs["app"]) == clickhouse | redis | qstash
    assert set(envs["data-pipeline"]) == clickhouse | redis | qstash
    assert set(envs["ai"]) == clickhouse
    assert envs["app"]["REDIS_URL"] == run.outputs["redis_url"]
    assert envs["data-pipeline"]["REDIS_URL"] == run.outputs["pipeline_redis_url"]


def test_publish_only_gets_no_signing_keys() -> None:
    consumers = stack_value("dev", "consumers")
    consumers["ai"]["qstash"] = ["publish"]
    env = run_ok("dev", {"consumers": consumers}).outputs["consumer_env"]["ai"]
    assert {"QSTASH_TOKEN", "QSTASH_TOPICS"} <= set(env)
    assert not {"QSTASH_CURRENT_SIGNING_KEY", "QSTASH_NEXT_SIGNING_KEY"} & set(env)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_pipeline_state_never_evicts(stack: str) -> None:
    run = run_ok(stack)
    state = run.named("pipeline-state-redis")
    assert state.type == REDIS
    i = state.inputs
    assert (i["databaseName"], i["eviction"], i["tls"]) == (f"salla-pipeline-{stack}", False, True)
    assert state.protect is (stack == "prod")


def test_eviction_is_not_a_setting_of_pipeline_state() -> None:
    state = stack_value("dev", "pipelineState")
    state["eviction"] = True
    report = config_error("dev", {"pipelineState": state})
    assert (
        "salla-analytics-infra:pipelineState.eviction = true: is not a known key of pipelineState" in report
    )


def test_consumers_are_validated_all_at_once() -> None:
    report = config_error(
        "dev",
        {
            "consumers": {
                "App_1": {"clickhouse": "read"},
                "web": {"clickhouse": "admin", "redis": "session", "qstash": ["publish", "publish"]},
            }
        },
    )
    assert 'consumers.web.clickhouse = "admin": must be one of read, write, none' in report
    assert 'consumers.web.redis = "session": must be one of cache, pipeline, none' in report
    assert 'consumers.web.qstash[1] = "publish": is listed twice' in report
    assert "Traceback" not in report


def test_consumers_are_required() -> None:
    report = config_error("dev", {"consumers": {}})
    assert "salla-analytics-infra:consumers = {}: must declare at least one consumer" in report
