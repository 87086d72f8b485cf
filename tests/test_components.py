"""Each component's resource inputs and outputs, through the real program under mocks."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from settings.passwords import sha256_b64, sha256_hex
from tests.helpers import run_ok, stack_value, unwrapped
from tools.harness import (
    CLICKHOUSE_PROVIDER,
    PLACEHOLDER_ADMIN_PASSWORD,
    PLACEHOLDER_ENV,
    PLACEHOLDER_SECRETS,
    RANDOM_PASSWORD,
    RANDOM_PROVIDER,
    REDIS,
    SERVICE,
    TOPIC,
    UPSTASH_PROVIDER,
    ProgramRun,
)

ADMIN_HASH = PLACEHOLDER_SECRETS["salla-analytics-infra:clickhouseAdminPasswordHash"]


def test_password_hash_matches_the_providers_documented_format() -> None:
    # The provider's docs: password_hash = base64 of sha256("test").
    assert sha256_b64("test") == "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="
    assert sha256_b64(PLACEHOLDER_ADMIN_PASSWORD) == ADMIN_HASH


def test_dev_service_inputs(dev: ProgramRun) -> None:
    svc = dev.one(SERVICE)
    i = svc.inputs
    assert i["name"] == "salla-analytics-dev"
    assert (i["cloudProvider"], i["region"]) == ("aws", "us-east-1")
    assert i["ipAccesses"] == [
        {
            "source": "0.0.0.0/0",
            "description": "dev only - open access for developers and preview deployments",
        }
    ]
    assert i["idleScaling"] is True and i["idleTimeoutMinutes"] == 5
    assert (i["minReplicaMemoryGb"], i["maxReplicaMemoryGb"]) == (8, 16)
    assert i["releaseChannel"] == "fast"
    assert "backupConfiguration" not in i and "backupId" not in i and "tier" not in i
    assert i["tags"] == {
        "project": "salla-analytics-infra",
        "environment": "dev",
        "managed-by": "pulumi",
        "cost-center": "analytics",
        "owner": "data-platform",
    }


def test_service_gets_only_a_secret_password_hash(dev: ProgramRun) -> None:
    svc = dev.one(SERVICE)
    # Config holds the hash; the program passes it through unchanged.
    assert svc.inputs["passwordHash"]["value"] == ADMIN_HASH
    assert base64.b64decode(ADMIN_HASH) == hashlib.sha256(PLACEHOLDER_ADMIN_PASSWORD.encode()).digest()
    assert "passwordHash" in svc.secret_inputs
    for plain in ("password", "passwordWo", "doubleSha1PasswordHash"):
        assert plain not in svc.inputs


def test_children_are_parented_and_use_the_explicit_providers(dev: ProgramRun) -> None:
    components = {r.type: r.urn for r in dev.resources if r.type.startswith("salla:analytics:")}
    assert set(components) == {
        "salla:analytics:DataWarehouse",
        "salla:analytics:WarehouseAccess",
        "salla:analytics:ServerlessCache",
        "salla:analytics:PipelineState",
        "salla:analytics:AsyncMessaging",
    }
    providers = {r.type: r for r in dev.resources if r.type.startswith("pulumi:providers:")}
    assert set(providers) == {CLICKHOUSE_PROVIDER, UPSTASH_PROVIDER, RANDOM_PROVIDER}
    expected_parent = {
        SERVICE: "salla:analytics:DataWarehouse",
        REDIS: "salla:analytics:ServerlessCache",
        TOPIC: "salla:analytics:AsyncMessaging",
        RANDOM_PASSWORD: "salla:analytics:WarehouseAccess",
    }
    dev = dataclasses.replace(dev, resources=[r for r in dev.resources if r.name != "pipeline-state-redis"])
    expected_provider = {
        SERVICE: CLICKHOUSE_PROVIDER,
        REDIS: UPSTASH_PROVIDER,
        TOPIC: UPSTASH_PROVIDER,
        RANDOM_PASSWORD: RANDOM_PROVIDER,
    }
    assert dev.of_type(RANDOM_PASSWORD), "dev has consumers with a ClickHouse user"
    for res in dev.resources:
        if res.type in expected_parent:
            assert res.parent == components[expected_parent[res.type]], res.urn
            assert res.provider.startswith(providers[expected_provider[res.type]].urn + "::"), res.provider


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_resource_uses_a_default_provider(stack: str) -> None:
    """Every provider-backed resource names one of the program's explicit providers (the engine
    would otherwise make a default one, configured from ambient config). The dynamic provider's
    resources are served by the engine's own python host: they have no provider to choose."""
    run = run_ok(stack)
    explicit = {r.urn for r in run.resources if r.type.startswith("pulumi:providers:")}
    for res in run.resources:
        if not res.custom or res.type.startswith(("pulumi:providers:", "pulumi-python:dynamic/")):
            continue
        assert res.provider.rsplit("::", 1)[0] in explicit, f"{res.urn} uses a default provider"


