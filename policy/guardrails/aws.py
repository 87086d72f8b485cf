"""Guardrails for the Pulumi state backend created by bootstrap/ (REQ-NFR-002)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from .types import KMS_KEY, S3_BUCKET

DEFAULT_STATE_BUCKETS = ["salla-analytics-pulumi-state"]
# The main project's stacks, each with its own secrets-provider key (bootstrap's `stacks` config).
DEFAULT_STACKS = ["dev", "prod"]
DEFAULT_STACK_KEY_ALIAS_PREFIX = "alias/salla-analytics-pulumi-"
KMS_ALIAS = "aws:kms/alias:Alias"
S3 = "aws:s3/"
SSE_CONFIGURATION = S3 + "bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
# Companion resource type -> (what it must establish, check on its props).
Check = Callable[[Mapping[str, Any]], bool]


def _truthy_all(props: Mapping[str, Any], *keys: str) -> bool:
    return all(props.get(k) is True for k in keys)


def _versioning(props: Mapping[str, Any]) -> bool:
    return (props.get("versioningConfiguration") or {}).get("status") == "Enabled"


def _encryption(props: Mapping[str, Any]) -> bool:
    for rule in props.get("rules") or []:
        default = rule.get("applyServerSideEncryptionByDefault") or {}
        if (
            default.get("sseAlgorithm") in ("aws:kms", "aws:kms:dsse")
            and rule.get("bucketKeyEnabled") is True
        ):
            return True
    return False


def _public_access(props: Mapping[str, Any]) -> bool:
    return _truthy_all(
        props, "blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"
    )


def _ownership(props: Mapping[str, Any]) -> bool:
    return (props.get("rule") or {}).get("objectOwnership") == "BucketOwnerEnforced"


def _tls_only(props: Mapping[str, Any]) -> bool:
    raw = props.get("policy")
    try:
        document = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError:
        return False
    for statement in (document or {}).get("Statement") or []:
        condition = (statement.get("Condition") or {}).get("Bool") or {}
        if statement.get("Effect") == "Deny" and str(condition.get("aws:SecureTransport")).lower() == "false":
            return True
    return False


def _object_lock(props: Mapping[str, Any]) -> bool:
    retention = ((props.get("rule") or {}).get("defaultRetention")) or {}
    period = retention.get("days") or retention.get("years") or 0
    return retention.get("mode") in ("GOVERNANCE", "COMPLIANCE") and period > 0


def _lifecycle(props: Mapping[str, Any]) -> bool:
    return any(
        rule.get("status") == "Enabled"
        and (rule.get("noncurrentVersionExpiration") or {}).get("noncurrentDays")
        for rule in props.get("rules") or []
    )


REQUIRED: dict[str, tuple[str, Check]] = {
    S3 + "bucketVersioning:BucketVersioning": ("versioning enabled", _versioning),
    SSE_CONFIGURATION: (
        "SSE-KMS default encryption with the bucket key",
        _encryption,
    ),
    S3 + "bucketPublicAccessBlock:BucketPublicAccessBlock": ("all four public access blocks", _public_access),
    S3 + "bucketOwnershipControls:BucketOwnershipControls": ("BucketOwnerEnforced ownership", _ownership),
    S3 + "bucketPolicy:BucketPolicy": ("a policy denying non-TLS requests", _tls_only),
    S3 + "bucketObjectLockConfiguration:BucketObjectLockConfiguration": (
        "an Object Lock default retention",
        _object_lock,
    ),
    S3 + "bucketLifecycleConfiguration:BucketLifecycleConfiguration": (
        "a lifecycle rule expiring noncurrent versions",
        _lifecycle,
    ),
}


def _companions(resources: Iterable[PolicyResource], bucket: str, type_: str) -> list[PolicyResource]:
    return [r for r in resources if r.resource_type == type_ and r.props.get("bucket") == bucket]


def _key_refs(key: PolicyResource) -> set[str]:
    """What can name this key: its ARN and key id (outputs, as stack policies see them)."""
    return {str(key.props[k]) for k in ("arn", "keyId", "id") if key.props.get(k)}


def _find_key(resources: Sequence[PolicyResource], ref: Any) -> PolicyResource | None:
    """The KMS key of this stack named by `ref` (key ARN or id, or an alias name or ARN)."""
    if not ref:
        return None
    keys = [r for r in resources if r.resource_type == KMS_KEY]
    for alias in resources:
        if alias.resource_type == KMS_ALIAS and ref in (alias.props.get("name"), alias.props.get("arn")):
            ref = alias.props.get("targetKeyArn") or alias.props.get("targetKeyId")
            break
    return next((k for k in keys if str(ref) in _key_refs(k)), None)


def _sse_key_refs(resources: Iterable[PolicyResource], bucket: str) -> list[Any]:
    return [
        (rule.get("applyServerSideEncryptionByDefault") or {}).get("kmsMasterKeyId")
        for c in _companions(resources, bucket, SSE_CONFIGURATION)
        for rule in c.props.get("rules") or []
    ]


def _check_key(key: PolicyResource, what: str, report: ReportViolation) -> None:
    if key.props.get("enableKeyRotation") is not True:
        report(f"{what} must rotate automatically (enableKeyRotation: true).", key.urn)
    if not key.opts.protect:
        report(f"{what} must be protected (protect: true).", key.urn)


def _validate_keys(
    args: StackValidationArgs, bucket: PolicyResource, name: str, report: ReportViolation
) -> None:
    """The bucket's SSE-KMS key and one distinct key per stack: rotating and protected."""
    resources = list(args.resources)
    config = args.get_config()
    bucket_keys: list[PolicyResource] = []
    for ref in _sse_key_refs(resources, name):
        key = _find_key(resources, ref)
        if key is None:
            report(
                f"state bucket {name}: SSE-KMS key {ref} is not a KMS key of this stack "
                "(its rotation and protection cannot be checked).",
                bucket.urn,
            )
        else:
            bucket_keys.append(key)
            _check_key(key, f"state bucket {name}: the SSE-KMS key {key.name}", report)
    prefix = config.get("stackKeyAliasPrefix", DEFAULT_STACK_KEY_ALIAS_PREFIX)
    owners: dict[str, str] = {k.urn: "the bucket's SSE-KMS key" for k in bucket_keys}
    for stack in config.get("stacks", DEFAULT_STACKS):
        alias = f"{prefix}{stack}"
        what = f"state bucket {name}: the secrets-provider key of stack '{stack}' ({alias})"
        if not any(r.resource_type == KMS_ALIAS and r.props.get("name") == alias for r in resources):
            report(
                f"state bucket {name}: stack '{stack}' has no KMS key alias {alias} "
                "(its own secrets-provider key).",
                bucket.urn,
            )
            continue
        key = _find_key(resources, alias)
        if key is None:
            report(f"{what} targets no KMS key of this stack.", bucket.urn)
            continue
        if key.urn in owners:
            report(f"{what} is also {owners[key.urn]}: every stack needs a key of its own.", key.urn)
            continue
        owners[key.urn] = f"the key of stack '{stack}'"
        _check_key(key, what, report)


