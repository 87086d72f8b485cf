"""The salla-analytics-guardrails policies, importable without starting a policy server."""

from pulumi_policy import Policy

from .access import access_protected, consumer_limits, passwords_protected
from .aws import kms_key_rotation, state_bucket_hardened
from .clickhouse import backup_retention, backup_rpo, ip_access_valid, no_open_ingress
from .common import data_stores_protected, required_tags
from .qstash import endpoints_https, no_v1_resources
from .redis import (
    budget_cap,
    eviction_enabled,
    ip_allowlist,
    state_no_eviction,
    tls_required,
    users_protected,
)
from .vercel import vercel_stack_binding

PACK_NAME = "salla-analytics-guardrails"

POLICIES: list[Policy] = [
    backup_rpo,
    backup_retention,
    no_open_ingress,
    ip_access_valid,
    tls_required,
    eviction_enabled,
    state_no_eviction,
    ip_allowlist,
    budget_cap,
    users_protected,
    data_stores_protected,
    access_protected,
    passwords_protected,
    consumer_limits,
    required_tags,
    endpoints_https,
    no_v1_resources,
    state_bucket_hardened,
    kms_key_rotation,
    vercel_stack_binding,
]

__all__ = ["PACK_NAME", "POLICIES"]
