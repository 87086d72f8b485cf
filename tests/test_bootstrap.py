"""bootstrap/: the state bucket and its KMS keys, the real program run under the mock harness."""

from __future__ import annotations

import ast
import importlib
import json
import re
import subprocess
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pulumi
import pytest
import yaml

from tests.helpers import shared_run
from tools import harness
from tools.harness import KMS_ALIAS, KMS_KEY, S3_BUCKET, ProgramRun

BOOTSTRAP = harness.ROOT / "bootstrap"
PROGRAM = BOOTSTRAP / "__main__.py"
PROJECT = "salla-analytics-bootstrap"
MAIN_PROJECT = "salla-analytics-infra"
STACK = "shared"
P = f"{PROJECT}:"
BUCKET = "salla-analytics-pulumi-state"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
ALIAS = "alias/salla-analytics-pulumi"  # the state-bucket key
STACKS = ("dev", "prod")
BUCKET_KEY = "state-key"

AWS_PROVIDER = "pulumi:providers:aws"
COMPONENT = "salla:bootstrap:StateBackend"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
PUBLIC_ACCESS = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
OBJECT_LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"

OUTPUTS = {
    "backend_url",
    "bucket_name",
    "bucket_key_arn",
    "bucket_key_alias",
    "stack_key_arns",
    "secrets_providers",
    "iam_policies",
}
DAYS_FIX = f"fix: pulumi config set {P}objectLockRetentionDays 30 --stack shared"
# The main program's top-level packages: bootstrap's modules must not shadow them on sys.path.
MAIN_PACKAGES = {"settings", "components", "stack", "tools", "clickhouse_sql", "policy", "tests"}


def run_bootstrap(overrides: dict[str, Any] | None = None) -> ProgramRun:
    return harness.run_program(STACK, overrides, program=PROGRAM, project=PROJECT)


def bootstrap_ok(overrides: dict[str, Any] | None = None) -> ProgramRun:
    run = shared_run(STACK, overrides, program=PROGRAM, project=PROJECT)
    assert run.error is None, run.error
    return run


def bootstrap_error(overrides: dict[str, Any]) -> str:
    run = run_bootstrap(overrides)
    assert run.error is not None, "expected the config to be rejected"
    assert not run.resources, "no resource may be registered when the config is invalid"
    assert "Traceback" not in run.error
    return run.error


@pytest.fixture(scope="module")
def shared() -> ProgramRun:
    return bootstrap_ok()


def named(run: ProgramRun, name: str) -> harness.Registration:
    (found,) = [r for r in run.resources if r.name == name]
    return found


def key_arn(run: ProgramRun, name: str = BUCKET_KEY) -> str:
    arn = named(run, name).state["arn"]
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
            KMS_KEY: 1 + len(STACKS),  # the state-bucket key and one key per stack
            KMS_ALIAS: 1 + len(STACKS),
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


def test_existing_bucket_key_keeps_its_logical_names(shared: ProgramRun) -> None:
    # Renaming them would replace the protected key (refused) and move the alias.
    assert named(shared, "state-key").type == KMS_KEY
    assert named(shared, "state-key-alias").inputs["name"] == ALIAS


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


def test_sse_kms_with_the_bucket_key_and_an_s3_bucket_key(shared: ProgramRun) -> None:
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


def test_bucket_kms_key(shared: ProgramRun) -> None:
    key = named(shared, BUCKET_KEY)
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == 30
    assert "salla-analytics-infra" in key.inputs["description"]
    assert "S3 SSE-KMS" in key.inputs["description"]
    assert key.protect


def test_bucket_key_alias_targets_the_bucket_key(shared: ProgramRun) -> None:
    alias = named(shared, "state-key-alias")
    assert alias.inputs == {"name": ALIAS, "targetKeyId": named(shared, BUCKET_KEY).id}


@pytest.mark.parametrize("stack", STACKS)
def test_one_rotating_protected_key_per_stack(shared: ProgramRun, stack: str) -> None:
    key = named(shared, f"state-stack-key-{stack}")
    assert key.type == KMS_KEY
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == 30
    assert key.inputs["description"] == f"Pulumi secrets provider (awskms) of {MAIN_PROJECT} stack {stack}"
    assert key.protect
    alias = named(shared, f"state-stack-key-{stack}-alias")
    assert alias.inputs == {"name": f"{ALIAS}-{stack}", "targetKeyId": key.id}


