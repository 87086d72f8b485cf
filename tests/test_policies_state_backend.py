"""state-bucket-hardened and kms-key-rotation over the bootstrap program (issue: operations)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from policy.guardrails import POLICIES
from tests.test_bootstrap import BOOTSTRAP, STACK, P, run_bootstrap
from tools import harness
from tools.harness import ProgramRun, Registration
from tools.policy_config import POLICY_CONFIG_DIR, PolicyConfigError, load_policy_config, resolve
from tools.policy_eval import Finding, evaluate

BOOTSTRAP_POLICY_CONFIG = POLICY_CONFIG_DIR / "bootstrap.json"
POLICY_CONFIG = load_policy_config(STACK, BOOTSTRAP_POLICY_CONFIG)
S3 = "aws:s3/"
KMS_KEY = "aws:kms/key:Key"
KMS_ALIAS = "aws:kms/alias:Alias"
BUCKET = "salla-analytics-pulumi-state"
STACKS = ("dev", "prod")


def _findings(run: ProgramRun, config: dict[str, Any] | None = None) -> list[Finding]:
    return evaluate(run, POLICIES, resolve(POLICIES, POLICY_CONFIG if config is None else config))


def _mandatory(found: list[Finding]) -> list[tuple[str, str]]:
    return [(f.policy, f.message) for f in found if f.level == "mandatory"]


@pytest.fixture(scope="module")
def shared() -> ProgramRun:
    run = run_bootstrap()
    assert run.error is None, run.error
    return run


def _edit(run: ProgramRun, type_: str, name: str | None = None, **state: Any) -> ProgramRun:
    """A copy of the run where resources' outputs are changed (what the program never emits)."""

    def change(reg: Registration) -> Registration:
        if reg.type != type_ or (name is not None and reg.name != name):
            return reg
        wire = {**reg.wire_state, **state}
        return dataclasses.replace(reg, wire_state=wire, wire_inputs={**reg.wire_inputs, **state})

    return dataclasses.replace(run, resources=[change(r) for r in run.resources])


def _without(run: ProgramRun, type_: str, name: str | None = None) -> ProgramRun:
    def keep(r: Registration) -> bool:
        return r.type != type_ or (name is not None and r.name != name)

    return dataclasses.replace(run, resources=[r for r in run.resources if keep(r)])


def _unprotected(run: ProgramRun, name: str) -> ProgramRun:
    return dataclasses.replace(
        run,
        resources=[dataclasses.replace(r, protect=False) if r.name == name else r for r in run.resources],
    )


def _wire(run: ProgramRun, name: str, key: str) -> Any:
    return next(r.wire_state[key] for r in run.resources if r.name == name)


def test_bootstrap_stack_passes_every_guardrail(shared: ProgramRun) -> None:
    assert _findings(shared) == []


def test_bootstrap_policy_config_matches_the_bootstrap_stack() -> None:
    stack_config = harness.read_stack_config(STACK, BOOTSTRAP / f"Pulumi.{STACK}.yaml")
    settings = resolve(POLICIES, POLICY_CONFIG)
    hardened = settings["state-bucket-hardened"].config
    assert hardened["bucketNames"] == [stack_config[f"{P}bucketName"]]
    assert hardened["stacks"] == stack_config[f"{P}stacks"]
    assert hardened["stackKeyAliasPrefix"] == "alias/salla-analytics-pulumi-"
    assert settings["required-tags"].config["extraTags"] == sorted(stack_config[f"{P}tags"])
    assert json.loads(BOOTSTRAP_POLICY_CONFIG.read_text()) == POLICY_CONFIG


