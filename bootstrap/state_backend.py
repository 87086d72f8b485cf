"""The state backend of salla-analytics-infra: a locked-down S3 bucket and a KMS key.

Pulumi's S3 (DIY) backend keeps everything under `.pulumi/` in the bucket: stack checkpoints
(`.pulumi/stacks/<project>/<stack>.json`), history, backups and the lock objects it writes and
deletes around every update (`.pulumi/locks/...`). There is no DynamoDB table: locking is done
with those objects, so the CI role needs Get/Put/Delete on `.pulumi/*` and List on the bucket.
The KMS key encrypts the bucket (SSE-KMS) and is the `awskms://` secrets provider of every stack.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi.runtime import config as runtime_config

# The main project's config-error format (bootstrap/__main__.py puts the repo root on sys.path).
from settings.errors import ConfigErrors, Problems
from settings.tags import merged_tags

DEFAULT_BUCKET_NAME = "salla-analytics-pulumi-state"
DEFAULT_RETENTION_DAYS = 30
MIN_RETENTION_DAYS, MAX_RETENTION_DAYS = 1, 3650
KMS_ALIAS = "alias/salla-analytics-pulumi"
KMS_DELETION_WINDOW_DAYS = 30
ABORT_MULTIPART_DAYS = 7
STATE_PREFIX = ".pulumi/"
CONFIG_KEYS = ("bucketName", "objectLockRetentionDays", "tags")

# Lowercase letters, digits and hyphens, 3-63 characters. Dots are legal in S3 but break TLS
# for virtual-hosted-style requests (the certificate is *.s3.amazonaws.com), so they are refused.
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
AWS_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


# -- configuration ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BootstrapSettings:
    project: str
    stack: str
    region: str
    bucket_name: str
    object_lock_retention_days: int
    tags: dict[str, str]


def _parsed(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _valid_days(value: Any) -> bool:
    whole = isinstance(value, int) and not isinstance(value, bool)
    return whole and MIN_RETENTION_DAYS <= value <= MAX_RETENTION_DAYS


def _all_keys() -> set[str]:
    return set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())


def load_settings() -> BootstrapSettings:
    """Validate the stack's config; raise a RunError listing every problem."""
    project, stack = pulumi.get_project(), pulumi.get_stack()
    problems = Problems()

    def key(name: str) -> str:
        return f"{project}:{name}"

    def set_hint(name: str, example: str) -> str:
        return f"pulumi config set {name} {example} --stack {stack}"

    for full in sorted(_all_keys()):
        if full.startswith(f"{project}:") and full.split(":", 1)[1] not in CONFIG_KEYS:
            problems.add(
                full,
                runtime_config.get_config(full),
                "is not a setting this program reads",
                "remove it or fix the spelling; known keys: " + ", ".join(CONFIG_KEYS),
            )

    region = runtime_config.get_config("aws:region")
    if region is None or not AWS_REGION.match(region):
        problems.add(
            "aws:region",
            region,
            "is required and must be an AWS region such as us-east-1",
            set_hint("aws:region", "us-east-1"),
        )

    bucket = runtime_config.get_config(key("bucketName"))
    if bucket is None:
        bucket = DEFAULT_BUCKET_NAME
    elif not BUCKET_NAME.match(bucket):
        problems.add(
            key("bucketName"),
            bucket,
            "must be 3-63 lowercase letters, digits and hyphens, starting and ending with a letter or digit",
            set_hint(key("bucketName"), DEFAULT_BUCKET_NAME),
        )

    days_raw = runtime_config.get_config(key("objectLockRetentionDays"))
    days: Any = DEFAULT_RETENTION_DAYS if days_raw is None else _parsed(days_raw)
    if not _valid_days(days):
        problems.add(
            key("objectLockRetentionDays"),
            days,
            f"must be a whole number of days from {MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS}"
            " (Object Lock default retention, also the noncurrent-version expiry)",
            set_hint(key("objectLockRetentionDays"), str(DEFAULT_RETENTION_DAYS)),
        )

    raw_tags = runtime_config.get_config(key("tags"))
    tags = merged_tags(
        None if raw_tags is None else _parsed(raw_tags),
        project=project,
        stack=stack,
        key=key("tags"),
        problems=problems,
        aws_limits=True,
    )
    if problems:
        # RunError: the engine prints the report alone, without a Python stack trace.
        raise pulumi.RunError(ConfigErrors(stack, problems.items).render())
    assert region is not None and isinstance(days, int)  # checked above
    return BootstrapSettings(
        project=project,
        stack=stack,
        region=region,
        bucket_name=bucket,
        object_lock_retention_days=days,
        tags=tags,
    )


# -- the component ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StateBackendArgs:
    bucket_name: str
    region: str
    object_lock_retention_days: int
    kms_alias: str = KMS_ALIAS
    abort_multipart_days: int = ABORT_MULTIPART_DAYS


