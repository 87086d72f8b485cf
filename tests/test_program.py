"""The whole program for the committed dev and prod stack files."""

from __future__ import annotations

from collections import Counter

import pytest

from stack.contract import OUTPUTS
from tests.helpers import run_ok
from tools.harness import (
    CLICKHOUSE_PROVIDER,
    PLACEHOLDER_SECRETS,
    RANDOM_PROVIDER,
    REDIS,
    SERVICE,
    TOPIC,
    UPSTASH_PROVIDER,
    ProgramRun,
)

PASSWORD = "random:index/randomPassword:RandomPassword"
SQL_KINDS = ("Database", "Role", "Grant", "User", "SettingsProfile", "Quota")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_resource_set(stack: str) -> None:
    run = run_ok(stack)
    assert Counter(r.type for r in run.resources) == Counter(
        {
            CLICKHOUSE_PROVIDER: 1,
            UPSTASH_PROVIDER: 1,
            RANDOM_PROVIDER: 1,
            "salla:analytics:DataWarehouse": 1,
            "salla:analytics:WarehouseAccess": 1,
            "salla:analytics:ServerlessCache": 1,
            "salla:analytics:PipelineState": 1,
            "salla:analytics:AsyncMessaging": 1,
            SERVICE: 1,
            REDIS: 2,
            TOPIC: 2,
            "pulumi-python:dynamic/clickhouse:AccessInventory": 1,
            "pulumi-python:dynamic/clickhouse:Database": 1,
            "pulumi-python:dynamic/clickhouse:Role": 2,
            "pulumi-python:dynamic/clickhouse:Grant": 2,
            "pulumi-python:dynamic/clickhouse:User": 3,
            "pulumi-python:dynamic/clickhouse:SettingsProfile": 3,
            "pulumi-python:dynamic/clickhouse:Quota": 3,
            "random:index/randomPassword:RandomPassword": 3,
            # A Redis ACL user per consumer with redis (app: cache, data-pipeline: pipeline), and
            # each database's complete user list; the QStash credentials from the API.
            "pulumi-python:dynamic/upstash:RedisUser": 2,
            "pulumi-python:dynamic/upstash:RedisAclUsers": 2,
            "pulumi-python:dynamic/upstash:QStashCredentials": 1,
        }
    )
    names = {r.name for r in run.resources}
    assert {
        "warehouse-service",
        "cache-redis",
        "pipeline-state-redis",
        f"messaging-cdc-{stack}",
        f"messaging-notifications-{stack}",
    } <= names


def test_protect_per_stack(dev: ProgramRun, prod: ProgramRun) -> None:
    # prod: the data stores, and every SQL access object and consumer password (a destroy must not
    # drop a consumer's access or regenerate its password; removal is unprotect, then remove).
    assert not [r.urn for r in dev.resources if r.protect]
    access_types = {f"pulumi-python:dynamic/clickhouse:{kind}" for kind in SQL_KINDS} | {PASSWORD}
    access = {r.name for r in prod.resources if r.type in access_types}
    assert len(access) == 1 + 2 + 2 + 4 * 3  # database, roles, grants; user/profile/quota/password x 3
    assert {r.name for r in prod.resources if r.protect} == access | {
        "cache-redis",
        "messaging-cdc-prod",
        "messaging-notifications-prod",
        "pipeline-state-redis",
        "warehouse-service",
        # The consumers' Redis users and each database's user list (the QStash credentials are
        # not: deleting that resource deletes nothing at Upstash).
        "cache-redis-app-user",
        "cache-redis-acl-users",
        "pipeline-state-redis-data-pipeline-user",
        "pipeline-state-redis-acl-users",
    }


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_outputs_contract(stack: str) -> None:
    run = run_ok(stack)
    assert set(run.outputs) == set(OUTPUTS)
    assert run.secret_outputs == {name for name, secret in OUTPUTS.items() if secret}
    assert all(run.outputs[name] not in (None, "", []) for name in OUTPUTS)


def test_contract_names_match_the_issue() -> None:
    assert {n for n, s in OUTPUTS.items() if s} == {
        "clickhouse_connection_string",
        "clickhouse_etl_connection_string",
        "redis_url",
        "redis_token",
        "pipeline_redis_url",
        "pipeline_redis_token",
        "qstash_token",
        "qstash_current_signing_key",
        "qstash_next_signing_key",
        "consumer_env",
    }
    assert {n for n, s in OUTPUTS.items() if not s} == {
        "clickhouse_host",
        "clickhouse_https_port",
        "clickhouse_service_id",
        "clickhouse_rotation",
        "redis_rest_url",
        "pipeline_redis_rest_url",
        "qstash_topics",
    }


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_secret_leaks_into_plain_outputs_or_inputs(stack: str) -> None:
    run = run_ok(stack)
    secrets = list(PLACEHOLDER_SECRETS.values())
    for redis in run.of_type(REDIS):
        secrets += [redis.state["password"], redis.state["restToken"], redis.state["readOnlyRestToken"]]
    secrets += [r.state["result"] for r in run.of_type("random:index/randomPassword:RandomPassword")]
    for name, value in run.outputs.items():
        if name not in run.secret_outputs:
            assert not any(s in str(value) for s in secrets), name
    for res in run.resources:
        for key, value in res.inputs.items():
            if key not in res.secret_inputs:
                assert not any(s in str(value) for s in secrets), (res.urn, key)
