"""The outputs contract consumer services read with `pulumi stack output`.

Names and secretness are part of the interface with the app and the data pipeline: change
them only together with the consumers.
"""

from __future__ import annotations

from typing import Any

import pulumi

from components import AsyncMessaging, DataWarehouse, ServerlessCache

# output name -> secret?
OUTPUTS: dict[str, bool] = {
    "clickhouse_connection_string": True,
    "clickhouse_host": False,
    "clickhouse_https_port": False,
    "clickhouse_service_id": False,
    "redis_url": True,
    "redis_rest_url": False,
    "redis_token": True,
    "redis_read_only_token": True,
    "qstash_token": True,
    "qstash_current_signing_key": True,
    "qstash_next_signing_key": True,
    "qstash_topics": False,
}


def export_contract(warehouse: DataWarehouse, cache: ServerlessCache, messaging: AsyncMessaging) -> None:
    """Export every contract output (the components build secret ones as secret Outputs; tested)."""
    values: dict[str, pulumi.Output[Any]] = {
        "clickhouse_connection_string": warehouse.connection_string,
        "clickhouse_host": warehouse.host,
        "clickhouse_https_port": warehouse.https_port,
        "clickhouse_service_id": warehouse.service_id,
        "redis_url": cache.redis_url,
        "redis_rest_url": cache.rest_url,
        "redis_token": cache.rest_token,
        "redis_read_only_token": cache.read_only_rest_token,
        "qstash_token": messaging.qstash_token,
        "qstash_current_signing_key": messaging.current_signing_key,
        "qstash_next_signing_key": messaging.next_signing_key,
        "qstash_topics": messaging.topic_names,
    }
    for name, value in values.items():
        pulumi.export(name, value)