def test_every_key_is_distinct(shared: ProgramRun) -> None:
    arns = [r.state["arn"] for r in shared.of_type(KMS_KEY)]
    assert len(set(arns)) == len(arns) == 1 + len(STACKS)
    targets = [r.inputs["targetKeyId"] for r in shared.of_type(KMS_ALIAS)]
    assert len(set(targets)) == len(targets)


def test_only_the_bucket_and_the_keys_are_protected(shared: ProgramRun) -> None:
    assert sorted(r.type for r in shared.resources if r.protect) == sorted(
        [S3_BUCKET, *[KMS_KEY] * (1 + len(STACKS))]
    )


# -- outputs -------------------------------------------------------------------------------------


def test_outputs(shared: ProgramRun) -> None:
    assert set(shared.outputs) == OUTPUTS
    assert not shared.secret_outputs
    assert shared.outputs["backend_url"] == f"s3://{BUCKET}?region=us-east-1&awssdk=v2"
    assert shared.outputs["bucket_name"] == BUCKET
    assert shared.outputs["bucket_key_arn"] == key_arn(shared)
    assert shared.outputs["bucket_key_alias"] == ALIAS
    assert shared.outputs["stack_key_arns"] == {s: key_arn(shared, f"state-stack-key-{s}") for s in STACKS}


def test_secrets_providers_are_the_stack_keys(shared: ProgramRun) -> None:
    assert shared.outputs["secrets_providers"] == {
        "dev": "awskms://alias/salla-analytics-pulumi-dev?region=us-east-1",
        "prod": "awskms://alias/salla-analytics-pulumi-prod?region=us-east-1",
    }


def test_main_project_backend_is_the_bootstrapped_bucket(shared: ProgramRun) -> None:
    main = yaml.safe_load((harness.ROOT / "Pulumi.yaml").read_text())
    assert main["backend"]["url"] == shared.outputs["backend_url"]


def test_default_stacks_are_the_main_projects_stack_files() -> None:
    committed = sorted(p.name.split(".")[1] for p in harness.ROOT.glob("Pulumi.*.yaml"))
    assert committed == sorted(STACKS)
    config = harness.read_stack_config(STACK, BOOTSTRAP / f"Pulumi.{STACK}.yaml")
    assert config[f"{P}stacks"] == list(STACKS)
    assert bootstrap_ok({"stacks": harness.DELETE}).outputs["secrets_providers"].keys() == set(STACKS)


def test_iam_policies_cover_every_stack_and_purpose(shared: ProgramRun) -> None:
    documents = shared.outputs["iam_policies"]
    assert set(documents) == {"deploy-dev", "preview-dev", "deploy-prod", "preview-prod", "preview-bootstrap"}
    for name, raw in documents.items():
        assert isinstance(raw, str), name
        assert json.loads(raw)["Version"] == "2012-10-17", name
        # Customer-managed policies are limited to 6,144 characters (whitespace not counted).
        assert len(re.sub(r"\s", "", raw)) < 6144, name


def test_stacks_are_configurable() -> None:
    run = bootstrap_ok({"stacks": ["dev", "staging", "prod"]})
    assert len(run.of_type(KMS_KEY)) == 4
    assert set(run.outputs["secrets_providers"]) == {"dev", "staging", "prod"}
    assert set(run.outputs["iam_policies"]) == {
        f"{p}-{s}" for p in ("deploy", "preview") for s in run.outputs["secrets_providers"]
    } | {"preview-bootstrap"}
    assert named(run, "state-stack-key-staging-alias").inputs["name"] == f"{ALIAS}-staging"


# -- IAM policy documents: an evaluator, and allowed/denied requests ------------------------------
#
# A deliberately small model of IAM evaluation for the documents this program writes: an explicit
# Deny wins, otherwise a matching Allow grants. `*`/`?` wildcards in Action (case-insensitive) and
# Resource, and the condition operators StringEquals, StringLike and Bool (with ...IfExists): a
# condition on a key the request does not carry fails. Anything else makes the test fail loudly.

Context = Mapping[str, str]
CONDITION_OPERATORS = ("StringEquals", "StringLike", "Bool")