def test_providers_get_no_credential_inputs(dev: ProgramRun) -> None:
    # The providers read their credentials from the environment: nothing lands in the state.
    for provider in (CLICKHOUSE_PROVIDER, UPSTASH_PROVIDER, RANDOM_PROVIDER):
        inputs = dev.one(provider).inputs
        assert set(inputs) <= {"version"}, inputs
    # The access inventory's `operators` names the provisioning user, which is also the deploy job's
    # SQL login name: a declared constant (settings.passwords), not a value read from the environment.
    inventory = "pulumi-python:dynamic/clickhouse:AccessInventory"
    assert dev.one(inventory).inputs["operators"] == [PLACEHOLDER_ENV["CLICKHOUSE_SQL_USER"]]
    values = [
        str(v) for r in dev.resources for k, v in r.inputs.items() if (r.type, k) != (inventory, "operators")
    ]
    for placeholder in PLACEHOLDER_ENV.values():
        assert not any(placeholder in v for v in values), placeholder


def test_prod_service_has_backups_and_explicit_allow_list(prod: ProgramRun) -> None:
    i = prod.one(SERVICE).inputs
    assert i["backupConfiguration"] == {"backupPeriodInHours": 24, "backupRetentionPeriodInHours": 168}
    assert i["idleScaling"] is False and "idleTimeoutMinutes" not in i
    sources = [a["source"] for a in i["ipAccesses"]]
    assert sources == ["203.0.113.10/32", "198.51.100.0/28", "192.0.2.0/29", "192.0.2.64/28"]
    assert all(a["description"] for a in i["ipAccesses"])


def test_string_cidrs_get_a_description_and_are_normalised() -> None:
    dw = stack_value("dev", "dataWarehouse")
    dw["ipAllowList"] = ["10.1.2.3", {"cidr": "2001:db8::/32", "description": "ipv6 office"}]
    i = run_ok("dev", {"dataWarehouse": dw}).one(SERVICE).inputs
    assert i["ipAccesses"] == [
        {"source": "10.1.2.3/32", "description": "allow-listed by salla-analytics-infra"},
        {"source": "2001:db8::/32", "description": "ipv6 office"},
    ]


BACKUP = "7d6c1a52-2f44-4b6e-9d2a-0c6b7f1e9a10"


def _restore(stack: str = "prod", **restore: object) -> dict[str, object]:
    dw = stack_value(stack, "dataWarehouse")
    dw["restore"] = {"backupId": BACKUP, "serviceName": "salla-analytics-prod-r1", **restore}
    return {"dataWarehouse": dw}


RESTORED = "warehouse-restore-salla-analytics-prod-r1"


def _retried() -> dict[str, object]:
    """The restore retried from BACKUP_2 as a new service; the first attempt is abandoned."""
    return _restore(
        backupId=BACKUP_2,
        serviceName="salla-analytics-prod-r2",
        abandoned=[{"backupId": BACKUP, "serviceName": "salla-analytics-prod-r1"}],
    )


