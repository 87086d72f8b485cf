"""What every Upstash Redis database of the stack has (components.redis)."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    Field,
    model_validator,
)

from . import catalog
from .errors import fail, rule
from .rules import (
    SET_EXAMPLE,
    Cidr,
    Settings,
    UpstashRegion,
    at_least,
    no_duplicates,
    resource_name,
)


class RedisDatabase(Settings):
    """What every Upstash Redis database of the stack has (global database, TLS always on)."""

    database_name: Annotated[str, resource_name("salla-cache-dev, salla-pipeline-dev")] = Field(
        examples=["salla-cache-dev"]
    )
    primary_region: UpstashRegion = Field("us-east-1", examples=["us-east-1"])
    read_regions: list[str] = Field(default_factory=list)
    # Required: unset, the provider's Check fills in USD 20/month, after which Upstash throttles.
    budget: Annotated[
        int, at_least(1, "must be a positive number of USD per month", SET_EXAMPLE.format("50"))
    ] = Field(examples=[50])
    ip_allow_list: Annotated[list[Cidr], no_duplicates()] = Field(default_factory=list)

    @model_validator(mode="after")
    def _read_regions(self) -> RedisDatabase:
        problems = []
        allowed = catalog.sorted_values(catalog.UPSTASH_REDIS_REGIONS)
        for i, region in enumerate(self.read_regions):
            at: list[str | int] = ["readRegions", i]
            if region == self.primary_region:
                problems.append(
                    rule("repeats the primary region", "remove it from readRegions", at=at, value=region)
                )
            elif region not in catalog.UPSTASH_REDIS_REGIONS:
                problems.append(
                    rule(
                        "is not an Upstash global-database region",
                        "use one of: " + allowed,
                        at=at,
                        value=region,
                    )
                )
            elif region in self.read_regions[:i]:
                problems.append(rule("is listed twice", "remove the duplicate", at=at, value=region))
        if problems:
            fail(*problems)
        return self