def _wildcard(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{regex}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _condition_holds(condition: Mapping[str, Mapping[str, Any]], context: Context) -> bool:
    for operator, tests in condition.items():
        base = operator.removesuffix("IfExists")
        assert base in CONDITION_OPERATORS, f"the test evaluator does not know {operator}"
        for key, expected in tests.items():
            actual = context.get(key)
            if actual is None:
                if operator.endswith("IfExists"):
                    continue
                return False
            values = [str(v) for v in _as_list(expected)]
            if base == "StringEquals":
                ok = actual in values
            elif base == "StringLike":
                ok = any(_wildcard(v).match(actual) for v in values)
            else:
                ok = actual.lower() in (v.lower() for v in values)
            if not ok:
                return False
    return True


def _statement_matches(statement: Mapping[str, Any], action: str, resource: str, context: Context) -> bool:
    for unsupported in ("NotAction", "NotResource", "Principal", "NotPrincipal"):
        assert unsupported not in statement, f"identity policies here use no {unsupported}"
    for operator in statement.get("Condition", {}):
        assert operator.removesuffix("IfExists") in CONDITION_OPERATORS, (
            f"the test evaluator does not know {operator}"
        )
    return (
        any(_wildcard(a, ignore_case=True).match(action) for a in _as_list(statement["Action"]))
        and any(_wildcard(r).match(resource) for r in _as_list(statement["Resource"]))
        and _condition_holds(statement.get("Condition", {}), context)
    )


def allowed(document: Mapping[str, Any], action: str, resource: str, context: Context | None = None) -> bool:
    matching = [s for s in document["Statement"] if _statement_matches(s, action, resource, context or {})]
    return not any(s["Effect"] == "Deny" for s in matching) and any(s["Effect"] == "Allow" for s in matching)


def test_the_evaluator_itself() -> None:
    listing: dict[str, Any] = {
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": "arn:aws:s3:::b",
        "Condition": {"StringLike": {"s3:prefix": ["a/*"]}},
    }
    doc = {
        "Statement": [
            {"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/a/*"},
            {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/a/secret"},
            listing,
            {
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": "k",
                "Condition": {"StringEqualsIfExists": {"kms:ViaService": "s3.x.amazonaws.com"}},
            },
        ]
    }
    assert allowed(doc, "S3:GETOBJECT", "arn:aws:s3:::b/a/x/y")  # actions are case-insensitive
    assert not allowed(doc, "s3:GetObject", "arn:aws:s3:::b/A/x")  # resources are not
    assert not allowed(doc, "s3:GetObject", "arn:aws:s3:::b/a/secret")  # explicit deny wins
    assert not allowed(doc, "s3:PutObject", "arn:aws:s3:::b/a/x")
    assert allowed(doc, "s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "a/"})
    assert not allowed(doc, "s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": "b/"})
    assert not allowed(doc, "s3:ListBucket", "arn:aws:s3:::b")  # no prefix: the condition fails
    assert allowed(doc, "kms:Decrypt", "k") and allowed(
        doc, "kms:Decrypt", "k", {"kms:ViaService": "s3.x.amazonaws.com"}
    )
    assert not allowed(doc, "kms:Decrypt", "k", {"kms:ViaService": "sqs.x.amazonaws.com"})
    with pytest.raises(AssertionError, match="does not know"):
        allowed(
            {"Statement": [{**listing, "Condition": {"ArnLike": {}}}]},
            "s3:ListBucket",
            BUCKET_ARN,
        )


NS = "1700000000000000000"
LOCK_ID = "0b6e2f4c-5d1a-4b7e-9c3f-2a8d6e1f0b7a"
VIA_S3 = {"kms:ViaService": "s3.us-east-1.amazonaws.com", "kms:EncryptionContext:aws:s3:arn": BUCKET_ARN}
OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")
KEY_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:ReEncryptFrom")
# Actions that would let a CI role weaken the backend itself, or destroy state history.
ADMIN_ACTIONS = (
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutObjectRetention",
    "s3:PutObjectLegalHold",
    "s3:BypassGovernanceRetention",
    "s3:DeleteObjectVersion",
    "s3:PutBucketVersioning",
    "s3:PutEncryptionConfiguration",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketAcl",
    "s3:PutObjectAcl",
    "s3:DeleteBucket",
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:CreateGrant",
    "kms:UpdateAlias",
    "kms:DeleteAlias",
    "kms:ReEncryptTo",
)


def stack_objects(stack: str, project: str = MAIN_PROJECT) -> dict[str, list[str]]:
    """Object keys the CLI reads and writes for one stack, by kind (pulumi pkg/backend/diy)."""
    state = f".pulumi/stacks/{project}/{stack}"
    history = f".pulumi/history/{project}/{stack}"
    journal = f".pulumi/journal/{project}/{stack}"
    return {
        "state": [
            *(f"{state}{ext}" for ext in (".json", ".json.gz", ".json.zst")),
            *(f"{state}{ext}.bak" for ext in (".json", ".json.gz", ".json.zst")),
            f"{state}.json.{NS}",  # PULUMI_RETAIN_CHECKPOINTS
            f"{state}.pulumi-tags",
        ],
        "history": [f"{history}/{stack}-{NS}.history.json", f"{history}/{stack}-{NS}.checkpoint.json.gz"],
        "backups": [f".pulumi/backups/{project}/{stack}/{stack}.{NS}.json"],
        "journal": [f"{journal}/manifest.json", f"{journal}/0000000001.journal.json"],
        "locks": [f".pulumi/locks/organization/{project}/{stack}/{LOCK_ID}.json"],
    }


def stack_list_prefixes(stack: str, project: str = MAIN_PROJECT) -> dict[str, list[str]]:
    """The `prefix` of every ListObjectsV2 the CLI sends for one stack (and S3's 404 check)."""
    return {
        # stackPath() lists `<stack>.json` to find the compression variant; a missing tags file is a
        # 404 only if ListBucket is allowed with the object key as prefix.
        "state": [f".pulumi/stacks/{project}/{stack}.json", f".pulumi/stacks/{project}/{stack}.pulumi-tags"],
        "locks": [f".pulumi/locks/organization/{project}/{stack}/"],
        "history": [f".pulumi/history/{project}/{stack}/"],
        "backups": [f".pulumi/backups/{project}/{stack}/"],
        "journal": [f".pulumi/journal/{project}/{stack}/"],
    }


def obj(key: str) -> str:
    return f"{BUCKET_ARN}/{key}"


def flat(by_kind: Mapping[str, list[str]], *kinds: str) -> list[str]:
    return [item for kind in kinds or by_kind for item in by_kind[kind]]


def document(run: ProgramRun, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(run.outputs["iam_policies"][name])
    return doc


def other(stack: str) -> str:
    return next(s for s in STACKS if s != stack)


@pytest.mark.parametrize("stack", STACKS)
def test_deploy_policy_allows_the_stacks_whole_lifecycle(shared: ProgramRun, stack: str) -> None:
    doc = document(shared, f"deploy-{stack}")
    for key in flat(stack_objects(stack)):
        for action in OBJECT_ACTIONS:
            assert allowed(doc, action, obj(key)), (action, key)
    for prefix in flat(stack_list_prefixes(stack)):
        assert allowed(doc, "s3:ListBucket", BUCKET_ARN, {"s3:prefix": prefix}), prefix
    assert allowed(doc, "s3:GetObject", obj(".pulumi/meta.yaml"))
    own_key = shared.outputs["stack_key_arns"][stack]
    assert allowed(doc, "kms:Encrypt", own_key)  # stack init / change-secrets-provider wraps the data key
    assert allowed(doc, "kms:Decrypt", own_key)  # every run unwraps it
    for action in ("kms:Decrypt", "kms:GenerateDataKey"):  # SSE-KMS reads and writes
        assert allowed(doc, action, key_arn(shared), VIA_S3), action


@pytest.mark.parametrize("stack", STACKS)
def test_deploy_policy_grants_nothing_on_another_stack(shared: ProgramRun, stack: str) -> None:
    doc, foreign = document(shared, f"deploy-{stack}"), other(stack)
    actions = {*OBJECT_ACTIONS, *KEY_ACTIONS, *ADMIN_ACTIONS, "s3:ListBucket", "s3:GetObjectVersion"}
    for key in flat(stack_objects(foreign)):
        for action in actions:
            for context in ({}, VIA_S3):
                assert not allowed(doc, action, obj(key), context), (action, key)
    for prefix in flat(stack_list_prefixes(foreign)):
        assert not allowed(doc, "s3:ListBucket", BUCKET_ARN, {"s3:prefix": prefix}), prefix
    foreign_key = shared.outputs["stack_key_arns"][foreign]
    for action in (*KEY_ACTIONS, *ADMIN_ACTIONS):
        for context in ({}, VIA_S3):
            assert not allowed(doc, action, foreign_key, context), action


@pytest.mark.parametrize("stack", STACKS)
def test_preview_policy_reads_state_and_writes_nothing(shared: ProgramRun, stack: str) -> None:
    """A DIY-backend preview takes no lock (pulumi/pulumi pkg/backend/diy: Preview never calls
    Lock), so the preview role writes nothing: PR code cannot plant a lock that blocks deploys."""
    doc, objects = document(shared, f"preview-{stack}"), stack_objects(stack)
    for key in flat(objects, "state", "locks"):
        assert allowed(doc, "s3:GetObject", obj(key)), key
    for key in flat(objects):
        for action in ("s3:PutObject", "s3:DeleteObject"):
            assert not allowed(doc, action, obj(key)), (action, key)
    for key in flat(objects, "history", "backups", "journal"):
        assert not allowed(doc, "s3:GetObject", obj(key)), key
    prefixes = stack_list_prefixes(stack)
    for prefix in flat(prefixes, "state", "locks"):
        assert allowed(doc, "s3:ListBucket", BUCKET_ARN, {"s3:prefix": prefix}), prefix
    for prefix in flat(prefixes, "history", "backups", "journal"):
        assert not allowed(doc, "s3:ListBucket", BUCKET_ARN, {"s3:prefix": prefix}), prefix
    assert allowed(doc, "s3:GetObject", obj(".pulumi/meta.yaml"))
    own_key = shared.outputs["stack_key_arns"][stack]
    assert allowed(doc, "kms:Decrypt", own_key)
    for action in (
        "kms:Encrypt",
        "kms:GenerateDataKey",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:ReEncryptTo",
    ):
        for context in ({}, VIA_S3):
            assert not allowed(doc, action, own_key, context), action
    # The bucket key serves reads only: no object can be written with it.
    assert allowed(doc, "kms:Decrypt", key_arn(shared), VIA_S3)
    assert not allowed(doc, "kms:GenerateDataKey", key_arn(shared), VIA_S3)
    # The deploy role still writes, and locks.
    deploy = document(shared, f"deploy-{stack}")
    for key in objects["locks"]:
        assert allowed(deploy, "s3:PutObject", obj(key)) and allowed(deploy, "s3:DeleteObject", obj(key))
    assert allowed(deploy, "kms:GenerateDataKey", key_arn(shared), VIA_S3)


@pytest.mark.parametrize("stack", STACKS)
def test_preview_policy_grants_nothing_on_another_stack(shared: ProgramRun, stack: str) -> None:
    doc, foreign = document(shared, f"preview-{stack}"), other(stack)
    for key in flat(stack_objects(foreign)):
        for action in (*OBJECT_ACTIONS, *ADMIN_ACTIONS):
            assert not allowed(doc, action, obj(key)), (action, key)
    for prefix in flat(stack_list_prefixes(foreign)):
        assert not allowed(doc, "s3:ListBucket", BUCKET_ARN, {"s3:prefix": prefix}), prefix
    for action in KEY_ACTIONS:
        assert not allowed(doc, action, shared.outputs["stack_key_arns"][foreign]), action


@pytest.mark.parametrize("name", ["deploy-dev", "preview-dev", "deploy-prod", "preview-prod"])
def test_no_policy_reaches_neighbouring_names_or_other_projects(shared: ProgramRun, name: str) -> None:
    doc, stack = document(shared, name), name.split("-", 1)[1]
    neighbours = {
        **stack_objects(f"{stack}-eu"),  # a stack whose name starts with this one's
        "other-project": flat(stack_objects(stack, "another-project")),
        "bootstrap": flat(stack_objects(STACK, PROJECT)),  # the bootstrap stack's own state
        "root": [".pulumi/meta.yaml.bak", "x.json", f".pulumi/stacks/{MAIN_PROJECT}/{stack}/x.json"],
    }
    for key in flat(neighbours):
        for action in ("s3:PutObject", "s3:DeleteObject", "s3:GetObject"):
            assert not allowed(doc, action, obj(key)), (action, key)
    assert not allowed(doc, "s3:PutObject", obj(".pulumi/meta.yaml"))
    for prefix in flat(stack_list_prefixes(f"{stack}-eu")):
        assert not allowed(doc, "s3:ListBucket", BUCKET_ARN, {"s3:prefix": prefix}), prefix


@pytest.mark.parametrize("name", ["deploy-dev", "preview-dev", "deploy-prod", "preview-prod"])
def test_listing_is_scoped_to_the_stacks_prefixes(shared: ProgramRun, name: str) -> None:
    doc = document(shared, name)
    # No unscoped listing: not the whole bucket, not every project's stacks (what `pulumi stack ls`
    # and the legacy-layout warning list; the CLI tolerates the denial of the latter).
    assert not allowed(doc, "s3:ListBucket", BUCKET_ARN)
    for prefix in ("", ".pulumi/", ".pulumi/stacks/", f".pulumi/stacks/{MAIN_PROJECT}/", ".pulumi/locks/"):
        assert not allowed(doc, "s3:ListBucket", BUCKET_ARN, {"s3:prefix": prefix}), prefix
    assert not allowed(doc, "s3:ListBucketVersions", BUCKET_ARN)


@pytest.mark.parametrize("name", ["deploy-dev", "preview-dev", "deploy-prod", "preview-prod"])
def test_bucket_key_only_through_s3_for_this_bucket(shared: ProgramRun, name: str) -> None:
    doc, bucket_key = document(shared, name), key_arn(shared)
    # Deploys read and write objects; previews only read them.
    actions = ("kms:Decrypt", "kms:GenerateDataKey") if name.startswith("deploy") else ("kms:Decrypt",)
    for action in actions:
        assert allowed(doc, action, bucket_key, VIA_S3), action
        assert not allowed(doc, action, bucket_key), action  # directly: no
        for via in (
            "s3.eu-west-1.amazonaws.com",
            "sqs.us-east-1.amazonaws.com",
            "lambda.us-east-1.amazonaws.com",
        ):
            assert not allowed(doc, action, bucket_key, {**VIA_S3, "kms:ViaService": via}), via
        other_bucket = {**VIA_S3, "kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::someone-elses-bucket"}
        assert not allowed(doc, action, bucket_key, other_bucket)
    for action in ("kms:Encrypt", "kms:ReEncryptFrom", "kms:DescribeKey", *ADMIN_ACTIONS):
        assert not allowed(doc, action, bucket_key, VIA_S3), action


@pytest.mark.parametrize("name", ["deploy-dev", "preview-dev", "deploy-prod", "preview-prod"])
def test_no_wildcard_or_admin_action(shared: ProgramRun, name: str) -> None:
    doc = document(shared, name)
    resources: set[str] = set()
    for statement in doc["Statement"]:
        assert statement["Effect"] == "Allow"
        assert re.fullmatch(r"[A-Za-z0-9]+", statement["Sid"])  # IAM's Sid alphabet
        for action in _as_list(statement["Action"]):
            assert re.fullmatch(r"(s3|kms):[A-Za-z]+", action), action  # no `s3:*`, `kms:*`, `kms:Generate*`
        resources.update(_as_list(statement["Resource"]))
    for action in ADMIN_ACTIONS:
        for resource in resources:
            for context in ({}, VIA_S3, {"s3:prefix": ".pulumi/"}):
                assert not allowed(doc, action, resource.replace("*", "x"), context), (action, resource)


@pytest.mark.parametrize("name", ["deploy-dev", "preview-dev", "deploy-prod", "preview-prod"])
def test_every_resource_is_the_bucket_a_stack_prefix_or_a_key(shared: ProgramRun, name: str) -> None:
    purpose, stack = name.split("-", 1)
    prefixes = {
        "state": f".pulumi/stacks/{MAIN_PROJECT}/{stack}.*",
        "history": f".pulumi/history/{MAIN_PROJECT}/{stack}/*",
        "backups": f".pulumi/backups/{MAIN_PROJECT}/{stack}/*",
        "journal": f".pulumi/journal/{MAIN_PROJECT}/{stack}/*",
        "locks": f".pulumi/locks/organization/{MAIN_PROJECT}/{stack}/*",
    }
    kinds = list(prefixes) if purpose == "deploy" else ["state", "locks"]
    expected = {
        BUCKET_ARN,
        obj(".pulumi/meta.yaml"),
        key_arn(shared),
        shared.outputs["stack_key_arns"][stack],
        *(obj(prefixes[k]) for k in kinds),
    }
    doc = document(shared, name)
    found = {r for s in doc["Statement"] for r in _as_list(s["Resource"])}
    assert found == expected
    (listing,) = [s for s in doc["Statement"] if _as_list(s["Action"]) == ["s3:ListBucket"]]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": [prefixes[k] for k in kinds]}}


def test_policies_use_the_main_projects_name_and_the_region() -> None:
    main = yaml.safe_load((harness.ROOT / "Pulumi.yaml").read_text())
    assert main["name"] == MAIN_PROJECT
    run = bootstrap_ok({"aws:region": "eu-central-1"})
    doc = document(run, "deploy-prod")
    via = {**VIA_S3, "kms:ViaService": "s3.eu-central-1.amazonaws.com"}
    assert allowed(doc, "kms:GenerateDataKey", run.outputs["bucket_key_arn"], via)
    assert not allowed(doc, "kms:GenerateDataKey", run.outputs["bucket_key_arn"], VIA_S3)  # us-east-1


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
    assert run.outputs["secrets_providers"]["prod"] == f"awskms://{ALIAS}-prod?region=eu-central-1"


def test_region_is_required() -> None:
    report = bootstrap_error({"aws:region": harness.DELETE})
    assert "aws:region = (not set): is required" in report
    assert "fix: pulumi config set aws:region us-east-1 --stack shared" in report


def test_bucket_name_is_configurable_and_validated() -> None:
    run = bootstrap_ok({"bucketName": "acme-pulumi-state"})
    assert run.one(S3_BUCKET).inputs["bucket"] == "acme-pulumi-state"
    assert run.outputs["backend_url"].startswith("s3://acme-pulumi-state?")
    assert '"arn:aws:s3:::acme-pulumi-state/.pulumi/meta.yaml"' in run.outputs["iam_policies"]["preview-dev"]
    report = bootstrap_error({"bucketName": "Salla.State"})
    assert f'{P}bucketName = "Salla.State": must be 3-63 lowercase letters, digits and hyphens' in report


def test_bucket_name_defaults() -> None:
    assert bootstrap_ok({"bucketName": harness.DELETE}).outputs["bucket_name"] == BUCKET


@pytest.mark.parametrize(
    ("value", "line"),
    [
        ("dev", f'{P}stacks = "dev": must be a non-empty list of the main project\'s stack names'),
        ([], f"{P}stacks = []: must be a non-empty list"),
        (["dev", "Prod"], f'{P}stacks[1] = "Prod": must be a stack name: a lowercase letter, then'),
        (["dev.eu"], f'{P}stacks[0] = "dev.eu": must be a stack name'),
        (["dev", 7], f"{P}stacks[1] = 7: must be a stack name"),
        (["9lives"], f'{P}stacks[0] = "9lives": must be a stack name'),
        (["dev", "prod", "dev"], f'{P}stacks[2] = "dev": repeats stacks[0]'),
    ],
)
def test_stacks_are_validated(value: Any, line: str) -> None:
    report = bootstrap_error({"stacks": value})
    assert report.startswith("stack 'shared' has 1 configuration problem:")
    assert line in report


def test_stack_name_problems_name_the_fix() -> None:
    report = bootstrap_error({"stacks": ["dev", "Prod"]})
    assert "fix: pulumi config set --path 'stacks[1]' <stack> --stack shared" in report


def test_tags_cannot_override_standard_tags() -> None:
    report = bootstrap_error({"tags": {"environment": "prod"}})
    assert f"{P}tags.environment = \"prod\": is a standard tag set by the program ('shared')" in report
    assert "fix: remove tags.environment from the stack config" in report


@pytest.mark.parametrize(
    ("tags", "key"),
    [({"aws:owner": "x"}, "aws:owner"), ({"owner": "x" * 257}, "owner"), ({"k" * 129: "x"}, "k" * 129)],
)
def test_tags_respect_aws_limits(tags: dict[str, str], key: str) -> None:
    report = bootstrap_error({"tags": tags})
    assert f"{P}tags.{key} = " in report
    assert "(key up to 128, value up to 256 characters, no 'aws:' prefix)" in report


def test_unknown_keys_and_every_problem_reported_together() -> None:
    report = bootstrap_error(
        {"retentionDays": 30, "objectLockRetentionDays": 0, "tags": ["x"], "stacks": ["dev", "dev"]}
    )
    assert report.startswith("stack 'shared' has 4 configuration problems:")
    assert f"{P}retentionDays = " in report and "is not a setting this program reads" in report
    assert f"{P}objectLockRetentionDays = 0" in report
    assert f"{P}tags = ['x']: must be a map" in report
    assert f'{P}stacks[1] = "dev": repeats stacks[0]' in report
    # Every problem: "  - <key> = <value>: <rule>" then "      fix: <fix>".
    lines = report.splitlines()[1:]
    assert len(lines) == 8
    assert all(line.startswith("  - ") for line in lines[::2])
    assert all(line.startswith("      fix: ") for line in lines[1::2])


def test_config_errors_are_run_errors() -> None:
    bootstrap_error({"stacks": []})  # the harness has put bootstrap/ on sys.path
    module = importlib.import_module("bootstrap_config")
    assert issubclass(module.BootstrapConfigError, pulumi.RunError)


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


def _imports(path: Any) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_bootstrap_is_self_contained() -> None:
    modules = {p.stem for p in BOOTSTRAP.glob("*.py")} - {"__main__"}
    assert modules == {"bootstrap_access", "bootstrap_config", "state_backend"}
    assert not modules & MAIN_PACKAGES  # nothing shadows the main program's packages on sys.path
    allowed_imports = {
        "__future__",
        "collections",
        "dataclasses",
        "json",
        "re",
        "typing",
        "pulumi",
        "pulumi_aws",
    }
    for path in BOOTSTRAP.glob("*.py"):
        assert "sys" not in _imports(path), path.name  # no sys.path tricks
        # `bootstrap` only under TYPE_CHECKING (mypy's name for the same files).
        assert _imports(path) <= allowed_imports | modules | {"bootstrap"}, path.name


def test_bootstrap_preview_reads_only_its_own_state_and_no_stack_key(shared: ProgramRun) -> None:
    doc = document(shared, "preview-bootstrap")
    own = stack_objects(STACK, PROJECT)
    for key in own["state"]:
        assert allowed(doc, "s3:GetObject", obj(key)), key
        assert not allowed(doc, "s3:PutObject", obj(key)), key
    for stack in STACKS:  # nothing of the main project's stacks, and none of their keys
        for key in flat(stack_objects(stack)):
            for action in OBJECT_ACTIONS:
                assert not allowed(doc, action, obj(key)), (action, key)
        for action in KEY_ACTIONS:
            assert not allowed(doc, action, shared.outputs["stack_key_arns"][stack]), action
    bucket_key = key_arn(shared, BUCKET_KEY)
    assert allowed(doc, "kms:Decrypt", bucket_key, VIA_S3)
    assert not allowed(doc, "kms:Decrypt", bucket_key)  # only through S3


# -- `make bootstrap`: the policy pack and pinned plugins ---------------------------------------
def test_make_bootstrap_applies_with_the_bootstrap_pack_and_pinned_plugins() -> None:
    result = subprocess.run(
        ["make", "-n", "bootstrap", "PULUMI=pulumi", "PYTHON=python3"],
        cwd=harness.ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    script = result.stdout.replace("\\\n", " ")
    commands = [c.strip() for c in re.split(r"&&|\n|;", script) if c.strip()]
    up = [c for c in commands if c.startswith("pulumi up")]
    pack = "--policy-pack ../policy --policy-pack-config ../policy/config/bootstrap.json"
    assert up == [f"pulumi up --stack shared {pack}"]
    assert "--yes" not in script and "--skip-preview" not in script, "the up shows its preview and asks"
    assert "policy/.venv" in script or (harness.ROOT / "policy/.venv/.installed").exists(), "the pack's venv"
    installs = [c for c in commands if "pulumi install" in c or "pulumi_plugins" in c]
    assert installs == [
        "pulumi install --no-plugins",
        "python3 -m tools.pulumi_plugins install --set bootstrap --venv bootstrap/.venv)",
    ]
    assert "(cd .. && python3 -m tools.pulumi_plugins" in script, "run from the repository root"
    assert commands.index(installs[-1]) < commands.index(up[0])
    assert "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true" in script
