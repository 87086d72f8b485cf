"""Guardrails for ClickHouse SQL access: prod keeps every SQL object and password, and sets limits.

The program's SQL objects (clickhouse_sql/, dynamic resources) keep their Python input names
(`retiring`, `limits_source`), unlike provider resources (camelCase). A consumer marked
`retire: true` (step 1 of removing it from prod) declares its user, settings profile and quota
with `retiring: true` and unprotected. Its passwords (pulumi_random) carry no such marker and
cannot get one (changing `keepers` replaces the password), so `clickhouse-passwords-protected`
is a stack policy that pairs each password with its user by the component's resource names
(`<component>-<consumer>-password[-<label>]` and `<component>-<consumer>-user`): a password may be
unprotected only when its user is unprotected and retiring, or when it is the outgoing password of
a rotation in progress (two passwords, the other protected): a protected resource cannot be deleted
by the `up` that finishes the rotation.
"""

from __future__ import annotations

from collections.abc import Iterable

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from .common import unprotected_live
from .config import switch
from .types import (
    CLICKHOUSE_SQL,
    CLICKHOUSE_SQL_PREFIX,
    CLICKHOUSE_SQL_PROFILE,
    CLICKHOUSE_SQL_QUOTA,
    CLICKHOUSE_SQL_USER,
    RANDOM_PASSWORD,
    WAREHOUSE_ACCESS_COMPONENT,
)

REMOVAL = "remove a consumer in two steps: `retire: true` + up, then delete its entry + up"
LIMIT_KEYS = "maxMemoryUsageBytes, maxExecutionTimeSeconds, maxResultRows, queriesPerHour, readRowsPerHour"


def in_warehouse_access(urn: str) -> bool:
    """Whether the resource is declared inside a WarehouseAccess component (its URN's type chain)."""
    parts = urn.split("::")
    return len(parts) > 2 and WAREHOUSE_ACCESS_COMPONENT + "$" in parts[2]


def validate_access_protected(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not unprotected_live(args, CLICKHOUSE_SQL):
        return
    kind = args.resource_type.removeprefix(CLICKHOUSE_SQL_PREFIX)
    report(
        f"Production ClickHouse {kind} must be protected (protect: true): a destroy would drop it "
        f"and cut the consumers off; {REMOVAL}.",
        None,
    )


def _owner(password: PolicyResource, users: Iterable[PolicyResource]) -> PolicyResource | None:
    """The user whose consumer the password belongs to (the longest matching name prefix).

    A consumer's namespaced user (`<consumer>-sql-user`) and, while it migrates, its former one
    (`<consumer>-user`) share its passwords: the protected one (the namespaced) owns them."""
    owners = []
    for user in users:
        prefix = user.name.removesuffix("-user").removesuffix("-sql") + "-password"
        if password.name == prefix or password.name.startswith(prefix + "-"):
            owners.append((len(prefix), bool(user.opts.protect), user))
    return max(owners, key=lambda owner: owner[:2])[2] if owners else None


def _retiring(user: PolicyResource) -> bool:
    """The user is unprotected and says it is retiring (outputs; unknown in preview: its protect decides)."""
    if user.opts.protect:
        return False
    try:
        return user.props.get("retiring") is True
    except UnknownValueError:
        return True  # clickhouse-access-protected checks the user's own (known) input


def validate_passwords_protected(args: StackValidationArgs, report: ReportViolation) -> None:
    if not args.get_config().get("requireProtect", False):
        return
    access = [r for r in args.resources if in_warehouse_access(r.urn)]
    users = [r for r in access if r.resource_type == CLICKHOUSE_SQL_USER]
    owned: dict[str, list[PolicyResource]] = {user.urn: [] for user in users}
    for password in (r for r in access if r.resource_type == RANDOM_PASSWORD):
        owner = _owner(password, users)
        if owner is not None:
            owned[owner.urn].append(password)
        elif not password.opts.protect:
            report(
                f"Production consumer password {password.name} must be protected (protect: true); "
                "it belongs to no ClickHouse user of this stack.",
                password.urn,
            )
    for user in users:
        passwords = owned[user.urn]
        unprotected = [p for p in passwords if not p.opts.protect]
        if not unprotected or _retiring(user):
            continue
        if len(passwords) == 2 and len(unprotected) == 1:
            continue  # a rotation in progress: the outgoing password goes when it finishes
        for password in unprotected:
            report(
                f"Production consumer password {password.name} must be protected (protect: true): "
                f"only a retiring user's passwords ({user.name}: not retiring) or the outgoing one of a "
                f"rotation (the other protected) may be unprotected; {REMOVAL}.",
                password.urn,
            )


def validate_consumer_limits(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in {CLICKHOUSE_SQL_PROFILE, CLICKHOUSE_SQL_QUOTA}:
        return
    if not args.get_config().get("requireConsumerLimits", False):
        return
    source = args.props.get("limits_source")
    if source == "config":
        return
    kind = "settings profile" if args.resource_type == CLICKHOUSE_SQL_PROFILE else "quota"
    report(
        f"ClickHouse {kind} {args.props.get('name')!r} takes limits from the access defaults "
        f"(limits_source: {source!r}); this stack must set all of the consumer's "
        f"limits.{{{LIMIT_KEYS}}}.",
        None,
    )


access_protected = ResourceValidationPolicy(
    name="clickhouse-access-protected",
    description="Where the stack requires it, every ClickHouse SQL object (database, roles, grants, users, "
    "settings profiles, quotas) is protected, except a retiring consumer's.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate_access_protected,
    config_schema=switch("requireProtect"),
)

passwords_protected = StackValidationPolicy(
    name="clickhouse-passwords-protected",
    description="Where the stack requires it, every consumer's ClickHouse password is protected, except "
    "a retiring consumer's (its user unprotected).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate_passwords_protected,
    config_schema=switch("requireProtect"),
)

consumer_limits = ResourceValidationPolicy(
    name="clickhouse-consumer-limits",
    description="Where the stack requires it, every consumer's settings profile and quota take their "
    "limits from config, not from the access defaults.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate_consumer_limits,
    config_schema=switch("requireConsumerLimits"),
)
