"""Salla Analytics data platform, one stack: validated settings -> providers -> components -> contract."""

from components import (
    AsyncMessaging,
    AsyncMessagingArgs,
    DataWarehouse,
    DataWarehouseArgs,
    PipelineState,
    PipelineStateArgs,
    ServerlessCache,
    ServerlessCacheArgs,
    VercelDelivery,
    VercelDeliveryArgs,
    WarehouseAccess,
    WarehouseAccessArgs,
)
from settings import load_settings
from stack.contract import Sources, export_contract
from stack.providers import build_providers

settings = load_settings()  # every config problem at once (config and environment), or typed settings
providers = build_providers(vercel=settings.vercel_team is not None)
secrets = settings.secrets

warehouse = DataWarehouse(
    "warehouse",
    DataWarehouseArgs(
        settings.warehouse,
        secrets.clickhouse_admin_password_hash,
        settings.tags,
        settings.protect,
    ),
    providers.opts(),
)
access = WarehouseAccess(
    "warehouse-access",
    WarehouseAccessArgs(
        settings.warehouse.database,
        settings.consumers,
        warehouse.sql_connection,
        warehouse.host,
        warehouse.https_port,
        settings.protect,
        settings.warehouse.adopt_roles,
    ),
    providers.opts(),
)
cache = ServerlessCache(
    "cache", ServerlessCacheArgs(settings.cache, settings.consumers, settings.protect), providers.opts()
)
pipeline = PipelineState(
    "pipeline-state",
    PipelineStateArgs(settings.pipeline_state, settings.consumers, settings.protect),
    providers.opts(),
)
messaging = AsyncMessaging(
    "messaging",
    AsyncMessagingArgs(settings.messaging, settings.upstash_account, settings.protect),
    providers.opts(),
)

envs = export_contract(
    settings.consumers,
    Sources(
        clickhouse_urls=access.urls,
        clickhouse_rotation=access.rotation,
        clickhouse_host=warehouse.host,
        clickhouse_https_port=warehouse.https_port,
        clickhouse_service_id=warehouse.service_id,
        clickhouse_database=settings.warehouse.database,
        cache=cache.access,
        pipeline=pipeline.access,
        cache_rest_url=cache.rest_url,
        pipeline_rest_url=pipeline.rest_url,
        qstash_token=messaging.qstash_token,
        qstash_current_signing_key=messaging.current_signing_key,
        qstash_next_signing_key=messaging.next_signing_key,
        qstash_topics=messaging.topic_names,
    ),
)
for name, consumer in settings.consumers.items():
    if consumer.vercel is not None:
        VercelDelivery(
            f"vercel-{name}",
            VercelDeliveryArgs(
                consumer.vercel, envs[name], settings.vercel_team, settings.protect, consumer.retire
            ),
            providers.opts(),
        )