def tls_only_policy(bucket_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    """Bucket policy: refuse every request that does not use TLS, on the bucket and its objects."""
    return pulumi.Output.json_dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, pulumi.Output.concat(bucket_arn, "/*")],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def ci_policy(bucket_arn: pulumi.Input[str], key_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    """Least privilege for `pulumi preview/up/stack rm` against this backend (attach to the CI role).

    ListBucket has no s3:prefix condition: the CLI checks the bucket with HeadBucket, which
    carries no prefix. Delete is needed to release the update lock (`.pulumi/locks/...`), for
    `pulumi cancel` and `pulumi stack rm`; with versioning it only adds delete markers.
    """
    return pulumi.Output.json_dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "StateBucket",
                    "Effect": "Allow",
                    "Action": ["s3:GetBucketLocation", "s3:GetBucketVersioning", "s3:ListBucket"],
                    "Resource": bucket_arn,
                },
                {
                    "Sid": "StateObjects",
                    "Effect": "Allow",
                    "Action": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
                    "Resource": pulumi.Output.concat(bucket_arn, "/", STATE_PREFIX, "*"),
                },
                {
                    "Sid": "StateKey",
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*"],
                    "Resource": key_arn,
                },
            ],
        }
    )


class StateBackend(pulumi.ComponentResource):
    """Versioned, Object-Locked, SSE-KMS, TLS-only S3 bucket plus the KMS key and its alias."""

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    kms_key_arn: pulumi.Output[str]
    kms_alias_name: pulumi.Output[str]
    ci_policy_json: pulumi.Output[str]
    backend_url: pulumi.Output[str]
    secrets_provider: pulumi.Output[str]

    def __init__(self, name: str, args: StateBackendArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("salla:bootstrap:StateBackend", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Losing the key makes every stack's secrets and the whole bucket unreadable: protected,
        # rotated yearly by AWS, and a 30-day deletion window if it is ever scheduled for deletion.
        key = aws.kms.Key(
            f"{name}-key",
            description="Pulumi state of salla-analytics-infra: S3 SSE-KMS and the awskms secrets provider",
            enable_key_rotation=True,
            deletion_window_in_days=KMS_DELETION_WINDOW_DAYS,
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        alias = aws.kms.Alias(f"{name}-key-alias", name=args.kms_alias, target_key_id=key.key_id, opts=child)
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=args.bucket_name,
            object_lock_enabled=True,  # only possible at creation
            force_destroy=False,
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.bucket,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=bucket.bucket,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.bucket,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.bucket,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms", kms_master_key_id=key.arn
                    ),
                    bucket_key_enabled=True,
                )
            ],
            opts=child,
        )
        # S3 rejects concurrent bucket policy and public access block changes: policy goes second.
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            bucket=bucket.bucket,
            policy=tls_only_policy(bucket.arn),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access]),
        )
        after_versioning = pulumi.ResourceOptions(parent=self, depends_on=[versioning])
        aws.s3.BucketObjectLockConfiguration(
            f"{name}-object-lock",
            bucket=bucket.bucket,
            rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
                default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                    mode="GOVERNANCE", days=args.object_lock_retention_days
                )
            ),
            opts=after_versioning,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.bucket,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="state-versions",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(),  # the whole bucket
                    # Older state versions stay restorable for as long as Object Lock retains them.
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=args.object_lock_retention_days
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=args.abort_multipart_days
                    ),
                    # Released lock objects leave delete markers; drop them once nothing is behind them.
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                        expired_object_delete_marker=True
                    ),
                )
            ],
            opts=after_versioning,
        )

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.kms_key_arn = key.arn
        self.kms_alias_name = alias.name
        self.ci_policy_json = ci_policy(bucket.arn, key.arn)
        self.backend_url = pulumi.Output.concat("s3://", bucket.bucket, "?region=", args.region, "&awssdk=v2")
        self.secrets_provider = pulumi.Output.concat("awskms://", alias.name, "?region=", args.region)
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "kms_key_arn": self.kms_key_arn,
                "kms_alias_name": self.kms_alias_name,
                "ci_policy_json": self.ci_policy_json,
                "backend_url": self.backend_url,
                "secrets_provider": self.secrets_provider,
            }
        )


# -- the program --------------------------------------------------------------------------------


def build_bootstrap() -> dict[str, pulumi.Output[str]]:
    """Validate config, then build the explicit AWS provider and the state backend; the outputs."""
    settings = load_settings()
    provider = aws.Provider(
        "aws",
        region=settings.region,
        default_tags=aws.ProviderDefaultTagsArgs(tags=settings.tags),
    )
    backend = StateBackend(
        "state",
        StateBackendArgs(
            bucket_name=settings.bucket_name,
            region=settings.region,
            object_lock_retention_days=settings.object_lock_retention_days,
        ),
        pulumi.ResourceOptions(providers=[provider]),
    )
    return {
        "backend_url": backend.backend_url,
        "secrets_provider": backend.secrets_provider,
        "bucket_name": backend.bucket_name,
        "kms_key_arn": backend.kms_key_arn,
        "ci_policy_json": backend.ci_policy_json,
    }
