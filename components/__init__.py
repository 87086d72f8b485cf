"""The component resources of the Salla Analytics data platform."""

from .async_messaging import AsyncMessaging, AsyncMessagingArgs
from .data_warehouse import DataWarehouse, DataWarehouseArgs
from .pipeline_state import PipelineState, PipelineStateArgs
from .serverless_cache import ServerlessCache, ServerlessCacheArgs
from .vercel_delivery import VercelDelivery, VercelDeliveryArgs
from .warehouse_access import WarehouseAccess, WarehouseAccessArgs

__all__ = [
    "AsyncMessaging",
    "AsyncMessagingArgs",
    "DataWarehouse",
    "DataWarehouseArgs",
    "PipelineState",
    "PipelineStateArgs",
    "ServerlessCache",
    "ServerlessCacheArgs",
    "VercelDelivery",
    "VercelDeliveryArgs",
    "WarehouseAccess",
    "WarehouseAccessArgs",
]
