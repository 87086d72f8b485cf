"""Guardrails for Upstash QStash."""

from __future__ import annotations

from urllib.parse import urlsplit

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from .types import QSTASH_TOPIC_V2, QSTASH_V1


def validate_endpoints_https(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != QSTASH_TOPIC_V2:
        return
    for i, url in enumerate(args.props.get("endpoints") or []):
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme != "https" or not parts.hostname:
            report(f"endpoints[{i}] {url!r} is not an https URL.", None)


def validate_no_v1(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type in QSTASH_V1:
        report(
            f"{args.resource_type} uses the removed QStash v1 API; "
            "use QStashTopicV2 / QStashScheduleV2 instead.",
            None,
        )


endpoints_https = ResourceValidationPolicy(
    name="qstash-endpoints-https",
    description="Every QStash topic endpoint is an https URL.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate_endpoints_https,
)

no_v1_resources = ResourceValidationPolicy(
    name="qstash-no-v1-resources",
    description="The deprecated QStash v1 resource types are forbidden.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate_no_v1,
)
