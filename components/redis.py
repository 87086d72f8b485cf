"""One Upstash Redis database the way this project declares them all: global, TLS, allow-listed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import upstash_pulumi as upstash

from settings import RedisDatabase

from .urls import credential_url


@dataclass(frozen=True)
class RedisAccess:
    """What a client needs: the rediss:// URL and the REST endpoint with its tokens (secret Outputs)."""

    url: pulumi.Output[str]
    rest_url: pulumi.Output[str]
    rest_token: pulumi.Output[str]
    read_only_rest_token: pulumi.Output[str]


def redis_database(
    name: str,
    settings: RedisDatabase,
    *,
    eviction: bool,
    parent: pulumi.Resource,
    protect: bool,
    **extra: Any,
) -> tuple[upstash.RedisDatabase, RedisAccess]:
    database = upstash.RedisDatabase(
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
    url = pulumi.Output.all(database.password, database.endpoint, database.port).apply(
        lambda parts: credential_url("rediss", "default", *parts)
    )
    # The provider returns password and tokens as secrets: the URL built from them is one too.
    access = RedisAccess(
        url=url,
        rest_url=pulumi.Output.concat("https://", database.endpoint),
        rest_token=database.rest_token,
        read_only_rest_token=database.read_only_rest_token,
    )
    return database, access
