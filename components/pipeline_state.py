"""PipelineState: Redis for the CDC pipeline's cursors and dedup keys (REQ-DATA-002)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from settings import Consumer
from settings import PipelineState as PipelineStateSettings

from .redis import redis_database
from .redis_access import consumer_users


@dataclass
class PipelineStateArgs:
    settings: PipelineStateSettings
    consumers: dict[str, Consumer]  # every consumer; those with redis: pipeline get a user here
    protect: bool = False


class PipelineState(pulumi.ComponentResource):
    """A second global Upstash Redis database that never evicts, with an ACL user per consumer.

    Upstash's eviction also removes keys without a TTL, so a cache-style database would silently
    lose CDC cursors and dedup keys under memory pressure; here writes fail loudly instead (and
    the budget caps cost). Policy `redis-state-no-eviction` rejects eviction on it.
    """

    def __init__(
        self, name: str, args: PipelineStateArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("salla:analytics:PipelineState", name, None, opts)
        self.database = redis_database(
            f"{name}-redis", args.settings, eviction=False, parent=self, protect=args.protect
        )
        self.rest_url = pulumi.Output.concat("https://", self.database.endpoint)
        self.access = consumer_users(
            f"{name}-redis",
            self.database,
            args.settings,
            args.consumers,
            "pipeline",
            rest_url=self.rest_url,
            parent=self,
            protect=args.protect,
        )
        self.register_outputs({"rest_url": self.rest_url, "users": sorted(self.access)})
