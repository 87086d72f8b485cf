"""Typed, validated stack settings: the one place that reads Pulumi config."""

from .errors import ConfigErrors, ConfigProblem
from .loader import SECRET_KEYS, Secrets, StackSettings, load_settings, validate
from .models import Backup, Cache, IpAccess, Messaging, StackConfig, Topic, Warehouse

__all__ = [
    "SECRET_KEYS",
    "Backup",
    "Cache",
    "ConfigErrors",
    "ConfigProblem",
    "IpAccess",
    "Messaging",
    "Secrets",
    "StackConfig",
    "StackSettings",
    "Topic",
    "Warehouse",
    "load_settings",
    "validate",
]
