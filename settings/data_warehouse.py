"""dataWarehouse: the settings of the ClickHouse Cloud service (components.data_warehouse)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    GetJsonSchemaHandler,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from . import catalog
from .errors import fail, rule
from .rules import (
    SET_EXAMPLE,
    Settings,
    at_least,
    cidr,
    no_duplicates,
    one_of,
    resource_name,
    sql_name,
    uuid_text,
)

DEFAULT_IP_DESCRIPTION = "allow-listed by salla-analytics-infra"
# The tag the program puts on a ClickHouse service it is retiring; the protect policy honours it.
LIFECYCLE_TAG = "lifecycle"
RETIRING = "retiring"


class IpAccess(Settings):
    """One allow-list entry; a plain CIDR string gets the default description."""

    cidr: str
    description: str

    @classmethod
    def __get_pydantic_json_schema__(cls, core: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        entry = handler.resolve_ref_schema(handler(core))
        return {"anyOf": [{"type": "string", "description": "a CIDR (default description)"}, entry]}

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        """A CIDR string or {cidr, description}; the CIDR problem is reported at the entry."""
        if isinstance(value, str):
            value = {"cidr": value, "description": DEFAULT_IP_DESCRIPTION}
        elif not (isinstance(value, dict) and "cidr" in value and set(value) <= {"cidr", "description"}):
            fail(
                rule(
                    "must be a CIDR string or a map {cidr, description}",
                    "e.g. {cidr: 203.0.113.10/32, description: office}",
                )
            )
        description = value.get("description")
        if not isinstance(description, str) or not description.strip():
            fail(
                rule(
                    "must not be empty",
                    "say whose range it is, e.g. 'vercel egress'",
                    at=["description"],
                    value=description,
                )
            )
        return {"cidr": cidr(str(value["cidr"])), "description": description.strip()}


class AbandonedRestore(Settings):
    """A restored service given up on (a retry from another backup): kept unprotected until removed."""

    # Exactly as it was in `restore` (the provider refuses a change of backup_id).
    backup_id: Annotated[str, AfterValidator(uuid_text)] = Field(examples=["<backup-uuid>"])
    service_name: Annotated[str, resource_name("salla-analytics-prod-r20261123")] = Field(
        examples=["salla-analytics-prod-r20261123"]
    )


class Restore(Settings):
    """A second service created from a backup next to the live one (the DR path of REQ-NFR-002).

    A restore always creates a new ClickHouse Cloud service, and the provider refuses to change
    `backup_id` on an existing one; so the restore is its own service (one resource per
    `serviceName`), switched to by `serve`. Retrying from another backup is a new `serviceName`
    and `backupId`, with the failed attempt moved to `abandoned` (unprotected, tagged retiring)
    until its entry is deleted, which deletes the service.
    """

    backup_id: Annotated[str, AfterValidator(uuid_text)] = Field(examples=["<backup-uuid>"])
    service_name: Annotated[str, resource_name("salla-analytics-prod-r20261123")] = Field(
        examples=["salla-analytics-prod-r20261123"]
    )
    # true: the consumers' SQL users, URLs and outputs use the restored service.
    serve: bool = Field(False, examples=[True])
    # The old (primary) service, once the restored one serves: `keep` it, `unprotect` it (an
    # update that lifts `protect` and tags it `lifecycle: retiring`), then `remove` it (deleted).
    primary: Literal["keep", "unprotect", "remove"] = Field("keep", examples=["unprotect"])
    # Earlier attempts given up on (runbook A5): still declared, unprotected; delete an entry to delete it.
    abandoned: Annotated[list[AbandonedRestore], no_duplicates(key=lambda entry: entry.service_name)] = Field(
        default_factory=list
    )

    @model_validator(mode="after")
    def _retire_only_when_serving(self) -> Restore:
        problems = []
        if self.primary != "keep" and not self.serve:
            problems.append(
                rule(
                    "is only allowed once the restored service serves the consumers (serve: true)",
                    "set dataWarehouse.restore.serve: true first (runbook A6)",
                    at=["primary"],
                    value=self.primary,
                )
            )
        problems += [
            rule(
                "is the current restore: an abandoned attempt needs a serviceName of its own",
                "give the new attempt a new restore.serviceName (runbook A5)",
                at=["abandoned", i, "serviceName"],
                value=entry.service_name,
            )
            for i, entry in enumerate(self.abandoned)
            if entry.service_name == self.service_name
        ]
        if problems:
            fail(*problems)
        return self


class Backup(Settings):
    period_hours: Annotated[
        int, one_of("a backup period ClickHouse Cloud accepts", catalog.CLICKHOUSE_BACKUP_PERIOD_HOURS)
    ] = Field(examples=[24])
    retention_hours: Annotated[
        int, one_of("a retention ClickHouse Cloud accepts", catalog.CLICKHOUSE_BACKUP_RETENTION_HOURS)
    ] = Field(examples=[168])


class Warehouse(Settings):
    """dataWarehouse: the ClickHouse Cloud service."""

    service_name: Annotated[str, resource_name("salla-analytics-dev")] = Field(
        examples=["salla-analytics-dev"]
    )
    cloud_provider: Literal["aws", "gcp", "azure"] = Field("aws", examples=["aws"])
    region: str | None = Field(None, validate_default=True, examples=["us-east-1"])
    ip_allow_list: Annotated[list[IpAccess], no_duplicates(key=lambda entry: entry.cidr)] = Field(
        default_factory=list
    )
    idle_scaling: bool | None = Field(None, examples=[True])
    idle_timeout_minutes: (
        Annotated[
            int,
            at_least(
                catalog.CLICKHOUSE_MIN_IDLE_TIMEOUT_MINUTES,
                f"must be >= {catalog.CLICKHOUSE_MIN_IDLE_TIMEOUT_MINUTES}",
                SET_EXAMPLE.format(str(catalog.CLICKHOUSE_MIN_IDLE_TIMEOUT_MINUTES)),
            ),
        ]
        | None
    ) = Field(None, examples=[15])
    min_replica_memory_gb: int | None = Field(None, examples=[8])
    max_replica_memory_gb: int | None = Field(None, examples=[16])
    release_channel: (
        Annotated[str, one_of("a ClickHouse release channel", catalog.CLICKHOUSE_RELEASE_CHANNELS)] | None
    ) = Field(None, examples=["default"])
    backup: Backup | None = None
    restore: Restore | None = None
    # The database the consumers' roles are granted on; created if missing, never dropped.
    database: Annotated[str, AfterValidator(sql_name("database", "analytics"))] = Field(
        "analytics", examples=["analytics"]
    )
    # Take over the project's roles when they already hold something although no state holds them
    # (e.g. the state was lost); without it such a create stops (docs/drift.md).
    adopt_roles: bool = Field(False, examples=[True])

    @field_validator("region")
    @classmethod
    def _region_of_cloud(cls, value: str | None, info: ValidationInfo) -> str | None:
        cloud = info.data.get("cloud_provider")
        if cloud is None:  # the cloud itself is wrong: reported on its own
            return value
        if value is None:
            return catalog.CLICKHOUSE_DEFAULT_REGION[cloud]
        allowed = catalog.CLICKHOUSE_REGIONS[cloud]
        if value not in allowed:
            fail(
                rule(
                    f"is not a ClickHouse Cloud region for {cloud}",
                    "use one of: " + catalog.sorted_values(allowed),
                )
            )
        return value

    @model_validator(mode="after")
    def _cross_field(self) -> Warehouse:
        problems = []
        if self.idle_scaling and self.idle_timeout_minutes is None:
            problems.append(
                rule(
                    "is required when idleScaling is true",
                    SET_EXAMPLE.format("15"),
                    at=["idleTimeoutMinutes"],
                    value=None,
                )
            )
        if self.idle_timeout_minutes is not None and not self.idle_scaling:
            problems.append(
                rule(
                    "is only allowed together with idleScaling: true",
                    "set idleScaling: true or remove idleTimeoutMinutes",
                    at=["idleTimeoutMinutes"],
                    value=self.idle_timeout_minutes,
                )
            )
        low, high = catalog.CLICKHOUSE_REPLICA_MEMORY_MIN_GB, catalog.CLICKHOUSE_REPLICA_MEMORY_MAX_GB
        step = catalog.CLICKHOUSE_REPLICA_MEMORY_STEP_GB
        memory = {
            "minReplicaMemoryGb": self.min_replica_memory_gb,
            "maxReplicaMemoryGb": self.max_replica_memory_gb,
        }
        for key, value in memory.items():
            if value is not None and (value < low or value > high or value % step):
                problems.append(
                    rule(
                        f"must be a multiple of {step} between {low} and {high}",
                        SET_EXAMPLE.format("16"),
                        at=[key],
                        value=value,
                    )
                )
        if self.restore is not None and self.restore.service_name == self.service_name:
            problems.append(
                rule(
                    "must differ from serviceName: the restored service runs next to the live one",
                    "e.g. " + self.service_name + "-r" + "<yyyymmdd>",
                    at=["restore", "serviceName"],
                    value=self.restore.service_name,
                    safe_fix="give the restored service a name of its own",
                )
            )
        problems += [
            rule(
                "must differ from serviceName (the live service)",
                "use the name the abandoned restore was created with",
                at=["restore", "abandoned", i, "serviceName"],
                value=entry.service_name,
            )
            for i, entry in enumerate(self.restore.abandoned if self.restore else [])
            if entry.service_name == self.service_name
        ]
        low_mem, high_mem = self.min_replica_memory_gb, self.max_replica_memory_gb
        if low_mem is not None and high_mem is not None and low_mem > high_mem:
            problems.append(
                rule(
                    f"must not exceed maxReplicaMemoryGb ({high_mem})",
                    "lower minReplicaMemoryGb or raise maxReplicaMemoryGb",
                    at=["minReplicaMemoryGb"],
                    value=low_mem,
                    safe_rule="must not exceed maxReplicaMemoryGb",
                )
            )
        if problems:
            fail(*problems)
        return self
