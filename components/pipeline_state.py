"""PipelineState: Redis for the CDC pipeline's cursors and dedup keys (REQ-DATA-002)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from settings import PipelineState as PipelineStateSettings

from .redis import redis_database


@dataclass
class PipelineStateArgs:
    settings: PipelineStateSettings
    protect: bool = False


class PipelineState(pulumi.ComponentResource):
    """A second global Upstash Redis database that never evicts.

    Upstash's eviction also removes keys without a TTL, so a cache-style database would silently
    lose CDC cursors and dedup keys under memory pressure; here writes fail loudly instead (and
    the budget caps cost). Policy `redis-state-no-eviction` rejects eviction on it.
    """

    def __init__(
        self, name: str, args: PipelineStateArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("salla:analytics:PipelineState", name, None, opts)
        self.database, self.access = redis_database(
            f"{name}-redis", args.settings, eviction=False, parent=self, protect=args.protect
        )
        self.register_outputs({"rest_url": self.access.rest_url, "redis_url": self.access.url})