def validate_state_bucket(args: StackValidationArgs, report: ReportViolation) -> None:
    names = set(args.get_config().get("bucketNames", DEFAULT_STATE_BUCKETS))
    for bucket in args.resources:
        if bucket.resource_type != S3_BUCKET or bucket.props.get("bucket") not in names:
            continue
        name = bucket.props["bucket"]
        if bucket.props.get("objectLockEnabled") is not True:
            report(f"state bucket {name}: Object Lock must be enabled at creation.", bucket.urn)
        if bucket.props.get("forceDestroy") is True:
            report(f"state bucket {name}: forceDestroy would delete every state version.", bucket.urn)
        if not bucket.opts.protect:
            report(f"state bucket {name}: must be protected (protect: true).", bucket.urn)
        for type_, (what, check) in REQUIRED.items():
            if not any(check(c.props) for c in _companions(args.resources, name, type_)):
                report(f"state bucket {name}: missing {what} ({type_.rsplit(':', 1)[-1]}).", bucket.urn)
        try:
            _validate_keys(args, bucket, name, report)
        except UnknownValueError:
            # A key created by this very update has no ARN/id yet during preview; the check runs
            # again on the update's outputs, and the bucket checks above still count.
            continue


def validate_key_rotation(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != KMS_KEY:
        return
    spec = args.props.get("customerMasterKeySpec") or args.props.get("keySpec") or "SYMMETRIC_DEFAULT"
    if spec != "SYMMETRIC_DEFAULT":
        args.not_applicable("AWS rotates only symmetric encryption keys")
    if args.props.get("enableKeyRotation") is not True:
        report("KMS key must have automatic rotation enabled (enableKeyRotation: true).", None)


state_bucket_hardened = StackValidationPolicy(
    name="state-bucket-hardened",
    description="The Pulumi state bucket is versioned, SSE-KMS encrypted with a protected rotating key, "
    "private, TLS-only, Object-Locked, lifecycle-managed and protected; every stack of the main project "
    "has its own protected rotating secrets-provider key behind its alias.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate_state_bucket,
    config_schema=PolicyConfigSchema(
        properties={
            "bucketNames": {"type": "array", "items": {"type": "string"}, "default": DEFAULT_STATE_BUCKETS},
            # Stacks whose KMS alias <stackKeyAliasPrefix><stack> must exist next to the bucket.
            "stacks": {
                "type": "array",
                "items": {"type": "string", "pattern": "^[a-z][a-z0-9-]*$"},
                "uniqueItems": True,
                "default": DEFAULT_STACKS,
            },
            "stackKeyAliasPrefix": {"type": "string", "default": DEFAULT_STACK_KEY_ALIAS_PREFIX},
        }
    ),
)

kms_key_rotation = ResourceValidationPolicy(
    name="kms-key-rotation",
    description="KMS keys rotate automatically.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate_key_rotation,
)
