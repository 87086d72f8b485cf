"""What every Upstash Redis database of the stack has (components.redis)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated

from pydantic import (
    AfterValidator,
    Field,
    model_validator,
)

from upstash_access.acl import KEY_PATTERN  # the provider checks the same rule

from . import catalog
from .errors import fail, rule
from .rules import (
    SET_EXAMPLE,
    Cidr,
    Settings,
    UpstashRegion,
    at_least,
    no_duplicates,
    non_empty,
    resource_name,
)

if TYPE_CHECKING:
    from .consumers import Consumer

KEY_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:._{}/-]{0,62}$")


def _key_patterns(values: list[str]) -> list[str]:
    problems = [
        rule(
            "is not a key pattern: a literal prefix of letters, digits and ':._{}/-', "
            "optionally ending in '*'",
            "e.g. '*' (every key) or 'cursor:*'",
            at=[i],
            value=v,
        )
        for i, v in enumerate(values)
        if not v or not KEY_PATTERN.match(v)
    ]
    if problems:
        fail(*problems)
    return values


def consumer_key_patterns(database: RedisDatabase, prefix: str | None) -> list[str]:
    """The consumer's ACL key patterns: the database's, each behind the consumer's keyPrefix."""
    return [(prefix or "") + pattern for pattern in database.key_patterns]


def key_prefixes(consumers: dict[str, Consumer]) -> dict[str, Consumer]:
    """Consumers sharing a Redis database need distinct, non-overlapping keyPrefix values (a validator)."""
    problems = []
    for database in ("cache", "pipeline"):
        sharing = {name: c for name, c in consumers.items() if c.redis == database}
        if len(sharing) < 2:
            continue
        others = ", ".join(sorted(sharing))
        for name, consumer in sharing.items():
            at: list[str | int] = [name, "keyPrefix"]
            if consumer.key_prefix is None:
                problems.append(
                    rule(
                        f"is required: consumers {others} share the {database} database, so each needs its "
                        "own key prefix (its Redis user may touch only keys under it)",
                        f"set a prefix no other consumer's starts with, e.g. {{set:{name}:}}",
                        at=at,
                        value=None,
                    )
                )
                continue
            clash = sorted(
                other
                for other, c in sharing.items()
                if other != name
                and c.key_prefix is not None
                and (
                    c.key_prefix.startswith(consumer.key_prefix)
                    or consumer.key_prefix.startswith(c.key_prefix)
                )
            )
            if clash:
                problems.append(
                    rule(
                        f"overlaps the key prefix of {', '.join(clash)} on the shared {database} database "
                        "(one is a prefix of the other, so one consumer could touch the other's keys)",
                        "give each consumer a prefix that no other consumer's prefix starts with, "
                        "e.g. app: and jobs:",
                        at=at,
                        value=consumer.key_prefix,
                    )
                )
    if problems:
        fail(*problems)
    return consumers


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
    # The keys a consumer's ACL user may touch (docs/redis-acl.md); with `consumers.<name>.keyPrefix`
    # each pattern is prefixed by it. Literal prefixes, optionally ending in '*'.
    key_patterns: Annotated[
        list[str],
        non_empty("must be a non-empty list of key patterns", "e.g. keyPatterns: ['*']"),
        no_duplicates(),
        AfterValidator(_key_patterns),
    ] = Field(default_factory=lambda: ["*"], examples=[["*"]])

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
