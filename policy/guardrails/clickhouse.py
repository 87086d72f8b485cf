"""Guardrails for the ClickHouse Cloud service (REQ-TEC-001, REQ-NFR-002)."""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from .config import switch
from .network import cidr_problem, is_open
from .types import CLICKHOUSE_SERVICE


def _hours(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def validate_backup_rpo(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != CLICKHOUSE_SERVICE:
        return
    config = args.get_config()
    rpo = float(config.get("rpoHours", 24))
    backup = args.props.get("backupConfiguration")
    if not backup:
        if config.get("requireBackups", False):
            report(
                f"ClickHouse service has no explicit backup configuration; this stack requires "
                f"backups every <= {rpo:g} h (set dataWarehouse.backup.periodHours).",
                None,
            )
        return
    period = _hours(backup.get("backupPeriodInHours"))
    if period is None:
        if backup.get("backupStartTime"):
            period = 24.0  # a start time means one backup a day
        elif config.get("requireBackups", False):
            report("ClickHouse backup configuration sets no backupPeriodInHours.", None)
            return
        else:
            return
    if period > rpo:
        report(f"ClickHouse backups every {period:g} h exceed the RPO of {rpo:g} h.", None)


def validate_backup_retention(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != CLICKHOUSE_SERVICE:
        return
    minimum = float(args.get_config().get("minRetentionHours", 24))
    backup = args.props.get("backupConfiguration")
    if not backup:
        return
    retention = _hours(backup.get("backupRetentionPeriodInHours"))
    if retention is None:
        report(f"ClickHouse backup retention is not set; at least {minimum:g} h is required.", None)
    elif retention < minimum:
        report(f"ClickHouse backups are kept {retention:g} h; at least {minimum:g} h is required.", None)


def validate_no_open_ingress(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != CLICKHOUSE_SERVICE or args.get_config().get("allowOpenIngress", False):
        return
    for entry in args.props.get("ipAccesses") or []:
        source = entry.get("source")
        if is_open(source):
            report(f"ClickHouse service is open to the internet ({source}); list explicit CIDRs.", None)


def validate_ip_access(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != CLICKHOUSE_SERVICE:
        return
    for i, entry in enumerate(args.props.get("ipAccesses") or []):
        source = entry.get("source")
        if problem := cidr_problem(source):
            report(f"ipAccesses[{i}].source {source!r} {problem}.", None)
        description = entry.get("description")
        if not isinstance(description, str) or not description.strip():
            report(f"ipAccesses[{i}] ({source}) has no description; say whose range it is.", None)


backup_rpo = ResourceValidationPolicy(
    name="clickhouse-backup-rpo",
    description="ClickHouse backups run at least as often as the RPO (REQ-NFR-002: <= 24 h).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate_backup_rpo,
    config_schema=PolicyConfigSchema(
        properties={
            "rpoHours": {"type": "integer", "default": 24, "minimum": 1},
            "requireBackups": {"type": "boolean", "default": False},
        }
    ),
)

backup_retention = ResourceValidationPolicy(
    name="clickhouse-backup-retention",
    description="ClickHouse backups are retained at least the configured minimum.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate_backup_retention,
    config_schema=PolicyConfigSchema(
        properties={"minRetentionHours": {"type": "integer", "default": 24, "minimum": 1}}
    ),
)

no_open_ingress = ResourceValidationPolicy(
    name="clickhouse-no-open-ingress",
    description="No 0.0.0.0/0 or ::/0 in the ClickHouse IP access list unless the stack allows it.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate_no_open_ingress,
    config_schema=switch("allowOpenIngress"),
)

ip_access_valid = ResourceValidationPolicy(
    name="clickhouse-ip-access-valid",
    description="Every ClickHouse IP access source is a valid IP/CIDR with a description.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate_ip_access,
)
