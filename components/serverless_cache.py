"""ServerlessCache: the Upstash Redis database for sessions and API caching."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import upstash_pulumi as upstash

from settings import Cache

from .urls import credential_url


@dataclass
class ServerlessCacheArgs:
    settings: Cache
    protect: bool = False


class ServerlessCache(pulumi.ComponentResource):
    """A global Upstash Redis database (primary + optional read regions), TLS always on."""

    redis_url: pulumi.Output[str]
    rest_url: pulumi.Output[str]
    rest_token: pulumi.Output[str]
    read_only_rest_token: pulumi.Output[str]

    def __init__(
        self, name: str, args: ServerlessCacheArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("salla:analytics:ServerlessCache", name, None, opts)
        s = args.settings
        self.database = upstash.RedisDatabase(
            f"{name}-redis",
            database_name=s.database_name,
            # Regional databases are deprecated by Upstash: always a global one.
            region="global",
            primary_region=s.primary_region,
            read_regions=list(s.read_regions) or None,
            tls=True,
            eviction=s.eviction,
            budget=s.budget,
            auto_scale=s.auto_scale,
            prod_pack=s.prod_pack,
            ip_allowlists=list(s.ip_allow_list) or None,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        db = self.database
        self.redis_url = pulumi.Output.secret(
            pulumi.Output.all(db.password, db.endpoint, db.port).apply(
                lambda parts: credential_url("rediss", "default", *parts)
            )
        )
        self.rest_url = pulumi.Output.concat("https://", db.endpoint)
        self.rest_token = pulumi.Output.secret(db.rest_token)
        self.read_only_rest_token = pulumi.Output.secret(db.read_only_rest_token)
        self.register_outputs(
            {
                "redis_url": self.redis_url,
                "rest_url": self.rest_url,
                "rest_token": self.rest_token,
                "read_only_rest_token": self.read_only_rest_token,
            }
        )
