"""ServerlessCache: the Upstash Redis database for sessions and API caching."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from settings import Cache, Consumer

from .redis import redis_database
from .redis_access import consumer_users


@dataclass
class ServerlessCacheArgs:
    settings: Cache
    consumers: dict[str, Consumer]  # every consumer; those with redis: cache get a user here
    protect: bool = False


class ServerlessCache(pulumi.ComponentResource):
    """A global Upstash Redis database (primary + optional read regions), TLS always on, evicting,
    with an ACL user per consumer (`access[consumer]`)."""

    def __init__(
        self, name: str, args: ServerlessCacheArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("salla:analytics:ServerlessCache", name, None, opts)
        s = args.settings
        self.database = redis_database(
            f"{name}-redis",
            s,
            eviction=s.eviction,
            parent=self,
            protect=args.protect,
            auto_scale=s.auto_scale,
            prod_pack=s.prod_pack,
        )
        self.rest_url = pulumi.Output.concat("https://", self.database.endpoint)
        self.access = consumer_users(
            f"{name}-redis",
            self.database,
            s,
            args.consumers,
            "cache",
            rest_url=self.rest_url,
            parent=self,
            protect=args.protect,
        )
        self.register_outputs({"rest_url": self.rest_url, "users": sorted(self.access)})
