"""Typed, validated stack settings: the one place that reads Pulumi config."""

from .errors import ConfigErrors, ConfigProblem
from .loader import PROJECT, SECRET_KEYS, load_settings
from .model import (
    BackupSettings,
    CacheSettings,
    ClickHouseCredentials,
    IpAccess,
    MessagingSettings,
    Secrets,
    StackSettings,
    TopicSettings,
    UpstashCredentials,
    WarehouseSettings,
)

__all__ = [
    "PROJECT",
    "SECRET_KEYS",
    "BackupSettings",
    "CacheSettings",
    "ClickHouseCredentials",
    "ConfigErrors",
    "ConfigProblem",
    "IpAccess",
    "MessagingSettings",
    "Secrets",
    "StackSettings",
    "TopicSettings",
    "UpstashCredentials",
    "WarehouseSettings",
    "load_settings",
]
