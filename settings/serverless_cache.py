"""cache: the settings of the Redis cache (components.serverless_cache)."""

from __future__ import annotations

from pydantic import Field

from .redis import RedisDatabase


class Cache(RedisDatabase):
    """cache: the Upstash Redis database for sessions and API caching (evicts when full)."""

    eviction: bool = Field(True, examples=[True])
    auto_scale: bool | None = Field(None, examples=[True])
    prod_pack: bool | None = Field(None, examples=[True])
