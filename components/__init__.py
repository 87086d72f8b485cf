"""The three component resources of the Salla Analytics data platform."""

from .async_messaging import AsyncMessaging, AsyncMessagingArgs
from .data_warehouse import DataWarehouse, DataWarehouseArgs
from .serverless_cache import ServerlessCache, ServerlessCacheArgs

__all__ = [
    "AsyncMessaging",
    "AsyncMessagingArgs",
    "DataWarehouse",
    "DataWarehouseArgs",
    "ServerlessCache",
    "ServerlessCacheArgs",
]
