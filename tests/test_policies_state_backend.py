"""state-bucket-hardened and kms-key-rotation over the bootstrap program (issue: operations)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from policy.guardrails import POLICIES
from tests.test_bootstrap import run_bootstrap
from tools.harness import ProgramRun, Registration
from tools.policy_eval import Finding, evaluate, resolve

POLICY_CONFIG = {"required-tags": {"extraTags": ["cost-center", "owner"]}}
S3 = "aws:s3/"


def _findings(run: ProgramRun) -> list[Finding]:
    return evaluate(run, POLICIES, resolve(POLICIES, POLICY_CONFIG))


def _mandatory(found: list[Finding]) -> list[tuple[str, str]]:
    return [(f.policy, f.message) for f in found if f.level == "mandatory"]


@pytest.fixture
def shared() -> ProgramRun:
    run = run_bootstrap()
    assert run.error is None, run.error
    return run


def _edit(run: ProgramRun, type_: str, **state: Any) -> ProgramRun:
    """A copy of the run where one resource's outputs are changed (what the program never emits)."""

    def change(reg: Registration) -> Registration:
        if reg.type != type_:
            return reg
        wire = {**reg.wire_state, **state}
        return dataclasses.replace(reg, wire_state=wire, wire_inputs={**reg.wire_inputs, **state})

    return dataclasses.replace(run, resources=[change(r) for r in run.resources])


def _without(run: ProgramRun, type_: str) -> ProgramRun:
    return dataclasses.replace(run, resources=[r for r in run.resources if r.type != type_])


def test_bootstrap_stack_passes_every_guardrail(shared: ProgramRun) -> None:
    assert _findings(shared) == []


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
    found = _mandatory(_findings(_edit(shared, "aws:kms/key:Key", enableKeyRotation=False)))
    assert found == [
        ("kms-key-rotation", "KMS key must have automatic rotation enabled (enableKeyRotation: true).")
    ]
    asymmetric = _edit(shared, "aws:kms/key:Key", enableKeyRotation=False, customerMasterKeySpec="RSA_2048")
    assert _mandatory(_findings(asymmetric)) == []


def test_other_buckets_are_not_judged_as_state_buckets(shared: ProgramRun) -> None:
    settings = resolve(
        POLICIES, {**POLICY_CONFIG, "state-bucket-hardened": {"bucketNames": ["some-other-bucket"]}}
    )
    assert evaluate(_without(shared, S3 + "bucketVersioning:BucketVersioning"), POLICIES, settings) == []
