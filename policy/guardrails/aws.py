"""Guardrails for the Pulumi state backend created by bootstrap/ (REQ-NFR-002)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .types import KMS_KEY, S3_BUCKET, Report

DEFAULT_STATE_BUCKETS = ["salla-analytics-pulumi-state"]
S3 = "aws:s3/"
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
    S3 + "bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
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


def validate_state_bucket(args: StackValidationArgs, report: Report) -> None:
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


def validate_key_rotation(args: ResourceValidationArgs, report: Report) -> None:
    if args.resource_type != KMS_KEY:
        return
    spec = args.props.get("customerMasterKeySpec") or args.props.get("keySpec") or "SYMMETRIC_DEFAULT"
    if spec != "SYMMETRIC_DEFAULT":
        args.not_applicable("AWS rotates only symmetric encryption keys")
    if args.props.get("enableKeyRotation") is not True:
        report("KMS key must have automatic rotation enabled (enableKeyRotation: true).")


state_bucket_hardened = StackValidationPolicy(
    name="state-bucket-hardened",
    description="The Pulumi state bucket is versioned, SSE-KMS encrypted, private, TLS-only, "
    "Object-Locked, lifecycle-managed and protected.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate_state_bucket,
    config_schema=PolicyConfigSchema(
        properties={
            "bucketNames": {"type": "array", "items": {"type": "string"}, "default": DEFAULT_STATE_BUCKETS}
        }
    ),
)

kms_key_rotation = ResourceValidationPolicy(
    name="kms-key-rotation",
    description="KMS keys rotate automatically.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate_key_rotation,
)
