"""Each CrossGuard policy passes and fails for the right reason.

Cases come from the real program with an overridden stack config; props are hand-built only
where the program itself refuses to produce the case (its config validation or fixed inputs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from policy.guardrails import POLICIES
from tests.helpers import config_error, memo_key, run_ok, stack_value
from tools import policy_config
from tools.harness import DELETE, REDIS, SERVICE, TOPIC, Registration
from tools.policy_config import PolicyConfigError, load_policy_config, resolve
from tools.policy_eval import Finding, check_resource, evaluate

POLICY = {p.name: p for p in POLICIES}
UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's unknown-string sentinel


def findings(
    stack: str, overrides: dict[str, Any] | None = None, policy_stack: str | None = None
) -> list[Finding]:
    """The pack over a (shared) run; evaluated once per run and policy config in a test process."""
    key = memo_key(stack, overrides, policy_stack)
    if key not in _FINDINGS:
        run = run_ok(stack, overrides)
        settings = resolve(POLICIES, load_policy_config(policy_stack or stack))
        _FINDINGS[key] = evaluate(run, POLICIES, settings)
    return list(_FINDINGS[key])


_FINDINGS: dict[str, list[Finding]] = {}


def violations(found: list[Finding], policy: str) -> list[Finding]:
    return [f for f in found if f.policy == policy]


def hand_built(
    policy: str,
    type_: str,
    props: dict[str, Any],
    stack: str = "prod",
    protect: bool = False,
    *,
    type_chain: str = "",
    config: dict[str, Any] | None = None,
) -> list[Finding]:
    """One policy over a resource the program would not produce (`type_chain`: its parents' types)."""
    file_config = load_policy_config(stack) if config is None else config
    settings = resolve(POLICIES, file_config)[policy]
    reg = Registration(
        urn=f"urn:pulumi:{stack}::salla-analytics-infra::{type_chain}{type_}::hand-built",
        id="hand-built-id",
        type=type_,
        name="hand-built",
        custom=True,
        parent="",
        provider="",
        protect=protect,
        inputs=props,
        wire_inputs=props,
        secret_inputs=frozenset(),
        state={},
    )
    return check_resource(POLICY[policy], settings, reg)


def _prod_dw(**changes: Any) -> dict[str, Any]:
    dw = stack_value("prod", "dataWarehouse")
    for key, value in changes.items():
        if value is DELETE:
            dw.pop(key, None)
        else:
            dw[key] = value
    return {"dataWarehouse": dw}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_committed_stacks_have_no_violation(stack: str) -> None:
    assert findings(stack) == []


def test_pack_has_the_issues_policies_with_their_levels() -> None:
    levels = {p.name: p.enforcement_level.value if p.enforcement_level else None for p in POLICIES}
    assert levels == {
        "clickhouse-backup-rpo": "mandatory",
        "clickhouse-backup-retention": "mandatory",
        "clickhouse-no-open-ingress": "mandatory",
        "clickhouse-ip-access-valid": "mandatory",
        "redis-tls-required": "mandatory",
        "redis-eviction-enabled": "advisory",
        "redis-state-no-eviction": "mandatory",
        "redis-ip-allowlist": "mandatory",
        "redis-budget-cap": "advisory",
        "data-stores-protected": "mandatory",
        "clickhouse-access-protected": "mandatory",
        "clickhouse-passwords-protected": "mandatory",
        "redis-users-protected": "mandatory",
        "clickhouse-consumer-limits": "mandatory",
        "required-tags": "mandatory",
        "qstash-endpoints-https": "mandatory",
        "qstash-no-v1-resources": "mandatory",
        "state-bucket-hardened": "mandatory",
        "kms-key-rotation": "mandatory",
        "vercel-stack-binding": "mandatory",
    }


# --- blocked prod variants (the issue's four cases) --------------------------------------------


def test_prod_with_open_ingress_is_blocked() -> None:
    dw = stack_value("prod", "dataWarehouse")
    dw["ipAllowList"].append({"cidr": "0.0.0.0/0", "description": "everyone"})
    found = findings("prod", {"dataWarehouse": dw})
    assert [(f.policy, f.level) for f in found] == [("clickhouse-no-open-ingress", "mandatory")]
    assert "0.0.0.0/0" in found[0].message


def test_dev_allows_open_ingress_by_policy_config() -> None:
    assert violations(findings("dev"), "clickhouse-no-open-ingress") == []
    # The same dev program under prod's policy config is blocked.
    found = findings("dev", policy_stack="prod")
    assert violations(found, "clickhouse-no-open-ingress")


def test_prod_with_48h_backups_is_blocked() -> None:
    found = findings("prod", _prod_dw(backup={"periodHours": 48, "retentionHours": 168}))
    assert [(f.policy, f.message) for f in found] == [
        ("clickhouse-backup-rpo", "ClickHouse backups every 48 h exceed the RPO of 24 h.")
    ]


def test_prod_without_backups_is_blocked_but_dev_is_not() -> None:
    found = findings("prod", _prod_dw(backup=DELETE))
    assert [f.policy for f in found] == ["clickhouse-backup-rpo"]
    assert "no explicit backup configuration" in found[0].message
    assert violations(findings("dev"), "clickhouse-backup-rpo") == []


def test_prod_with_24h_retention_is_blocked() -> None:
    found = findings("prod", _prod_dw(backup={"periodHours": 24, "retentionHours": 24}))
    assert [(f.policy, f.message) for f in found] == [
        ("clickhouse-backup-retention", "ClickHouse backups are kept 24 h; at least 168 h is required.")
    ]


def test_prod_without_protect_is_blocked() -> None:
    # The SQL objects and passwords: tests/test_policies_access.py; Redis users: test_upstash_program.py.
    found = [
        f
        for f in findings("prod", {"protect": False})
        if not f.policy.startswith("clickhouse-") and f.policy != "redis-users-protected"
    ]
    assert sorted((f.policy, f.resource) for f in found) == [
        ("data-stores-protected", "cache-redis"),
        ("data-stores-protected", "pipeline-state-redis"),
        ("data-stores-protected", "warehouse-service"),
    ]


# --- the remaining policies: pass + fail each -----------------------------------------------


def test_ip_access_valid() -> None:
    ok = {"ipAccesses": [{"source": "203.0.113.0/24", "description": "office"}]}
    bad = {
        "ipAccesses": [
            {"source": "10.0.0.1/8", "description": "x"},
            {"source": "10.0.0.0/8", "description": ""},
        ]
    }
    assert hand_built("clickhouse-ip-access-valid", SERVICE, ok) == []
    messages = [f.message for f in hand_built("clickhouse-ip-access-valid", SERVICE, bad)]
    assert len(messages) == 2
    assert "is not a valid IP address or CIDR block" in messages[0]
    assert "has no description" in messages[1]


def test_redis_tls_required() -> None:
    assert hand_built("redis-tls-required", REDIS, {"tls": True}) == []
    for props in ({"tls": False}, {}):
        assert [f.level for f in hand_built("redis-tls-required", REDIS, props)] == ["mandatory"]


def test_redis_eviction_is_advisory() -> None:
    cache = stack_value("dev", "cache")
    cache["eviction"] = False
    found = findings("dev", {"cache": cache})
    assert [(f.policy, f.level) for f in found] == [("redis-eviction-enabled", "advisory")]


def test_redis_budget_cap() -> None:
    cache = stack_value("prod", "cache")
    cache["budget"] = 500
    found = findings("prod", {"cache": cache})
    assert [(f.policy, f.level, f.message) for f in found] == [
        ("redis-budget-cap", "advisory", "Redis budget 500 USD/month exceeds the cap of 200 USD/month.")
    ]


def test_policies_see_the_providers_check_defaults() -> None:
    # Declared without a budget, a database reaches the policies with the provider's default of
    # USD 20 (filled in by Check), never "no budget"; so is tls: false.
    found = hand_built(
        "redis-budget-cap", REDIS, {"databaseName": "r"}, config={"redis-budget-cap": {"maxBudgetUsd": 10}}
    )
    assert [f.message for f in found] == ["Redis budget 20 USD/month exceeds the cap of 10 USD/month."]
    assert [f.policy for f in hand_built("redis-tls-required", REDIS, {"databaseName": "r"})] == [
        "redis-tls-required"
    ]


def test_budget_is_a_required_setting() -> None:
    cache = stack_value("prod", "cache")
    del cache["budget"]
    report = config_error("prod", {"cache": cache})
    assert "salla-analytics-infra:cache.budget = (not set): is required" in report
    assert "pulumi config set --path 'cache.budget' 50 --stack prod" in report


def test_required_tags() -> None:
    found = findings("dev", {"tags": {"cost-center": "analytics"}})
    assert [(f.policy, f.resource, f.message) for f in found] == [
        ("required-tags", "warehouse-service", "Missing cost-allocation tags: owner.")
    ]


def test_required_tags_reads_provider_default_tags() -> None:
    props = {"bucket": "b"}
    settings = resolve(POLICIES, load_policy_config("prod"))["required-tags"]
    base = dict(
        urn="u",
        id="i",
        custom=True,
        parent="",
        provider="",
        protect=False,
        secret_inputs=frozenset(),
        state={},
    )
    bucket = Registration(type="aws:s3/bucket:Bucket", name="bucket", inputs=props, wire_inputs=props, **base)  # type: ignore[arg-type]
    tags = {"project": "p", "environment": "shared", "managed-by": "pulumi", "cost-center": "c", "owner": "o"}
    provider_props = {"region": "us-east-1", "defaultTags": {"tags": tags}}
    provider = Registration(
        type="pulumi:providers:aws",
        name="aws",
        inputs=provider_props,
        wire_inputs=provider_props,
        **base,  # type: ignore[arg-type]
    )
    assert check_resource(POLICY["required-tags"], settings, bucket, provider) == []
    assert check_resource(POLICY["required-tags"], settings, bucket)  # no default tags -> violation


def test_qstash_endpoints_https() -> None:
    topic = TOPIC
    assert hand_built("qstash-endpoints-https", topic, {"endpoints": ["https://a.example/q"]}) == []
    found = hand_built("qstash-endpoints-https", topic, {"endpoints": ["http://a.example/q", "ftp://x"]})
    assert [f.message for f in found] == [
        "endpoints[0] 'http://a.example/q' is not an https URL.",
        "endpoints[1] 'ftp://x' is not an https URL.",
    ]


@pytest.mark.parametrize(
    "type_",
    [
        "upstash:index/qStashTopic:QStashTopic",
        "upstash:index/qStashEndpoint:QStashEndpoint",
        "upstash:index/qStashSchedule:QStashSchedule",
    ],
)
def test_qstash_v1_resources_are_forbidden(type_: str) -> None:
    assert [f.level for f in hand_built("qstash-no-v1-resources", type_, {"name": "t"})] == ["mandatory"]


def test_qstash_v2_topics_are_allowed(dev: Any) -> None:
    assert violations(findings("dev"), "qstash-no-v1-resources") == []


# --- unknown values during preview ------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "type_", "props"),
    [
        (
            "clickhouse-no-open-ingress",
            SERVICE,
            {"ipAccesses": [{"source": UNKNOWN_STRING, "description": "x"}]},
        ),
        ("clickhouse-ip-access-valid", SERVICE, {"ipAccesses": UNKNOWN_STRING}),
        (
            "clickhouse-backup-rpo",
            SERVICE,
            {"backupConfiguration": {"backupPeriodInHours": "3eeb2bf0-c639-47a8-9e75-3b44932eb421"}},
        ),
        ("redis-tls-required", REDIS, {"tls": "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7"}),
        ("redis-budget-cap", REDIS, {"budget": "3eeb2bf0-c639-47a8-9e75-3b44932eb421"}),
        (
            "qstash-endpoints-https",
            TOPIC,
            {"endpoints": [UNKNOWN_STRING]},
        ),
    ],
)
def test_unknown_values_do_not_crash_a_policy(policy: str, type_: str, props: dict[str, Any]) -> None:
    found = hand_built(policy, type_, props)
    assert [(f.level, f.message.split(":")[0]) for f in found] == [("advisory", "can't run during preview")]


