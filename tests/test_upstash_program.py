"""The Upstash side of the program under mocks: a Redis user per consumer, QStash from the API.

The mocks answer as Upstash would (tools.mocks: a database's `default` password and REST tokens, a
user's GENTOKEN tokens, the account's QStash credentials); config validation, the components, the
outputs contract and the resource options run for real.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.helpers import config_error, run_ok, stack_value, unwrapped
from tests.test_policies import findings, violations
from tests.test_vercel import with_vercel
from tools.harness import REDIS, ProgramRun, run_program

REDIS_USER = "pulumi-python:dynamic/upstash:RedisUser"
ACL_USERS = "pulumi-python:dynamic/upstash:RedisAclUsers"
QSTASH = "pulumi-python:dynamic/upstash:QStashCredentials"
P = "salla-analytics-infra:"


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _admin_secrets(run: ProgramRun) -> list[str]:
    """Every database's `default` password and REST tokens, as the provider returned them."""
    return [
        str(r.state[key])
        for r in run.of_type(REDIS)
        for key in ("password", "restToken", "readOnlyRestToken")
        if r.state.get(key)
    ]


def _shared_cache() -> dict[str, Any]:
    consumers = stack_value("dev", "consumers")
    consumers["app"]["keyPrefix"] = "app:"
    consumers["web"] = {"redis": "cache", "keyPrefix": "web:"}
    return {"consumers": consumers}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_consumer_output_connects_as_default_or_carries_an_admin_token(stack: str) -> None:
    run = run_ok(stack)
    admin = _admin_secrets(run)
    assert len(admin) == 6
    everything = _strings(run.outputs)
    assert not [s for s in everything for secret in admin if secret in s]
    for consumer, env in run.outputs["consumer_env"].items():
        if "REDIS_URL" in env:
            url = urlsplit(env["REDIS_URL"])
            assert url.scheme == "rediss"
            assert url.username == "salla_" + consumer.replace("-", "_") != "default"
            assert url.password == env["UPSTASH_REDIS_REST_TOKEN"]
    for name in ("redis_url", "pipeline_redis_url"):
        assert urlsplit(run.outputs[name]).username != "default"
    # The seed's outputs carry the user of the consumer they are exported for.
    assert run.outputs["redis_url"] == run.outputs["consumer_env"]["app"]["REDIS_URL"]
    assert run.outputs["redis_token"] == run.outputs["consumer_env"]["app"]["UPSTASH_REDIS_REST_TOKEN"]
    pipeline = run.outputs["consumer_env"]["data-pipeline"]
    assert run.outputs["pipeline_redis_url"] == pipeline["REDIS_URL"]
    assert run.outputs["pipeline_redis_token"] == pipeline["UPSTASH_REDIS_REST_TOKEN"]
    assert "redis_read_only_token" not in run.outputs
    assert {"redis_url", "redis_token", "pipeline_redis_url", "pipeline_redis_token"} <= run.secret_outputs


def test_two_consumers_of_one_database_get_their_own_users_tokens_and_keys() -> None:
    run = run_ok("dev", _shared_cache())
    env = run.outputs["consumer_env"]
    app, web = urlsplit(env["app"]["REDIS_URL"]), urlsplit(env["web"]["REDIS_URL"])
    assert (app.username, web.username) == ("salla_app", "salla_web")
    assert app.password != web.password
    assert env["app"]["UPSTASH_REDIS_REST_TOKEN"] != env["web"]["UPSTASH_REDIS_REST_TOKEN"]
    users = {r.name: r for r in run.of_type(REDIS_USER)}
    assert unwrapped(users["cache-redis-app-user"].inputs["key_patterns"]) == ["app:*"]
    assert unwrapped(users["cache-redis-web-user"].inputs["key_patterns"]) == ["web:*"]
    lists = {r.name: unwrapped(r.inputs["users"]) for r in run.of_type(ACL_USERS)}
    assert lists["cache-redis-acl-users"] == ["salla_app", "salla_web"]