@pytest.mark.parametrize(
    ("type_", "what"),
    [
        (S3 + "bucketVersioning:BucketVersioning", "versioning enabled"),
        (S3 + "bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "SSE-KMS"),
        (S3 + "bucketPublicAccessBlock:BucketPublicAccessBlock", "all four public access blocks"),
        (S3 + "bucketOwnershipControls:BucketOwnershipControls", "BucketOwnerEnforced"),
        (S3 + "bucketPolicy:BucketPolicy", "denying non-TLS requests"),
        (S3 + "bucketObjectLockConfiguration:BucketObjectLockConfiguration", "Object Lock default retention"),
        (S3 + "bucketLifecycleConfiguration:BucketLifecycleConfiguration", "expiring noncurrent versions"),
    ],
)
def test_missing_hardening_resource_is_a_violation(shared: ProgramRun, type_: str, what: str) -> None:
    found = _mandatory(_findings(_without(shared, type_)))
    assert len(found) == 1 and found[0][0] == "state-bucket-hardened"
    assert what in found[0][1] and "salla-analytics-pulumi-state" in found[0][1]


def test_weakened_settings_are_violations(shared: ProgramRun) -> None:
    suspended = _edit(
        shared, S3 + "bucketVersioning:BucketVersioning", versioningConfiguration={"status": "Suspended"}
    )
    assert [m for _, m in _mandatory(_findings(suspended))] == [
        "state bucket salla-analytics-pulumi-state: missing versioning enabled (BucketVersioning)."
    ]
    allow_all = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}],
        }
    )
    open_policy = _edit(shared, S3 + "bucketPolicy:BucketPolicy", policy=allow_all)
    assert _mandatory(_findings(open_policy))[0][1].endswith(
        "missing a policy denying non-TLS requests (BucketPolicy)."
    )
    unlocked = _edit(shared, S3 + "bucket:Bucket", objectLockEnabled=False, forceDestroy=True)
    messages = [m for _, m in _mandatory(_findings(unlocked))]
    assert any("Object Lock must be enabled" in m for m in messages)
    assert any("forceDestroy" in m for m in messages)


def test_unprotected_state_bucket_is_a_violation(shared: ProgramRun) -> None:
    run = dataclasses.replace(
        shared,
        resources=[
            dataclasses.replace(r, protect=False) if r.type == S3 + "bucket:Bucket" else r
            for r in shared.resources
        ],
    )
    assert _mandatory(_findings(run)) == [
        (
            "state-bucket-hardened",
            "state bucket salla-analytics-pulumi-state: must be protected (protect: true).",
        )
    ]


def test_kms_key_rotation(shared: ProgramRun) -> None:
    found = _mandatory(_findings(_edit(shared, KMS_KEY, "state-key", enableKeyRotation=False)))
    assert sorted(found) == [
        ("kms-key-rotation", "KMS key must have automatic rotation enabled (enableKeyRotation: true)."),
        (
            "state-bucket-hardened",
            f"state bucket {BUCKET}: the SSE-KMS key state-key must rotate automatically "
            "(enableKeyRotation: true).",
        ),
    ]
    asymmetric = _edit(
        shared, KMS_KEY, "state-key", enableKeyRotation=False, customerMasterKeySpec="RSA_2048"
    )
    # kms-key-rotation does not apply to asymmetric keys; the bucket's key must still rotate.
    assert [p for p, _ in _mandatory(_findings(asymmetric))] == ["state-bucket-hardened"]


def test_unprotected_bucket_key_is_a_violation(shared: ProgramRun) -> None:
    assert _mandatory(_findings(_unprotected(shared, "state-key"))) == [
        (
            "state-bucket-hardened",
            f"state bucket {BUCKET}: the SSE-KMS key state-key must be protected (protect: true).",
        )
    ]