def test_restore_creates_a_second_service_from_the_backup_next_to_the_live_one(prod: ProgramRun) -> None:
    run = run_ok("prod", _restore())
    live, restored = run.named("warehouse-service"), run.named(RESTORED)
    assert "backupId" not in live.inputs and live.inputs == prod.named("warehouse-service").inputs
    assert restored.inputs["backupId"] == BACKUP
    assert restored.inputs["name"] == "salla-analytics-prod-r1"
    same = ("ipAccesses", "backupConfiguration", "tags", "region", "cloudProvider", "passwordHash")
    assert {k: restored.inputs[k] for k in same} == {k: live.inputs[k] for k in same}
    assert restored.protect and live.protect
    # Not serving yet: consumers still use the live service.
    assert run.outputs["clickhouse_service_id"] == live.id
    assert run.outputs["consumer_env"] == prod.outputs["consumer_env"]


def test_serving_the_restore_switches_sql_users_and_consumers() -> None:
    run = run_ok("prod", _restore(serve=True))
    restored = run.named(RESTORED)
    host = restored.state["endpoints"]["https"]["host"]
    assert run.outputs["clickhouse_service_id"] == restored.id
    assert run.outputs["clickhouse_host"] == host
    for env in run.outputs["consumer_env"].values():
        if "CLICKHOUSE_URL" in env:
            assert urlsplit(env["CLICKHOUSE_URL"]).hostname == host
    for user in run.of_type("pulumi-python:dynamic/clickhouse:User"):
        assert user.inputs["connection"]["host"] == host


def test_retiring_the_primary_by_config_unprotect_then_remove() -> None:
    unprotect = run_ok("prod", _restore(serve=True, primary="unprotect"))
    old = unprotect.named("warehouse-service")
    assert not old.protect and old.inputs["tags"]["lifecycle"] == "retiring"
    assert unprotect.named(RESTORED).protect
    assert "lifecycle" not in unprotect.named(RESTORED).inputs["tags"]
    removed = run_ok("prod", _restore(serve=True, primary="remove"))
    assert [r.name for r in removed.of_type(SERVICE)] == [RESTORED]
    assert removed.outputs["clickhouse_service_id"] == removed.named(RESTORED).id


BACKUP_2 = "0b9e7c1d-5a3f-4e2b-8c6d-1f2e3a4b5c6d"
RETRY = "warehouse-restore-salla-analytics-prod-r2"


def test_the_restore_keeps_its_pre_retry_resource_name_as_an_alias() -> None:
    # States written before restores were named per service keep `warehouse-restore`: the engine
    # moves it to the new name instead of replacing (and so re-creating) the restored service.
    run = run_ok("prod", _restore())
    assert run.named(RESTORED).alias_names == ("warehouse-restore",)


def test_retrying_a_restore_is_a_config_change_that_creates_a_fresh_service_next_to_the_failed_one() -> None:
    first = run_ok("prod", _restore())
    retry = run_ok(
        "prod",
        _retried(),
    )
    assert sorted(r.name for r in retry.of_type(SERVICE)) == sorted(["warehouse-service", RESTORED, RETRY])
    fresh, failed = retry.named(RETRY), retry.named(RESTORED)
    assert (fresh.inputs["backupId"], fresh.inputs["name"], fresh.protect) == (
        BACKUP_2,
        "salla-analytics-prod-r2",
        True,
    )
    # A state from before per-name restores holds the first attempt as `warehouse-restore`: the
    # oldest attempt declared (the abandoned one) takes that name over, the retry is a new service.
    assert failed.alias_names == ("warehouse-restore",) and not fresh.alias_names
    # The failed one: same resource, same inputs (backupId unchanged: no replacement), only
    # unprotected and tagged retiring, which the prod policy accepts.
    before = first.named(RESTORED)
    assert not failed.protect and failed.inputs["tags"] == {**before.inputs["tags"], "lifecycle": "retiring"}
    assert {k: v for k, v in failed.inputs.items() if k != "tags"} == {
        k: v for k, v in before.inputs.items() if k != "tags"
    }
    assert retry.outputs["clickhouse_service_id"] == retry.named("warehouse-service").id
    # Clean-up: deleting the entry stops declaring it, so `pulumi up` deletes it (it is unprotected).
    cleaned = run_ok("prod", _restore(backupId=BACKUP_2, serviceName="salla-analytics-prod-r2"))
    assert sorted(r.name for r in cleaned.of_type(SERVICE)) == sorted(["warehouse-service", RETRY])


