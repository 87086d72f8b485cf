"""Least-privilege IAM policy documents for the CI roles, one per stack of the main project and purpose.

Object layout of Pulumi's DIY (S3) backend for project-scoped stacks (`.pulumi/meta.yaml`
version 1), as the CLI reads and writes it (pulumi/pulumi pkg/backend/diy: store.go, state.go,
lock.go, stack_tags.go, journal.go, meta.go):

    .pulumi/meta.yaml                                    state-store version (read at every login)
    .pulumi/stacks/<project>/<stack>.json[.gz|.zst]      the checkpoint; `<file>.bak` the previous one
    .pulumi/stacks/<project>/<stack>.pulumi-tags         stack tags (read by every preview/update)
    .pulumi/history/<project>/<stack>/<stack>-<ns>.{history,checkpoint}.json[.gz|.zst]
    .pulumi/backups/<project>/<stack>/<stack>.<ns>.json[.gz|.zst]
    .pulumi/journal/<project>/<stack>/...                incremental journal (opt-in, transient)
    .pulumi/locks/organization/<project>/<stack>/<uuid>.json

So everything one stack touches lives under five stack-specific prefixes (`<stack>.*` in
stacks/, `<stack>/` in the others). A stack name never contains a dot (bootstrap_config.STACK_NAME),
so `dev.*` cannot reach `prod.json` or `dev-eu.json`.

ListBucket, and why it can be scoped with `s3:prefix`: the CLI lists with a prefix every time
(`<stack>.json` to find the compression variant, `locks/.../<stack>/` around the lock, the history
and backup directories), and never calls HeadBucket (gocloud opens the bucket without one). S3
also needs ListBucket to answer a missing object with 404 instead of 403 (e.g. the optional
`<stack>.pulumi-tags`); it evaluates that with the object key as `s3:prefix`, which the `<stack>.*`
pattern covers. What cannot be allowed without exposing other stacks' names:
  - at every login the CLI lists `.pulumi/stacks/` to warn about legacy (non-project) stack files.
    That listing is denied here; the CLI ignores the error. Set
    PULUMI_DIY_BACKEND_NO_LEGACY_WARNING=1 in CI to skip the call (and the AccessDenied in CloudTrail).
  - `pulumi stack ls` lists `.pulumi/stacks/` as well: not something CI needs.
  - a bucket without `.pulumi/meta.yaml` makes the CLI list `.pulumi/stacks/` to choose a layout
    and then write meta.yaml: initialise the backend once with administrator credentials.

Encryption: the stack's own KMS key wraps the data key of its awskms secrets provider (kms:Encrypt
when `pulumi stack init` / `change-secrets-provider` wraps it, kms:Decrypt on every run). The
state-bucket key is only usable through S3 (`kms:ViaService`) for this bucket (with an S3 Bucket
Key, the encryption context is the bucket ARN): GenerateDataKey to write SSE-KMS objects, Decrypt
to read them. It protects nothing per stack; the S3 grants above do.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# The project whose stacks live in the bucket (`name:` in ../Pulumi.yaml).
MAIN_PROJECT = "salla-analytics-infra"
# This project and its only stack, once migrated into the bucket (docs/state-backend.md). It keeps
# the passphrase secrets provider with an empty passphrase (it holds no secrets), so previewing
# it needs no KMS key but the bucket key through S3.
BOOTSTRAP_PROJECT, BOOTSTRAP_STACK = "salla-analytics-bootstrap", "shared"
BOOKKEEPING = ".pulumi"
# The DIY backend's organization segment of lock paths is always "organization".
DIY_ORGANIZATION = "organization"
META = f"{BOOKKEEPING}/meta.yaml"

S3_OBJECT_RW = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]


@dataclass(frozen=True)
class StackPaths:
    """The object-key patterns (S3 `*` wildcards) of one stack in the DIY backend."""

    state: str  # checkpoint, its .bak, compressed variants, the tags file
    history: str
    backups: str
    journal: str
    locks: str

    @classmethod
    def of(cls, stack: str, project: str = MAIN_PROJECT) -> StackPaths:
        return cls(
            state=f"{BOOKKEEPING}/stacks/{project}/{stack}.*",
            history=f"{BOOKKEEPING}/history/{project}/{stack}/*",
            backups=f"{BOOKKEEPING}/backups/{project}/{stack}/*",
            journal=f"{BOOKKEEPING}/journal/{project}/{stack}/*",
            locks=f"{BOOKKEEPING}/locks/{DIY_ORGANIZATION}/{project}/{stack}/*",
        )

    def deploy(self) -> list[str]:
        return [self.state, self.history, self.backups, self.journal, self.locks]

    def preview(self) -> list[str]:
        return [self.state, self.locks]


def policy_name(purpose: str, stack: str) -> str:
    return f"{purpose}-{stack}"


def _objects(bucket_arn: str, patterns: Sequence[str]) -> list[str]:
    return [f"{bucket_arn}/{p}" for p in patterns]


def _list(bucket_arn: str, prefixes: Sequence[str]) -> dict[str, Any]:
    return {
        "Sid": "ListStackPrefixes",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": bucket_arn,
        "Condition": {"StringLike": {"s3:prefix": list(prefixes)}},
    }


def _meta(bucket_arn: str) -> dict[str, Any]:
    return {
        "Sid": "ReadBackendMetadata",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": f"{bucket_arn}/{META}",
    }


def _bucket_key(bucket_arn: str, bucket_key_arn: str, region: str, *, write: bool = True) -> dict[str, Any]:
    """The bucket key through S3: Decrypt to read objects, GenerateDataKey to write them."""
    return {
        "Sid": "StateBucketKeyThroughS3",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"] if write else "kms:Decrypt",
        "Resource": bucket_key_arn,
        "Condition": {
            "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
            "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket_arn, f"{bucket_arn}/{BOOKKEEPING}/*"]},
        },
    }


def deploy_policy(
    stack: str, *, bucket_arn: str, bucket_key_arn: str, stack_key_arn: str, region: str, project: str
) -> dict[str, Any]:
    """`pulumi up/refresh/destroy/cancel/stack rm` of one stack: its objects only, its key only."""
    paths = StackPaths.of(stack, project)
    return {
        "Version": "2012-10-17",
        "Statement": [
            _list(bucket_arn, paths.deploy()),
            _meta(bucket_arn),
            {
                "Sid": "StackStateObjects",
                "Effect": "Allow",
                "Action": S3_OBJECT_RW,
                "Resource": _objects(bucket_arn, paths.deploy()),
            },
            {
                "Sid": "StackSecretsKey",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:Encrypt"],
                "Resource": stack_key_arn,
            },
            _bucket_key(bucket_arn, bucket_key_arn, region),
        ],
    }


def preview_policy(
    stack: str, *, bucket_arn: str, bucket_key_arn: str, stack_key_arn: str | None, region: str, project: str
) -> dict[str, Any]:
    """`pulumi preview` (PRs, plan, drift) of one stack: read its state, decrypt its secrets; no write.

    The DIY backend takes no lock for `pulumi preview`, with or without --refresh
    (pulumi/pulumi pkg/backend/diy/backend.go: Preview calls apply directly; Update, Refresh
    (even --preview-only), Destroy and Import call Lock first). So a preview role needs no write
    at all, and pull-request code cannot plant a lock object that blocks the deploys. Reading
    and listing the lock prefix stays (read-only). The workflow runs nothing but `pulumi preview`
    with these roles (tests/test_workflow.py). The bucket key serves reads only (Decrypt through
    S3); the stack key is decrypt-only.
    """
    paths = StackPaths.of(stack, project)
    return {
        "Version": "2012-10-17",
        "Statement": [
            _list(bucket_arn, paths.preview()),
            _meta(bucket_arn),
            {
                "Sid": "ReadStackState",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": _objects(bucket_arn, paths.preview()),
            },
            *(
                [
                    {
                        "Sid": "StackSecretsKey",
                        "Effect": "Allow",
                        "Action": "kms:Decrypt",
                        "Resource": stack_key_arn,
                    }
                ]
                if stack_key_arn
                else []
            ),
            _bucket_key(bucket_arn, bucket_key_arn, region, write=False),
        ],
    }


def policy_documents(
    stacks: Sequence[str],
    *,
    bucket_arn: str,
    bucket_key_arn: str,
    stack_key_arns: Mapping[str, str],
    region: str,
    project: str = MAIN_PROJECT,
) -> dict[str, str]:
    """`deploy-<stack>` and `preview-<stack>` for every stack, as IAM policy JSON."""
    documents: dict[str, str] = {}
    for stack in stacks:
        common: dict[str, Any] = {
            "bucket_arn": bucket_arn,
            "bucket_key_arn": bucket_key_arn,
            "stack_key_arn": stack_key_arns[stack],
            "region": region,
            "project": project,
        }
        documents[policy_name("deploy", stack)] = json.dumps(deploy_policy(stack, **common))
        documents[policy_name("preview", stack)] = json.dumps(preview_policy(stack, **common))
    # The CI job previewing bootstrap/ itself: its state only, no stack key at all.
    documents[policy_name("preview", "bootstrap")] = json.dumps(
        preview_policy(
            BOOTSTRAP_STACK,
            bucket_arn=bucket_arn,
            bucket_key_arn=bucket_key_arn,
            stack_key_arn=None,
            region=region,
            project=BOOTSTRAP_PROJECT,
        )
    )
    return documents
