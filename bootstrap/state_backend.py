"""The state backend of salla-analytics-infra: a locked-down S3 bucket and its KMS keys.

Pulumi's S3 (DIY) backend keeps everything under `.pulumi/` in the bucket: stack checkpoints,
history, backups and the lock objects it writes and deletes around every update (the layout is in
bootstrap_access.py). There is no DynamoDB table: locking is done with those objects.

Keys (all protected, rotating yearly, 30-day deletion window):
  - the state-bucket key (`alias/salla-analytics-pulumi`): S3 SSE-KMS of every object in the bucket,
    used by the CI roles only through S3. It is the key the stacks used as their secrets provider
    before per-stack keys; it keeps decrypting those old ciphertexts for operators (migration,
    restores from old versions) and is therefore never scheduled for deletion.
  - one key per stack of the main project (`alias/salla-analytics-pulumi-<stack>`): the `awskms://`
    secrets provider of that stack only, so a dev role cannot decrypt prod secrets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

# The program's own modules. Pulumi runs bootstrap/__main__.py with bootstrap/ on sys.path (and so
# does the test harness); mypy, run from the repository root, knows them as bootstrap.<module>.
if TYPE_CHECKING:
    from bootstrap.bootstrap_access import MAIN_PROJECT, policy_documents
    from bootstrap.bootstrap_config import BootstrapSettings, load_settings
else:
    from bootstrap_access import MAIN_PROJECT, policy_documents
    from bootstrap_config import BootstrapSettings, load_settings

BUCKET_KEY_ALIAS = "alias/salla-analytics-pulumi"
STACK_KEY_ALIAS_PREFIX = "alias/salla-analytics-pulumi-"
KMS_DELETION_WINDOW_DAYS = 30
ABORT_MULTIPART_DAYS = 7


def stack_key_alias(stack: str) -> str:
    return f"{STACK_KEY_ALIAS_PREFIX}{stack}"


def secrets_provider_url(alias: str, region: str) -> str:
    return f"awskms://{alias}?region={region}"


@dataclass(frozen=True)
class StateBackendArgs:
    bucket_name: str
    region: str
    object_lock_retention_days: int
    stacks: tuple[str, ...]
    project: str = MAIN_PROJECT  # the project whose stacks keep their state in the bucket
    bucket_key_alias: str = BUCKET_KEY_ALIAS
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


class StateBackend(pulumi.ComponentResource):
    """Versioned, Object-Locked, SSE-KMS, TLS-only S3 bucket, its bucket key and one key per stack."""

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    bucket_key_arn: pulumi.Output[str]
    bucket_key_alias: pulumi.Output[str]
    stack_key_arns: pulumi.Output[dict[str, str]]
    secrets_providers: pulumi.Output[dict[str, str]]
    iam_policies: pulumi.Output[dict[str, str]]
    backend_url: pulumi.Output[str]

    def __init__(self, name: str, args: StateBackendArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("salla:bootstrap:StateBackend", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        protected = pulumi.ResourceOptions(parent=self, protect=True)
        # Losing a key makes what it encrypts unreadable: protected, rotated yearly by AWS, and a
        # 30-day deletion window if it is ever scheduled for deletion. The bucket key keeps its
        # original logical name (`<name>-key`), so this is an in-place update of the existing key.
        bucket_key = aws.kms.Key(
            f"{name}-key",
            description="Pulumi state bucket of salla-analytics-infra: S3 SSE-KMS only (used through S3)",
            enable_key_rotation=True,
            deletion_window_in_days=KMS_DELETION_WINDOW_DAYS,
            opts=protected,
        )
        bucket_key_alias = aws.kms.Alias(
            f"{name}-key-alias", name=args.bucket_key_alias, target_key_id=bucket_key.key_id, opts=child
        )
        stack_keys: dict[str, aws.kms.Key] = {}
        stack_aliases: dict[str, aws.kms.Alias] = {}
        for stack in args.stacks:
            stack_keys[stack] = aws.kms.Key(
                f"{name}-stack-key-{stack}",
                description=f"Pulumi secrets provider (awskms) of {args.project} stack {stack}",
                enable_key_rotation=True,
                deletion_window_in_days=KMS_DELETION_WINDOW_DAYS,
                opts=protected,
            )
            stack_aliases[stack] = aws.kms.Alias(
                f"{name}-stack-key-{stack}-alias",
                name=stack_key_alias(stack),
                target_key_id=stack_keys[stack].key_id,
                opts=child,
            )
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=args.bucket_name,
            object_lock_enabled=True,  # only possible at creation
            force_destroy=False,
            opts=protected,
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
                        sse_algorithm="aws:kms", kms_master_key_id=bucket_key.arn
                    ),
                    # S3 Bucket Key: fewer KMS calls, and the encryption context is the bucket ARN.
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

        region, stacks, project = args.region, args.stacks, args.project
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.bucket_key_arn = bucket_key.arn
        self.bucket_key_alias = bucket_key_alias.name
        self.stack_key_arns = pulumi.Output.all(**{s: k.arn for s, k in stack_keys.items()}).apply(dict)
        self.secrets_providers = pulumi.Output.all(**{s: a.name for s, a in stack_aliases.items()}).apply(
            lambda names: {s: secrets_provider_url(alias, region) for s, alias in names.items()}
        )
        self.iam_policies = pulumi.Output.all(bucket.arn, bucket_key.arn, self.stack_key_arns).apply(
            lambda v: policy_documents(
                stacks,
                bucket_arn=v[0],
                bucket_key_arn=v[1],
                stack_key_arns=v[2],
                region=region,
                project=project,
            )
        )
        self.backend_url = pulumi.Output.concat("s3://", bucket.bucket, "?region=", region, "&awssdk=v2")
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "bucket_key_arn": self.bucket_key_arn,
                "bucket_key_alias": self.bucket_key_alias,
                "stack_key_arns": self.stack_key_arns,
                "secrets_providers": self.secrets_providers,
                "iam_policies": self.iam_policies,
                "backend_url": self.backend_url,
            }
        )


# -- the program --------------------------------------------------------------------------------


def build_bootstrap(settings: BootstrapSettings | None = None) -> dict[str, pulumi.Output[object]]:
    """Validate config, then build the explicit AWS provider and the state backend; the outputs."""
    settings = settings or load_settings()
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
            stacks=settings.stacks,
        ),
        pulumi.ResourceOptions(providers=[provider]),
    )
    return {
        "backend_url": backend.backend_url,
        "bucket_name": backend.bucket_name,
        "bucket_key_arn": backend.bucket_key_arn,
        "bucket_key_alias": backend.bucket_key_alias,
        "stack_key_arns": backend.stack_key_arns,
        "secrets_providers": backend.secrets_providers,
        "iam_policies": backend.iam_policies,
    }