def test_redis_user_inputs_are_secret_where_they_must_be_and_the_provider_holds_none() -> None:
    run = run_ok("prod")
    for user in [*run.of_type(REDIS_USER), *run.of_type(ACL_USERS)]:
        assert "admin_password" in user.secret_inputs, user.name
        database = next(r for r in run.of_type(REDIS) if r.urn.rsplit("::", 1)[1] in user.name)
        assert unwrapped(user.inputs["admin_password"]) == database.state["password"]
        provider = base64.b64decode(unwrapped(user.inputs["__provider"]))
        assert database.state["password"].encode() not in provider
    for user in run.of_type(REDIS_USER):
        assert {"admin_password", "tokens"} <= set(user.additional_secret_outputs)
        assert user.delete_before_replace
    qstash = run.one(QSTASH)
    assert {"token", "current_signing_key", "next_signing_key"} <= set(qstash.additional_secret_outputs)


def test_prod_protects_redis_users_until_the_consumer_retires() -> None:
    consumers = stack_value("prod", "consumers")
    consumers["app"]["retire"] = True
    run = run_ok("prod", {"consumers": consumers})
    users = {r.name: r for r in run.of_type(REDIS_USER)}
    assert not users["cache-redis-app-user"].protect
    assert unwrapped(users["cache-redis-app-user"].inputs["retiring"]) is True
    assert users["pipeline-state-redis-data-pipeline-user"].protect
    assert all(r.protect for r in run.of_type(ACL_USERS))


def test_rotation_labels_reach_the_redis_user() -> None:
    consumers = stack_value("dev", "consumers")
    consumers["app"]["passwords"] = ["initial", "2026-12"]
    run = run_ok("dev", {"consumers": consumers})
    user = next(r for r in run.of_type(REDIS_USER) if r.name == "cache-redis-app-user")
    assert unwrapped(user.inputs["passwords"]) == ["initial", "2026-12"]
    # The newest token is the one handed out.
    assert urlsplit(run.outputs["redis_url"]).password == user.state["tokens"]["2026-12"]


def test_shared_database_needs_distinct_non_overlapping_prefixes() -> None:
    consumers = stack_value("dev", "consumers")
    consumers["web"] = {"redis": "cache"}
    report = config_error("dev", {"consumers": consumers})
    assert (
        f"{P}consumers.app.keyPrefix = (not set): is required: consumers app, web share the cache" in report
    )
    assert f"{P}consumers.web.keyPrefix = (not set)" in report
    consumers["app"]["keyPrefix"] = "app:"
    consumers["web"]["keyPrefix"] = "app:web:"
    report = config_error("dev", {"consumers": consumers})
    assert f'{P}consumers.web.keyPrefix = "app:web:": overlaps the key prefix of app' in report
    consumers["web"]["keyPrefix"] = "web:*"
    report = config_error("dev", {"consumers": consumers})
    assert f'{P}consumers.web.keyPrefix = "web:*": is not a key prefix' in report
    assert "Traceback" not in report


def test_the_program_runs_with_no_qstash_key_in_config(dev: ProgramRun) -> None:
    credentials = dev.one(QSTASH)
    assert unwrapped(credentials.inputs["account"]) == "platform+upstash-dev@salla-analytics.example"
    assert unwrapped(credentials.inputs["signing_key_rotation"]) == ""
    assert {"qstash_token", "qstash_current_signing_key", "qstash_next_signing_key"} <= dev.secret_outputs
    assert dev.outputs["consumer_env"]["app"]["QSTASH_TOKEN"] == credentials.state["token"]


