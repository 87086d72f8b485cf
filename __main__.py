"""Salla Analytics data platform, one stack: validated settings -> providers -> components -> contract."""

from components import (
    AsyncMessaging,
    AsyncMessagingArgs,
    DataWarehouse,
    DataWarehouseArgs,
    ServerlessCache,
    ServerlessCacheArgs,
)
from settings import load_settings
from stack.contract import export_contract
from stack.providers import build_providers

settings = load_settings()  # every config problem at once, or typed settings
providers = build_providers()  # explicit providers; credentials come from the environment

warehouse = DataWarehouse(
    "warehouse",
    DataWarehouseArgs(
        settings.warehouse, settings.secrets.clickhouse_admin_password, settings.tags, settings.protect
    ),
    providers.opts(),
)
cache = ServerlessCache("cache", ServerlessCacheArgs(settings.cache, settings.protect), providers.opts())
messaging = AsyncMessaging(
    "messaging",
    AsyncMessagingArgs(
        settings.messaging,
        settings.secrets.qstash_token,
        settings.secrets.qstash_current_signing_key,
        settings.secrets.qstash_next_signing_key,
    ),
    providers.opts(),
)

export_contract(warehouse, cache, messaging)
