"""DataWarehouse: the ClickHouse Cloud OLAP service (REQ-TEC-001)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumiverse_clickhouse as clickhouse

from clickhouse_sql import Endpoint
from settings import Warehouse
from settings.data_warehouse import LIFECYCLE_TAG, RETIRING


def _https_host(endpoints: clickhouse.outputs.ServiceEndpoints | None) -> str | None:
    https = endpoints.https if endpoints else None
    return https.host if https else None


def _https_port(endpoints: clickhouse.outputs.ServiceEndpoints | None) -> int | None:
    https = endpoints.https if endpoints else None
    return int(https.port) if https and https.port is not None else None


@dataclass
class DataWarehouseArgs:
    settings: Warehouse
    admin_password_hash: pulumi.Output[str]  # secret: base64 SHA-256 of the `default` password
    tags: dict[str, str] = field(default_factory=dict)
    protect: bool = False


class DataWarehouse(pulumi.ComponentResource):
    """The ClickHouse Cloud service with its IP allow list, scaling, backups and tags.

    With `restore`, a second service (`<name>-restore-<restore.serviceName>`) is created from the
    backup next to the live one, with the same settings; `restore.abandoned` keeps earlier
    attempts (unprotected, tagged retiring) until their entry is deleted; `restore.serve` switches
    the consumers to it and `restore.primary` then retires the old one (`unprotect`, then
    `remove`). The program never holds
    the admin (`default`) password: config holds only its SHA-256 hash, which is the service's
    `password_hash` (a secret input) and goes nowhere else. `sql_connection` is where the SQL
    provider connects (components.warehouse_access): the served service's HTTPS endpoint
    `{host, port}`; the login comes from the job's environment (clickhouse_sql.login), not from here.
    """

    host: pulumi.Output[str | None]
    https_port: pulumi.Output[int | None]
    service_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: DataWarehouseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("salla:analytics:DataWarehouse", name, None, opts)
        s = args.settings
        self.args = args
        restore = s.restore
        primary = restore.primary if restore else "keep"
        self.service = (
            None
            if primary == "remove"
            else self._service(f"{name}-service", s.service_name, retiring=primary == "unprotect")
        )
        # One resource per restored service name: a retry from another backup is a new name (and
        # a new service) next to the failed one. Before per-name resources, a state could hold one
        # restore, `<name>-restore`: the oldest attempt declared (the first abandoned one, else the
        # current one) carries that name as an alias, so an upgrade and a retry may share one `up`.
        attempts = [*restore.abandoned, restore] if restore else []
        legacy = [pulumi.Alias(name=f"{name}-restore")]
        self.restored = (
            self._service(
                f"{name}-restore-{restore.service_name}",
                restore.service_name,
                backup_id=restore.backup_id,
                aliases=legacy if attempts[0] is restore else None,
            )
            if restore
            else None
        )
        # Attempts given up on: declared as they were (so not replaced), unprotected and tagged
        # retiring; deleting the entry deletes the service.
        self.abandoned = [
            self._service(
                f"{name}-restore-{attempt.service_name}",
                attempt.service_name,
                backup_id=attempt.backup_id,
                retiring=True,
                aliases=legacy if attempt is attempts[0] else None,
            )
            for attempt in (restore.abandoned if restore else [])
        ]
        served = self.restored if restore and restore.serve and self.restored else self.service
        assert served is not None  # removing the primary requires serve (settings.data_warehouse.Restore)
        self.served = served
        self.host = served.endpoints.apply(_https_host)
        self.https_port = served.endpoints.apply(_https_port)
        self.service_id = served.id
        # The endpoint only: no login (docs/sql-login.md).
        self.sql_connection: pulumi.Output[Endpoint] = pulumi.Output.all(self.host, self.https_port).apply(
            lambda parts: Endpoint(host=parts[0], port=parts[1])
        )
        self.register_outputs(
            {"host": self.host, "https_port": self.https_port, "service_id": self.service_id}
        )

    def _service(
        self,
        resource_name: str,
        service_name: str,
        *,
        backup_id: str | None = None,
        retiring: bool = False,
        aliases: list[pulumi.Alias] | None = None,
    ) -> clickhouse.Service:
        s, args = self.args.settings, self.args
        backup = (
            clickhouse.ServiceBackupConfigurationArgs(
                backup_period_in_hours=s.backup.period_hours,
                backup_retention_period_in_hours=s.backup.retention_hours,
            )
            if s.backup
            else None
        )
        return clickhouse.Service(
            resource_name,
            name=service_name,
            cloud_provider=s.cloud_provider,
            region=s.region,
            ip_accesses=[
                clickhouse.ServiceIpAccessArgs(source=ip.cidr, description=ip.description)
                for ip in s.ip_allow_list
            ],
            password_hash=args.admin_password_hash,
            idle_scaling=s.idle_scaling,
            idle_timeout_minutes=s.idle_timeout_minutes,
            min_replica_memory_gb=s.min_replica_memory_gb,
            max_replica_memory_gb=s.max_replica_memory_gb,
            release_channel=s.release_channel,
            backup_configuration=backup,
            # Only ever set at creation: the provider rejects a change of backup_id.
            backup_id=backup_id,
            # A service being retired loses `protect` and says why (policy data-stores-protected).
            tags={**args.tags, LIFECYCLE_TAG: RETIRING} if retiring else args.tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect and not retiring, aliases=aliases),
        )
