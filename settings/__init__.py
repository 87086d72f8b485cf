"""Typed, validated stack settings: the one place that reads Pulumi config."""

from .errors import ConfigErrors, ConfigProblem
from .loader import SECRET_KEYS, Secrets, StackSettings, load_settings, validate
from .models import (
    Backup,
    Cache,
    Consumer,
    IpAccess,
    Messaging,
    PipelineState,
    RedisDatabase,
    StackConfig,
    Topic,
    Vercel,
    Warehouse,
)

__all__ = [
    "SECRET_KEYS",
    "Backup",
    "Cache",
    "ConfigErrors",
    "ConfigProblem",
    "Consumer",
    "IpAccess",
    "Messaging",
    "PipelineState",
    "RedisDatabase",
    "Secrets",
    "StackConfig",
    "StackSettings",
    "Topic",
    "Vercel",
    "Warehouse",
    "load_settings",
    "validate",
]