def test_an_abandoned_restore_passes_the_prod_protection_policy() -> None:
    from policy.guardrails import POLICIES
    from tools.policy_config import load_policy_config, resolve
    from tools.policy_eval import evaluate

    run = run_ok(
        "prod",
        _retried(),
    )
    found = evaluate(run, POLICIES, resolve(POLICIES, load_policy_config("prod")))
    assert [f for f in found if f.policy == "data-stores-protected"] == []


def test_gcp_defaults_to_a_gcp_region() -> None:
    dw = stack_value("dev", "dataWarehouse")
    dw["cloudProvider"] = "gcp"
    del dw["region"]
    i = run_ok("dev", {"dataWarehouse": dw}).one(SERVICE).inputs
    assert (i["cloudProvider"], i["region"]) == ("gcp", "us-east1")


def test_dev_redis_inputs(dev: ProgramRun) -> None:
    i = dev.named("cache-redis").inputs
    assert i["databaseName"] == "salla-cache-dev"
    assert i["region"] == "global" and i["primaryRegion"] == "us-east-1"
    assert i["tls"] is True and i["eviction"] is True and i["budget"] == 20
    assert "readRegions" not in i and "ipAllowlists" not in i


def test_prod_redis_inputs(prod: ProgramRun) -> None:
    i = prod.named("cache-redis").inputs
    assert i["databaseName"] == "salla-cache-prod"
    assert i["readRegions"] == ["eu-central-1"]
    assert i["tls"] is True and i["prodPack"] is True and i["budget"] == 100


def test_tls_cannot_be_turned_off_and_eviction_can() -> None:
    cache = stack_value("dev", "cache")
    cache["eviction"] = False
    i = run_ok("dev", {"cache": cache}).named("cache-redis").inputs
    assert i["tls"] is True and i["eviction"] is False


def test_one_v2_topic_per_configured_topic(dev: ProgramRun) -> None:
    topics = {r.inputs["name"]: r.inputs["endpoints"] for r in dev.of_type(TOPIC)}
    assert topics == {
        "cdc-dev": ["https://data-pipeline.dev.salla-analytics.example/api/qstash/cdc"],
        "notifications-dev": ["https://app.dev.salla-analytics.example/api/qstash/notifications"],
    }
    assert not [r for r in dev.resources if r.type.startswith("upstash:index/qStash") and r.type != TOPIC]


def test_warehouse_outputs(dev: ProgramRun) -> None:
    svc = dev.one(SERVICE)
    https = svc.state["endpoints"]["https"]
    assert dev.outputs["clickhouse_host"] == https["host"]
    assert dev.outputs["clickhouse_https_port"] == 8443
    assert dev.outputs["clickhouse_service_id"] == svc.id
    # The seed's name now carries the app's read-only user, never the admin (`default`) one.
    url = urlsplit(dev.outputs["clickhouse_connection_string"])
    assert (url.scheme, url.username, url.hostname, url.port, url.path) == (
        "https",
        "salla_app",
        https["host"],
        8443,
        "/analytics",
    )
    etl = urlsplit(dev.outputs["clickhouse_etl_connection_string"])
    assert (etl.username, etl.hostname) == ("salla_data_pipeline", https["host"])
    assert url.password != etl.password


