"""Guardrails for the Upstash Redis databases: the cache and the pipeline state."""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from .common import unprotected_live
from .config import switch
from .network import cidr_problem, is_open
from .types import PIPELINE_STATE_COMPONENT, REDIS_DATABASE, UPSTASH_REDIS_ACL


def is_pipeline_state(urn: str) -> bool:
    """Whether the database is declared inside a PipelineState component (its URN's type chain)."""
    parts = urn.split("::")
    return len(parts) > 2 and PIPELINE_STATE_COMPONENT + "$" in parts[2]


def validate_tls(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == REDIS_DATABASE and args.props.get("tls") is not True:
        report("Redis database must have tls: true (the provider's default is false).", None)


def validate_eviction(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != REDIS_DATABASE or is_pipeline_state(args.urn):
        return
    if args.props.get("eviction") is not True:
        report("Redis cache should evict keys when full instead of failing writes (eviction: true).", None)


def validate_state_no_eviction(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != REDIS_DATABASE or not is_pipeline_state(args.urn):
        return
    if args.props.get("eviction") is not False:
        report(
            "Pipeline-state Redis must not evict (eviction: false): Upstash eviction also drops keys "
            "without a TTL, i.e. CDC cursors and dedup keys.",
            None,
        )


def validate_budget(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != REDIS_DATABASE:
        return
    cap = float(args.get_config().get("maxBudgetUsd", 50))
    budget = args.props.get("budget")
    if not isinstance(budget, int | float) or isinstance(budget, bool):
        # Kept for databases declared outside this program: the provider's Check fills in 20, and
        # this program requires a budget, so here it does not fire.
        report(f"Redis database has no budget; set one (at most {cap:g} USD/month).", None)
    elif budget > cap:
        report(f"Redis budget {budget:g} USD/month exceeds the cap of {cap:g} USD/month.", None)


def validate_ip_allowlist(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != REDIS_DATABASE or not args.get_config().get("requireIpAllowList", False):
        return
    sources = args.props.get("ipAllowlists") or []
    if not sources:
        report("Redis database has no IP allow list; this stack requires one (set ipAllowList).", None)
    for source in sources:
        if problem := cidr_problem(source):
            report(f"ipAllowlists entry {source!r} {problem}.", None)
        elif is_open(source):
            report(f"Redis database is open to the internet ({source}); list explicit CIDRs.", None)


ip_allowlist = ResourceValidationPolicy(
    name="redis-ip-allowlist",
    description="Where the stack requires it, every Redis database has an IP allow list (no /0).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate_ip_allowlist,
    config_schema=switch("requireIpAllowList"),
)

tls_required = ResourceValidationPolicy(
    name="redis-tls-required",
    description="Every Redis database encrypts traffic in transit (tls: true).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate_tls,
)

state_no_eviction = ResourceValidationPolicy(
    name="redis-state-no-eviction",
    description="The pipeline-state Redis database never evicts keys.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate_state_no_eviction,
)

eviction_enabled = ResourceValidationPolicy(
    name="redis-eviction-enabled",
    description="Caches (not the pipeline-state database) evict rather than fail writes when full.",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=validate_eviction,
)

budget_cap = ResourceValidationPolicy(
    name="redis-budget-cap",
    description="A monthly budget is set on every Redis database and stays under the cap.",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=validate_budget,
    config_schema=PolicyConfigSchema(
        properties={"maxBudgetUsd": {"type": "integer", "default": 50, "minimum": 1}}
    ),
)


def validate_users_protected(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """A consumer's Redis ACL user (and a database's user list) is protected, unless retiring."""
    if not unprotected_live(args, UPSTASH_REDIS_ACL):
        return
    report(
        "Production Redis ACL users must be protected (protect: true): a destroy would delete the "
        "consumer's user and cut it off; remove a consumer in two steps: `retire: true` + up, then "
        "delete its entry + up.",
        None,
    )


users_protected = ResourceValidationPolicy(
    name="redis-users-protected",
    description="Where the stack requires it, every consumer's Redis ACL user and each database's user "
    "list are protected, except a retiring consumer's user.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate_users_protected,
    config_schema=switch("requireProtect"),
)
