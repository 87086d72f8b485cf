"""Typed, validated settings of one stack (built by settings.loader)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi


@dataclass(frozen=True)
class IpAccess:
    cidr: str
    description: str


@dataclass(frozen=True)
class BackupSettings:
    period_hours: int
    retention_hours: int


@dataclass(frozen=True)
class WarehouseSettings:
    service_name: str
    cloud_provider: str
    region: str
    ip_allow_list: tuple[IpAccess, ...]
    idle_scaling: bool | None = None
    idle_timeout_minutes: int | None = None
    min_replica_memory_gb: int | None = None
    max_replica_memory_gb: int | None = None
    release_channel: str | None = None
    backup: BackupSettings | None = None
    restore_from_backup_id: str | None = None


@dataclass(frozen=True)
class CacheSettings:
    database_name: str
    primary_region: str
    read_regions: tuple[str, ...] = ()
    eviction: bool = True
    budget: int | None = None
    auto_scale: bool | None = None
    prod_pack: bool | None = None
    ip_allow_list: tuple[str, ...] = ()


@dataclass(frozen=True)
class TopicSettings:
    name: str
    endpoints: tuple[str, ...]


@dataclass(frozen=True)
class MessagingSettings:
    topics: tuple[TopicSettings, ...]


@dataclass(frozen=True)
class Secrets:
    """Secret config values, only ever held as secret Outputs."""

    clickhouse_admin_password: pulumi.Output[str]
    qstash_token: pulumi.Output[str]
    qstash_current_signing_key: pulumi.Output[str]
    qstash_next_signing_key: pulumi.Output[str]


@dataclass(frozen=True)
class ClickHouseCredentials:
    organization_id: str
    token_key: str
    token_secret: pulumi.Output[str]


@dataclass(frozen=True)
class UpstashCredentials:
    email: str
    api_key: pulumi.Output[str]


@dataclass(frozen=True)
class StackSettings:
    project: str
    stack: str
    warehouse: WarehouseSettings
    cache: CacheSettings
    messaging: MessagingSettings
    secrets: Secrets
    clickhouse: ClickHouseCredentials
    upstash: UpstashCredentials
    protect: bool = False
    tags: dict[str, str] = field(default_factory=dict)