ADMIN_FORMS = [
    PLACEHOLDER_ADMIN_PASSWORD,
    quote(PLACEHOLDER_ADMIN_PASSWORD, safe=""),
    base64.b64encode(PLACEHOLDER_ADMIN_PASSWORD.encode()).decode(),
    sha256_hex(PLACEHOLDER_ADMIN_PASSWORD),
    ADMIN_HASH,
    quote(ADMIN_HASH, safe=""),
    base64.b64decode(ADMIN_HASH).hex(),
]


def _pickled_provider(inputs: dict[str, Any]) -> bytes:
    """The dynamic provider as the engine stores it (`__provider`: base64 of the dill pickle)."""
    return base64.b64decode(unwrapped(inputs["__provider"]))


@pytest.mark.parametrize("overrides", [{}, "restore"], ids=["as-committed", "restore-serving"])
@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_admin_password_and_its_hash_are_nowhere_but_the_services_password_hash(
    stack: str, overrides: dict[str, Any] | str
) -> None:
    run = run_ok(stack, _restore(stack, serve=True) if overrides == "restore" else None)
    found = []
    for res in run.resources:
        inputs = unwrapped(res.inputs)
        if res.type == SERVICE:
            assert inputs["passwordHash"] == ADMIN_HASH and "passwordHash" in res.secret_inputs
            inputs = {k: v for k, v in inputs.items() if k != "passwordHash"}
        state = {k: v for k, v in unwrapped(res.state).items() if k != "passwordHash"}
        text = json.dumps([inputs, state])
        found += [(res.name, form) for form in ADMIN_FORMS if form in text]
        if "__provider" in res.inputs:
            pickled = _pickled_provider(res.inputs)
            found += [(res.name, form) for form in ADMIN_FORMS if form.encode() in pickled]
    outputs = json.dumps(run.outputs)
    found += [("outputs", form) for form in ADMIN_FORMS if form in outputs]
    assert found == []
    assert "https://default:" not in outputs


def test_the_sql_provider_gets_the_endpoint_and_the_stack_and_no_login(dev: ProgramRun) -> None:
    dynamic = [r for r in dev.resources if r.type.startswith("pulumi-python:dynamic/clickhouse:")]
    users = [r for r in dynamic if r.type.endswith(":User")]
    # The database, two roles, two grants; per consumer user a user, its profile and its quota.
    assert len(users) == 3 and len(dynamic) == 5 + 3 * len(users) + 1  # + the access inventory
    service = dev.one(SERVICE).state["endpoints"]["https"]
    for res in dynamic:
        assert unwrapped(res.inputs["connection"]) == {"host": service["host"], "port": service["port"]}
        assert res.inputs["stack"] == "dev" and "stack" not in res.secret_inputs, res.name


def test_cache_outputs(dev: ProgramRun) -> None:
    state = dev.named("cache-redis").state
    user = dev.named("cache-redis-app-user").state
    url = urlsplit(dev.outputs["redis_url"])
    assert (url.scheme, url.username, url.password, url.hostname, url.port) == (
        "rediss",
        "salla_app",
        user["tokens"]["initial"],
        state["endpoint"],
        6379,
    )
    assert dev.outputs["redis_rest_url"] == "https://" + state["endpoint"]
    assert dev.outputs["redis_token"] == user["tokens"]["initial"]


def test_messaging_outputs(dev: ProgramRun) -> None:
    assert dev.outputs["qstash_topics"] == ["cdc-dev", "notifications-dev"]
    credentials = dev.named("messaging-credentials").state
    assert dev.outputs["qstash_token"] == credentials["token"]
    assert dev.outputs["qstash_current_signing_key"] == credentials["current_signing_key"]
    assert dev.outputs["qstash_next_signing_key"] == credentials["next_signing_key"]
