"""The outputs contract: what the consumers read, under which names, and which consumer gets what.

Names and secretness are the interface with the app, the data pipeline and the AI service:
change them only together with the consumers. No output carries the ClickHouse admin password in
any form, and none the Redis databases' `default` user or their own REST tokens: every Redis URL
and token is a consumer's own ACL user's. `consumer_env` holds, per consumer, exactly the variables
its access allows; it is what `make outputs CONSUMER=<name>` writes and what is delivered into Vercel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from components.redis_access import RedisAccess
from settings import Consumer

# output name -> secret?
OUTPUTS: dict[str, bool] = {
    "clickhouse_connection_string": True,  # the app's read-only URL (consumer `app`)
    "clickhouse_etl_connection_string": True,  # the data pipeline's writer URL (`data-pipeline`)
    "clickhouse_host": False,
    "clickhouse_https_port": False,
    "clickhouse_service_id": False,
    "clickhouse_rotation": False,  # per consumer: password labels and rotation step (no secret)
    "redis_url": True,  # consumer `app`'s own Redis user (redis: cache)
    "redis_rest_url": False,
    "redis_token": True,
    "pipeline_redis_url": True,  # consumer `data-pipeline`'s own Redis user (redis: pipeline)
    "pipeline_redis_rest_url": False,
    "pipeline_redis_token": True,
    "qstash_token": True,
    "qstash_current_signing_key": True,
    "qstash_next_signing_key": True,
    "qstash_topics": False,
    "consumer_env": True,
}
# The seed's output names, bound to the seed's consumers and the access they must have.
SEED_CONSUMERS = {
    "clickhouse_connection_string": ("app", "read"),
    "clickhouse_etl_connection_string": ("data-pipeline", "write"),
}
# The seed's Redis outputs: output -> (consumer, its redis database, which part of its access).
SEED_REDIS = {
    "redis_url": ("app", "cache", "url"),
    "redis_token": ("app", "cache", "rest_token"),
    "pipeline_redis_url": ("data-pipeline", "pipeline", "url"),
    "pipeline_redis_token": ("data-pipeline", "pipeline", "rest_token"),
}


@dataclass(frozen=True)
class Sources:
    """What the components offer the consumers."""

    clickhouse_urls: Mapping[str, pulumi.Output[str]]  # consumer -> its own URL
    clickhouse_rotation: Mapping[str, Mapping[str, object]]  # consumer -> labels, rotation step
    clickhouse_host: pulumi.Output[Any]
    clickhouse_https_port: pulumi.Output[Any]
    clickhouse_service_id: pulumi.Output[str]
    clickhouse_database: str
    cache: Mapping[str, RedisAccess]  # consumer -> its own user on the cache database
    pipeline: Mapping[str, RedisAccess]  # consumer -> its own user on the pipeline-state database
    cache_rest_url: pulumi.Output[str]
    pipeline_rest_url: pulumi.Output[str]
    qstash_token: pulumi.Output[str]
    qstash_current_signing_key: pulumi.Output[str]
    qstash_next_signing_key: pulumi.Output[str]
    qstash_topics: pulumi.Output[list[str]]

    def redis(self, database: str, consumer: str) -> RedisAccess:
        """The consumer's own user on the `cache` or `pipeline` database."""
        return (self.cache if database == "cache" else self.pipeline)[consumer]


def consumer_env(name: str, consumer: Consumer, src: Sources) -> dict[str, pulumi.Input[str]]:
    """Exactly the environment variables `consumer`'s access allows (names as the clients read them)."""
    env: dict[str, pulumi.Input[str]] = {}
    if consumer.clickhouse != "none":
        env["CLICKHOUSE_URL"] = src.clickhouse_urls[name]
        env["CLICKHOUSE_HOST"] = src.clickhouse_host.apply(str)
        env["CLICKHOUSE_HTTPS_PORT"] = src.clickhouse_https_port.apply(str)
        env["CLICKHOUSE_DATABASE"] = src.clickhouse_database
    if consumer.redis != "none":
        redis = src.redis(consumer.redis, name)
        env["REDIS_URL"] = redis.url
        env["UPSTASH_REDIS_REST_URL"] = redis.rest_url
        env["UPSTASH_REDIS_REST_TOKEN"] = redis.rest_token
    if "publish" in consumer.qstash:
        env["QSTASH_TOKEN"] = src.qstash_token
        env["QSTASH_TOPICS"] = src.qstash_topics.apply(",".join)
    if "receive" in consumer.qstash:
        env["QSTASH_CURRENT_SIGNING_KEY"] = src.qstash_current_signing_key
        env["QSTASH_NEXT_SIGNING_KEY"] = src.qstash_next_signing_key
    return env


def export_contract(
    consumers: Mapping[str, Consumer], src: Sources
) -> dict[str, dict[str, pulumi.Input[str]]]:
    """Export every contract output; returns the per-consumer variables (for Vercel delivery)."""
    envs = {name: consumer_env(name, consumer, src) for name, consumer in consumers.items()}
    values: dict[str, Any] = {
        "clickhouse_host": src.clickhouse_host,
        "clickhouse_https_port": src.clickhouse_https_port,
        "clickhouse_service_id": src.clickhouse_service_id,
        "clickhouse_rotation": dict(src.clickhouse_rotation),
        "redis_rest_url": src.cache_rest_url,
        "pipeline_redis_rest_url": src.pipeline_rest_url,
        "qstash_token": src.qstash_token,
        "qstash_current_signing_key": src.qstash_current_signing_key,
        "qstash_next_signing_key": src.qstash_next_signing_key,
        "qstash_topics": src.qstash_topics,
        "consumer_env": envs,
    }
    for output, (consumer, access) in SEED_CONSUMERS.items():
        declared = consumers.get(consumer)
        if declared is not None and declared.clickhouse == access:
            values[output] = src.clickhouse_urls[consumer]
    for output, (consumer, database, part) in SEED_REDIS.items():
        declared = consumers.get(consumer)
        if declared is not None and declared.redis == database:
            values[output] = getattr(src.redis(database, consumer), part)
    # The one place that decides what is secret in the outputs: the table above.
    for name, value in values.items():
        pulumi.export(name, pulumi.Output.secret(value) if OUTPUTS[name] else value)
    return envs
