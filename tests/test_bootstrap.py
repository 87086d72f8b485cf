"""bootstrap/: the state bucket and KMS key, the real program run under the mock harness."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
import yaml

from tools import harness
from tools.harness import KMS_ALIAS, KMS_KEY, S3_BUCKET, ProgramRun

BOOTSTRAP = harness.ROOT / "bootstrap"
PROGRAM = BOOTSTRAP / "__main__.py"
PROJECT = "salla-analytics-bootstrap"
STACK = "shared"
P = f"{PROJECT}:"
BUCKET = "salla-analytics-pulumi-state"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
ALIAS = "alias/salla-analytics-pulumi"

AWS_PROVIDER = "pulumi:providers:aws"
COMPONENT = "salla:bootstrap:StateBackend"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
PUBLIC_ACCESS = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
OBJECT_LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"

OUTPUTS = {"backend_url", "secrets_provider", "bucket_name", "kms_key_arn", "ci_policy_json"}
# Actions that would let CI weaken the backend itself.
ADMIN_ACTIONS = ("s3:PutBucket", "s3:DeleteBucket", "s3:PutObjectRetention", "s3:BypassGovernance", "kms:Put")
DAYS_FIX = f"fix: pulumi config set {P}objectLockRetentionDays 30 --stack shared"


def run_bootstrap(overrides: dict[str, Any] | None = None) -> ProgramRun:
    return harness.run_program(STACK, overrides, program=PROGRAM, project=PROJECT)


def bootstrap_ok(overrides: dict[str, Any] | None = None) -> ProgramRun:
    run = run_bootstrap(overrides)
    assert run.error is None, run.error
    return run


def bootstrap_error(overrides: dict[str, Any]) -> str:
    run = run_bootstrap(overrides)
    assert run.error is not None, "expected the config to be rejected"
    assert not run.resources, "no resource may be registered when the config is invalid"
    assert "Traceback" not in run.error
    return run.error


@pytest.fixture
def shared() -> ProgramRun:
    return bootstrap_ok()


def key_arn(run: ProgramRun) -> str:
    arn = run.one(KMS_KEY).state["arn"]
    assert isinstance(arn, str) and arn.startswith("arn:aws:kms:us-east-1:")
    return arn


def statements(policy_json: str) -> dict[str, dict[str, Any]]:
    doc = json.loads(policy_json)
    assert doc["Version"] == "2012-10-17"
    return {s["Sid"]: s for s in doc["Statement"]}


# -- resources -----------------------------------------------------------------------------------


def test_resource_set(shared: ProgramRun) -> None:
    assert Counter(r.type for r in shared.resources) == Counter(
        {
            AWS_PROVIDER: 1,
            COMPONENT: 1,
            KMS_KEY: 1,
            KMS_ALIAS: 1,
            S3_BUCKET: 1,
            VERSIONING: 1,
            ENCRYPTION: 1,
            PUBLIC_ACCESS: 1,
            OWNERSHIP: 1,
            POLICY: 1,
            OBJECT_LOCK: 1,
            LIFECYCLE: 1,
        }
    )


def test_children_are_named_and_parented_by_the_component(shared: ProgramRun) -> None:
    component = shared.one(COMPONENT)
    children = [r for r in shared.resources if r.type.startswith("aws:")]
    assert children
    for r in children:
        assert r.parent == component.urn, r.name
        assert r.name.startswith(f"{component.name}-"), r.name


def test_every_aws_resource_uses_the_explicit_provider(shared: ProgramRun) -> None:
    provider = shared.one(AWS_PROVIDER)
    assert provider.inputs["region"] == "us-east-1"
    for r in shared.resources:
        if r.type.startswith("aws:"):
            assert r.provider == f"{provider.urn}::{provider.id}", r.name


def test_default_tags_follow_the_main_scheme(shared: ProgramRun) -> None:
    raw = shared.one(AWS_PROVIDER).inputs["defaultTags"]
    default_tags = json.loads(raw) if isinstance(raw, str) else raw  # providers get JSON-encoded objects
    assert default_tags == {
        "tags": {
            "project": PROJECT,
            "environment": STACK,
            "managed-by": "pulumi",
            "cost-center": "analytics",
            "owner": "data-platform",
        }
    }


def test_bucket(shared: ProgramRun) -> None:
    bucket = shared.one(S3_BUCKET)
    assert bucket.inputs["bucket"] == BUCKET
    assert bucket.inputs["objectLockEnabled"] is True
    assert bucket.inputs["forceDestroy"] is False
    assert bucket.protect


def test_every_bucket_setting_targets_the_state_bucket(shared: ProgramRun) -> None:
    for type_ in (VERSIONING, ENCRYPTION, PUBLIC_ACCESS, OWNERSHIP, POLICY, OBJECT_LOCK, LIFECYCLE):
        assert shared.one(type_).inputs["bucket"] == BUCKET, type_


def test_versioning_enabled(shared: ProgramRun) -> None:
    assert shared.one(VERSIONING).inputs["versioningConfiguration"] == {"status": "Enabled"}


def test_sse_kms_with_the_key_and_a_bucket_key(shared: ProgramRun) -> None:
    assert shared.one(ENCRYPTION).inputs["rules"] == [
        {
            "applyServerSideEncryptionByDefault": {
                "sseAlgorithm": "aws:kms",
                "kmsMasterKeyId": key_arn(shared),
            },
            "bucketKeyEnabled": True,
        }
    ]


def test_all_public_access_blocked(shared: ProgramRun) -> None:
    inputs = shared.one(PUBLIC_ACCESS).inputs
    for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
        assert inputs[flag] is True, flag


def test_bucket_owner_enforced(shared: ProgramRun) -> None:
    assert shared.one(OWNERSHIP).inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}


def test_bucket_policy_denies_non_tls_requests(shared: ProgramRun) -> None:
    policy = statements(shared.one(POLICY).inputs["policy"])
    assert policy == {
        "DenyInsecureTransport": {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [BUCKET_ARN, f"{BUCKET_ARN}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    }


def test_object_lock_governance_with_default_retention(shared: ProgramRun) -> None:
    assert shared.one(OBJECT_LOCK).inputs["rule"] == {"defaultRetention": {"mode": "GOVERNANCE", "days": 30}}


def test_lifecycle_expires_noncurrent_versions_and_aborts_uploads(shared: ProgramRun) -> None:
    (rule,) = shared.one(LIFECYCLE).inputs["rules"]
    assert rule["status"] == "Enabled"
    assert rule["filter"] == {}  # the whole bucket
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 30}
    assert rule["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}
    assert rule["expiration"] == {"expiredObjectDeleteMarker": True}


def test_kms_key(shared: ProgramRun) -> None:
    key = shared.one(KMS_KEY)
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == 30
    assert "salla-analytics-infra" in key.inputs["description"]
    assert key.protect


def test_alias_targets_the_key(shared: ProgramRun) -> None:
    alias = shared.one(KMS_ALIAS)
    assert alias.inputs == {"name": ALIAS, "targetKeyId": shared.one(KMS_KEY).id}


def test_only_the_bucket_and_the_key_are_protected(shared: ProgramRun) -> None:
    assert sorted(r.type for r in shared.resources if r.protect) == sorted([KMS_KEY, S3_BUCKET])


# -- outputs -------------------------------------------------------------------------------------


def test_outputs(shared: ProgramRun) -> None:
    assert set(shared.outputs) == OUTPUTS
    assert not shared.secret_outputs
    assert shared.outputs["backend_url"] == f"s3://{BUCKET}?region=us-east-1&awssdk=v2"
    assert shared.outputs["secrets_provider"] == f"awskms://{ALIAS}?region=us-east-1"
    assert shared.outputs["bucket_name"] == BUCKET
    assert shared.outputs["kms_key_arn"] == key_arn(shared)


def test_main_project_backend_is_the_bootstrapped_bucket(shared: ProgramRun) -> None:
    main = yaml.safe_load((harness.ROOT / "Pulumi.yaml").read_text())
    assert main["backend"]["url"] == shared.outputs["backend_url"]


def test_ci_policy_is_least_privilege(shared: ProgramRun) -> None:
    policy = statements(shared.outputs["ci_policy_json"])
    assert set(policy) == {"StateBucket", "StateObjects", "StateKey"}
    assert all(s["Effect"] == "Allow" and "Condition" not in s for s in policy.values())
    bucket, objects, key = policy["StateBucket"], policy["StateObjects"], policy["StateKey"]
    assert sorted(bucket["Action"]) == ["s3:GetBucketLocation", "s3:GetBucketVersioning", "s3:ListBucket"]
    assert bucket["Resource"] == BUCKET_ARN
    # Put/Get/Delete: state, history and backups, and the lock objects under .pulumi/locks/.
    assert sorted(objects["Action"]) == ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    assert objects["Resource"] == f"{BUCKET_ARN}/.pulumi/*"
    assert sorted(key["Action"]) == ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*"]
    assert key["Resource"] == key_arn(shared)


def test_ci_policy_has_no_wildcard_resource_or_admin_action(shared: ProgramRun) -> None:
    for statement in statements(shared.outputs["ci_policy_json"]).values():
        resources = statement["Resource"]
        for resource in [resources] if isinstance(resources, str) else resources:
            assert resource == f"{BUCKET_ARN}/.pulumi/*" or "*" not in resource, resource
        for action in statement["Action"]:
            assert action == "kms:GenerateDataKey*" or "*" not in action, action
            assert not action.startswith(ADMIN_ACTIONS), action


# -- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize("days", [1, 90, 3650])
def test_retention_days_drive_object_lock_and_lifecycle(days: int) -> None:
    run = bootstrap_ok({"objectLockRetentionDays": days})
    assert run.one(OBJECT_LOCK).inputs["rule"]["defaultRetention"] == {"mode": "GOVERNANCE", "days": days}
    assert run.one(LIFECYCLE).inputs["rules"][0]["noncurrentVersionExpiration"] == {"noncurrentDays": days}


def test_retention_defaults_to_30_days() -> None:
    run = bootstrap_ok({"objectLockRetentionDays": harness.DELETE})
    assert run.one(OBJECT_LOCK).inputs["rule"]["defaultRetention"]["days"] == 30


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0, "0"), (3651, "3651"), (-5, "-5"), ("thirty", '"thirty"'), (1.5, "1.5"), (True, "true")],
)
def test_retention_days_out_of_range_is_a_clean_config_error(value: Any, shown: str) -> None:
    report = bootstrap_error({"objectLockRetentionDays": value})
    assert report.startswith("stack 'shared' has 1 configuration problem:")
    assert f"{P}objectLockRetentionDays = {shown}: must be a whole number of days from 1 to 3650" in report
    assert DAYS_FIX in report


def test_region_comes_from_stack_config() -> None:
    run = bootstrap_ok({"aws:region": "eu-central-1"})
    assert run.one(AWS_PROVIDER).inputs["region"] == "eu-central-1"
    assert run.outputs["backend_url"] == f"s3://{BUCKET}?region=eu-central-1&awssdk=v2"
    assert run.outputs["secrets_provider"] == f"awskms://{ALIAS}?region=eu-central-1"


def test_region_is_required() -> None:
    report = bootstrap_error({"aws:region": harness.DELETE})
    assert "aws:region = (not set): is required" in report
    assert "fix: pulumi config set aws:region us-east-1 --stack shared" in report


def test_bucket_name_is_configurable_and_validated() -> None:
    run = bootstrap_ok({"bucketName": "acme-pulumi-state"})
    assert run.one(S3_BUCKET).inputs["bucket"] == "acme-pulumi-state"
    assert run.outputs["backend_url"].startswith("s3://acme-pulumi-state?")
    report = bootstrap_error({"bucketName": "Salla.State"})
    assert f'{P}bucketName = "Salla.State": must be 3-63 lowercase letters, digits and hyphens' in report


def test_bucket_name_defaults() -> None:
    assert bootstrap_ok({"bucketName": harness.DELETE}).outputs["bucket_name"] == BUCKET


def test_tags_cannot_override_standard_tags() -> None:
    report = bootstrap_error({"tags": {"environment": "prod"}})
    assert f"{P}tags.environment = \"prod\": is a standard tag set by the program ('shared')" in report


def test_unknown_keys_and_every_problem_reported_together() -> None:
    report = bootstrap_error({"retentionDays": 30, "objectLockRetentionDays": 0, "tags": ["x"]})
    assert report.startswith("stack 'shared' has 3 configuration problems:")
    assert f"{P}retentionDays = " in report and "is not a setting this program reads" in report
    assert f"{P}objectLockRetentionDays = 0" in report
    assert f"{P}tags = ['x']: must be a map" in report


# -- project files -------------------------------------------------------------------------------


def test_project_uses_a_local_backend_and_its_own_venv() -> None:
    project = yaml.safe_load((BOOTSTRAP / "Pulumi.yaml").read_text())
    assert project["name"] == PROJECT
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}
    assert "backend" not in project  # its state cannot live in the bucket it creates
    pins = (BOOTSTRAP / "requirements.txt").read_text().split()
    assert {"pulumi==3.272.0", "pulumi-aws==7.51.1"} <= set(pins)


def test_stack_file_region_and_no_default_provider() -> None:
    config = harness.read_stack_config(STACK, BOOTSTRAP / f"Pulumi.{STACK}.yaml")
    assert config["aws:region"] == "us-east-1"
    assert config["pulumi:disable-default-providers"] == ["aws"]
    assert config[f"{P}bucketName"] == BUCKET


def test_bootstrap_secrets_are_not_needed() -> None:
    # The harness injects the main project's placeholder secrets; the bootstrap must ignore them.
    run = bootstrap_ok()
    assert all(not r.secret_inputs for r in run.resources)
