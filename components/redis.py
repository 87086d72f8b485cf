"""One Upstash Redis database the way this project declares them all: global, TLS, allow-listed,
and one ACL user per consumer of it (components.redis_access); `default` reaches no consumer."""

from __future__ import annotations

from typing import Any

import pulumi
import upstash_pulumi as upstash

from settings import RedisDatabase


def redis_database(
    name: str,
    settings: RedisDatabase,
    *,
    eviction: bool,
    parent: pulumi.Resource,
    protect: bool,
    **extra: Any,
) -> upstash.RedisDatabase:
    return upstash.RedisDatabase(
        name,
        database_name=settings.database_name,
        # Regional databases are deprecated by Upstash: always a global one.
        region="global",
        primary_region=settings.primary_region,
        read_regions=list(settings.read_regions) or None,
        tls=True,  # the provider's default is false
        eviction=eviction,
        budget=settings.budget,
        ip_allowlists=list(settings.ip_allow_list) or None,
        opts=pulumi.ResourceOptions(parent=parent, protect=protect),
        **extra,
    )
