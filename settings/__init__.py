"""Typed, validated stack settings: the one place that reads Pulumi config."""

from .loader import SECRET_KEYS, StackSettings, load_settings
from .models import Cache, Consumer, Messaging, PipelineState, RedisDatabase, StackConfig, Vercel, Warehouse

__all__ = [
    "SECRET_KEYS",
    "Cache",
    "Consumer",
    "Messaging",
    "PipelineState",
    "RedisDatabase",
    "StackConfig",
    "StackSettings",
    "Vercel",
    "Warehouse",
    "load_settings",
]