# --- policy config --------------------------------------------------------------------------


def test_policy_config_defaults_and_overrides() -> None:
    prod = resolve(POLICIES, load_policy_config("prod"))
    assert prod["clickhouse-backup-retention"].config == {"minRetentionHours": 168}
    assert prod["clickhouse-backup-rpo"].config == {"rpoHours": 24, "requireBackups": True}
    dev = resolve(POLICIES, {})
    assert dev["clickhouse-no-open-ingress"].config == {"allowOpenIngress": False}


def test_policy_config_errors_name_the_problem() -> None:
    with pytest.raises(PolicyConfigError) as err:
        resolve(
            POLICIES, {"no-such-policy": {}, "redis-budget-cap": {"maxBudget": 1, "enforcementLevel": "loud"}}
        )
    text = str(err.value)
    assert "'no-such-policy' is not a policy of this pack" in text
    assert "redis-budget-cap.maxBudget is not in the policy's config schema" in text
    assert "redis-budget-cap.enforcementLevel 'loud' is not a level" in text


def test_a_config_jsonschema_accepted_is_remembered_and_a_rejected_one_never(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    accepted = tmp_path / "accepted"
    prod = load_policy_config("prod")
    first = resolve(POLICIES, prod, accepted)
    assert len(accepted.read_text().split()) == 1

    def no_check(schema_json: str) -> Any:
        raise AssertionError("checked again")

    # The same schema and config: accepted without jsonschema.
    monkeypatch.setattr(policy_config, "_validator", no_check)
    assert resolve(POLICIES, prod, accepted) == first
    # Any other config is checked (here: the check is unavailable, so it fails) ...
    with pytest.raises(AssertionError, match="checked again"):
        resolve(POLICIES, {**prod, "redis-budget-cap": "advisory"}, accepted)
    monkeypatch.undo()
    # ... and one jsonschema rejects is reported every time, never remembered.
    bad = {**prod, "redis-budget-cap": {"maxBudgetUsd": 0}}
    for _ in range(2):
        with pytest.raises(PolicyConfigError, match=r"redis-budget-cap\.maxBudgetUsd = 0"):
            resolve(POLICIES, bad, accepted)
    assert len(accepted.read_text().split()) == 1
    # Only a config that is exactly its JSON text is remembered: a tuple is not JSON's array, and
    # jsonschema rejects it even where the same list was accepted.
    as_tuple = {**prod, "required-tags": {"extraTags": tuple(prod["required-tags"]["extraTags"])}}
    with pytest.raises(PolicyConfigError, match="is not of type 'array'"):
        resolve(POLICIES, as_tuple, accepted)
    # Without the file (tests, library use) every call checks.
    monkeypatch.setattr(policy_config, "_validator", no_check)
    with pytest.raises(AssertionError, match="checked again"):
        resolve(POLICIES, prod)


def test_disabled_policy_does_not_run() -> None:
    settings = resolve(POLICIES, {**load_policy_config("prod"), "data-stores-protected": "disabled"})
    run = run_ok("prod", {"protect": False})
    assert violations(evaluate(run, POLICIES, settings), "data-stores-protected") == []


def test_every_configurable_policy_declares_a_schema_and_both_stacks_configure_it() -> None:
    configured = set(load_policy_config("dev")) | set(load_policy_config("prod"))
    for name in configured:
        assert POLICY[name].config_schema is not None, name


def test_prod_redis_without_an_allow_list_is_blocked_but_dev_is_not() -> None:
    state = stack_value("prod", "pipelineState")
    del state["ipAllowList"]
    found = findings("prod", {"pipelineState": state})
    assert [(f.policy, f.resource, f.level) for f in found] == [
        ("redis-ip-allowlist", "pipeline-state-redis", "mandatory")
    ]
    assert violations(findings("dev"), "redis-ip-allowlist") == []


def test_prod_redis_allow_list_must_not_be_open() -> None:
    cache = stack_value("prod", "cache")
    cache["ipAllowList"] = ["0.0.0.0/0"]
    found = findings("prod", {"cache": cache})
    assert [(f.policy, f.message) for f in found] == [
        ("redis-ip-allowlist", "Redis database is open to the internet (0.0.0.0/0); list explicit CIDRs.")
    ]


def test_prod_redis_allow_lists_reach_the_provider() -> None:
    run = run_ok("prod")
    for resource, key in (("cache-redis", "cache"), ("pipeline-state-redis", "pipelineState")):
        declared = stack_value("prod", key)["ipAllowList"]
        assert len(declared) >= 2, key  # the consumers' egress and the deploy runner's
        assert run.named(resource).inputs["ipAllowlists"] == declared, resource


def test_pipeline_state_with_eviction_is_blocked() -> None:
    # The program never sets it (not configurable): a hand-built pipeline-state database.
    chain = "salla:analytics:PipelineState$"
    assert [
        f.policy for f in hand_built("redis-state-no-eviction", REDIS, {"eviction": True}, type_chain=chain)
    ] == ["redis-state-no-eviction"]
    assert hand_built("redis-state-no-eviction", REDIS, {"eviction": False}, type_chain=chain) == []
    # The cache rule does not apply to it, and the state rule not to a cache.
    assert hand_built("redis-eviction-enabled", REDIS, {"eviction": False}, type_chain=chain) == []
    assert hand_built("redis-state-no-eviction", REDIS, {"eviction": True}) == []


def test_only_a_service_the_program_is_retiring_may_be_unprotected_in_prod() -> None:
    dw = stack_value("prod", "dataWarehouse")
    dw["restore"] = {
        "backupId": "7d6c1a52-2f44-4b6e-9d2a-0c6b7f1e9a10",
        "serviceName": "salla-analytics-prod-r1",
    }
    assert (
        findings(
            "prod",
            {"dataWarehouse": {**dw, "restore": {**dw["restore"], "serve": True, "primary": "unprotect"}}},
        )
        == []
    )
    # Without the program's tag, an unprotected prod service is still blocked.
    found = hand_built("data-stores-protected", SERVICE, {"tags": {"lifecycle": "active"}})
    assert [f.policy for f in found] == ["data-stores-protected"]