def test_the_former_qstash_keys_give_one_migration_error() -> None:
    run = run_program(
        "dev",
        {f"{P}qstashToken": "old-token", f"{P}qstashNextSigningKey": "sig_old"},
    )
    assert run.error is not None and not run.resources
    assert run.error.startswith("stack 'dev' has 1 configuration problem")
    assert f"{P}qstashToken, {P}qstashNextSigningKey = (secret): is no longer read" in run.error
    assert "docs/qstash.md" in run.error
    assert f"pulumi config rm {P}qstashToken --stack dev" in run.error
    assert "old-token" not in run.error and "sig_old" not in run.error


def test_signing_key_rotation_label_is_validated_and_reaches_the_resource() -> None:
    messaging = stack_value("dev", "messaging")
    messaging["signingKeyRotation"] = "2026-12"
    run = run_ok("dev", {"messaging": messaging})
    assert unwrapped(run.one(QSTASH).inputs["signing_key_rotation"]) == "2026-12"
    messaging["signingKeyRotation"] = "Next Week"
    report = config_error("dev", {"messaging": messaging})
    assert f'{P}messaging.signingKeyRotation = "Next Week": is not a rotation label' in report


def test_preview_makes_no_upstash_call_and_leaves_credentials_unknown() -> None:
    run = run_ok("dev", preview=True)
    assert {"qstash_token", "redis_url"} <= run.unknown_outputs


def test_policy_blocks_unprotected_redis_users_in_prod_except_a_retiring_one() -> None:
    found = violations(findings("prod", {"protect": False}), "redis-users-protected")
    assert sorted(f.resource for f in found) == [
        "cache-redis-acl-users",
        "cache-redis-app-user",
        "pipeline-state-redis-acl-users",
        "pipeline-state-redis-data-pipeline-user",
    ]
    assert all(f.level == "mandatory" and "retire: true" in f.message for f in found)
    consumers = stack_value("prod", "consumers")
    consumers["app"]["retire"] = True
    assert violations(findings("prod", {"consumers": consumers}), "redis-users-protected") == []
    assert violations(findings("dev"), "redis-users-protected") == []


def test_vercel_delivery_carries_the_signing_keys_and_redis_user_from_the_api() -> None:
    run = run_ok("prod", with_vercel("prod", targets=["production"]))
    wire = run.one("vercel:index/projectEnvironmentVariables:ProjectEnvironmentVariables").wire_inputs
    delivered = {v["key"]: v["value"]["value"] for v in wire["variables"]}
    credentials = run.one(QSTASH).state
    assert delivered["QSTASH_CURRENT_SIGNING_KEY"] == credentials["current_signing_key"]
    assert delivered["QSTASH_NEXT_SIGNING_KEY"] == credentials["next_signing_key"]
    assert delivered["QSTASH_TOKEN"] == credentials["token"]
    assert urlsplit(delivered["REDIS_URL"]).username == "salla_app"
    assert not [s for s in delivered.values() for secret in _admin_secrets(run) if secret in s]


def test_key_prefix_and_retire_belong_to_a_consumer_with_a_redis_user() -> None:
    consumers = stack_value("dev", "consumers")
    consumers["ai"]["keyPrefix"] = "ai:"
    report = config_error("dev", {"consumers": consumers})
    assert (
        f'{P}consumers.ai.keyPrefix = "ai:": applies to a consumer\'s Redis user; this consumer has none'
        in report
    )
    # A consumer with only a Redis user can be retired (its user loses protect in prod).
    consumers = stack_value("prod", "consumers")
    consumers["cache-only"] = {"redis": "pipeline", "keyPrefix": "c:", "retire": True}
    consumers["data-pipeline"]["keyPrefix"] = "cdc:"
    run = run_ok("prod", {"consumers": consumers})
    users = {r.name: r for r in run.of_type(REDIS_USER)}
    assert not users["pipeline-state-redis-cache-only-user"].protect
    assert unwrapped(users["pipeline-state-redis-cache-only-user"].inputs["key_patterns"]) == ["c:*"]
    assert unwrapped(users["pipeline-state-redis-data-pipeline-user"].inputs["key_patterns"]) == ["cdc:*"]
