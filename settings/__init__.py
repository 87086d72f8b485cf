"""Typed, validated stack settings: the one place that reads Pulumi config.

One module per section (the component of the same name under components/ uses it):
data_warehouse, serverless_cache, pipeline_state (both on redis), async_messaging, consumers
(with vercel_delivery); stack_config puts them together; rules holds the shared field rules.
"""

from .async_messaging import Messaging
from .consumers import Consumer
from .data_warehouse import Warehouse
from .loader import SECRET_KEYS, StackSettings, load_settings
from .pipeline_state import PipelineState
from .redis import RedisDatabase
from .serverless_cache import Cache
from .stack_config import StackConfig
from .vercel_delivery import Vercel

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
