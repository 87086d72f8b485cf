"""ServerlessCache: the Upstash Redis database for sessions and API caching."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from settings import Cache

from .redis import redis_database


@dataclass
class ServerlessCacheArgs:
    settings: Cache
    protect: bool = False


class ServerlessCache(pulumi.ComponentResource):
    """A global Upstash Redis database (primary + optional read regions), TLS always on, evicting."""

    def __init__(
        self, name: str, args: ServerlessCacheArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("salla:analytics:ServerlessCache", name, None, opts)
        s = args.settings
        self.database, self.access = redis_database(
            f"{name}-redis",
            s,
            eviction=s.eviction,
            parent=self,
            protect=args.protect,
            auto_scale=s.auto_scale,
            prod_pack=s.prod_pack,
        )
        self.register_outputs({"rest_url": self.access.rest_url, "redis_url": self.access.url})