def test_sse_key_outside_the_stack_is_a_violation(shared: ProgramRun) -> None:
    elsewhere = "arn:aws:kms:us-east-1:111111111111:key/0000"
    rules = [
        {
            "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": elsewhere},
            "bucketKeyEnabled": True,
        }
    ]
    run = _edit(
        shared,
        S3 + "bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        rules=rules,
    )
    assert _mandatory(_findings(run)) == [
        (
            "state-bucket-hardened",
            f"state bucket {BUCKET}: SSE-KMS key {elsewhere} is not a KMS key of this stack "
            "(its rotation and protection cannot be checked).",
        )
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_missing_stack_key_alias_is_a_violation_naming_the_stack(shared: ProgramRun, stack: str) -> None:
    run = _without(shared, KMS_ALIAS, f"state-stack-key-{stack}-alias")
    assert _mandatory(_findings(run)) == [
        (
            "state-bucket-hardened",
            f"state bucket {BUCKET}: stack '{stack}' has no KMS key alias "
            f"alias/salla-analytics-pulumi-{stack} (its own secrets-provider key).",
        )
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_missing_stack_key_is_a_violation_naming_the_stack(shared: ProgramRun, stack: str) -> None:
    found = _mandatory(_findings(_without(shared, KMS_KEY, f"state-stack-key-{stack}")))
    assert found == [
        (
            "state-bucket-hardened",
            f"state bucket {BUCKET}: the secrets-provider key of stack '{stack}' "
            f"(alias/salla-analytics-pulumi-{stack}) targets no KMS key of this stack.",
        )
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_non_rotating_stack_key_is_a_violation_naming_the_stack(shared: ProgramRun, stack: str) -> None:
    run = _edit(shared, KMS_KEY, f"state-stack-key-{stack}", enableKeyRotation=False)
    assert sorted(_mandatory(_findings(run)), reverse=True) == [
        (
            "state-bucket-hardened",
            f"state bucket {BUCKET}: the secrets-provider key of stack '{stack}' "
            f"(alias/salla-analytics-pulumi-{stack}) must rotate automatically (enableKeyRotation: true).",
        ),
        ("kms-key-rotation", "KMS key must have automatic rotation enabled (enableKeyRotation: true)."),
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_unprotected_stack_key_is_a_violation_naming_the_stack(shared: ProgramRun, stack: str) -> None:
    run = _unprotected(shared, f"state-stack-key-{stack}")
    assert _mandatory(_findings(run)) == [
        (
            "state-bucket-hardened",
            f"state bucket {BUCKET}: the secrets-provider key of stack '{stack}' "
            f"(alias/salla-analytics-pulumi-{stack}) must be protected (protect: true).",
        )
    ]


def test_stacks_sharing_a_key_is_a_violation(shared: ProgramRun) -> None:
    dev_key = _wire(shared, "state-stack-key-dev", "keyId")
    run = _edit(shared, KMS_ALIAS, "state-stack-key-prod-alias", targetKeyId=dev_key)
    assert _mandatory(_findings(run)) == [
        (
            "state-bucket-hardened",
            f"state bucket {BUCKET}: the secrets-provider key of stack 'prod' "
            "(alias/salla-analytics-pulumi-prod) is also the key of stack 'dev': "
            "every stack needs a key of its own.",
        )
    ]


def test_stack_key_that_is_the_bucket_key_is_a_violation(shared: ProgramRun) -> None:
    bucket_key = _wire(shared, "state-key", "keyId")
    run = _edit(shared, KMS_ALIAS, "state-stack-key-dev-alias", targetKeyId=bucket_key)
    messages = [m for _, m in _mandatory(_findings(run))]
    assert messages == [
        f"state bucket {BUCKET}: the secrets-provider key of stack 'dev' (alias/salla-analytics-pulumi-dev) "
        "is also the bucket's SSE-KMS key: every stack needs a key of its own."
    ]


def test_every_configured_stack_needs_a_key(shared: ProgramRun) -> None:
    config = {**POLICY_CONFIG, "state-bucket-hardened": {"stacks": ["dev", "staging", "prod"]}}
    assert _mandatory(_findings(shared, config)) == [
        (
            "state-bucket-hardened",
            f"state bucket {BUCKET}: stack 'staging' has no KMS key alias "
            "alias/salla-analytics-pulumi-staging (its own secrets-provider key).",
        )
    ]


def test_stack_keys_are_checked_with_the_schema_defaults(shared: ProgramRun) -> None:
    defaults = {"required-tags": {"extraTags": ["cost-center", "owner"]}}
    assert _findings(shared, defaults) == []
    run = _without(shared, KMS_ALIAS, "state-stack-key-prod-alias")
    assert [p for p, m in _mandatory(_findings(run, defaults)) if "'prod'" in m] == ["state-bucket-hardened"]


def test_other_buckets_are_not_judged_as_state_buckets(shared: ProgramRun) -> None:
    settings = resolve(
        POLICIES, {**POLICY_CONFIG, "state-bucket-hardened": {"bucketNames": ["some-other-bucket"]}}
    )
    stripped = _without(_without(shared, S3 + "bucketVersioning:BucketVersioning"), KMS_ALIAS)
    assert evaluate(stripped, POLICIES, settings) == []


@pytest.mark.parametrize(
    ("stacks", "problem"),
    [
        (["Dev"], "does not match"),
        (["dev", "dev"], "non-unique"),
        ("dev", "is not of type 'array'"),
    ],
)
def test_stacks_setting_is_validated_by_the_schema(stacks: Any, problem: str) -> None:
    with pytest.raises(PolicyConfigError, match=problem):
        resolve(POLICIES, {**POLICY_CONFIG, "state-bucket-hardened": {"stacks": stacks}})
