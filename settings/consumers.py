"""consumers: who may use what (components.warehouse_access, stack.contract)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import (
    Field,
)

from .errors import fail, rule
from .passwords import PROVISIONER_USER
from .rules import (
    Settings,
    no_duplicates,
)
from .vercel_delivery import Vercel

CONSUMER_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$|^[a-z]$")


class Consumer(Settings):
    """One consumer service: exactly what it may use (least privilege: nothing by default)."""

    clickhouse: Literal["read", "write", "none"] = Field("none", examples=["read"])
    redis: Literal["cache", "pipeline", "none"] = Field("none", examples=["cache"])
    qstash: Annotated[list[Literal["publish", "receive"]], no_duplicates()] = Field(default_factory=list)
    # Changing it (any string or number) rotates this consumer's ClickHouse password.
    rotation: str | int | float | None = Field(None, examples=["2026-11"])
    vercel: Vercel | None = None


# SQL users a consumer may never take over: the service's admin user, and the user the program
# manages the SQL objects with (`make provisioner`). Name -> what it is.
RESERVED_USERS = {"default": "the ClickHouse admin user", PROVISIONER_USER: "the provisioning user"}
RESERVED_CONSUMERS = frozenset(RESERVED_USERS)


def consumer_names(consumers: dict[str, Consumer]) -> dict[str, Consumer]:
    if not consumers:
        fail(
            rule(
                "must declare at least one consumer",
                "e.g. consumers: {app: {clickhouse: read, redis: cache}}",
            )
        )
    problems = []
    for name in consumers:
        if not CONSUMER_NAME.match(name):
            problems.append(
                rule(
                    "is not a consumer name: a lowercase letter, then lowercase letters, digits and "
                    "hyphens (max 32)",
                    "rename it, e.g. data-pipeline",
                    at=[name],
                    value=name,
                )
            )
        elif sql_user_name(name) in RESERVED_CONSUMERS:
            problems.append(
                rule(
                    f"is reserved: its SQL user would be {RESERVED_USERS[sql_user_name(name)]} "
                    f"'{sql_user_name(name)}'",
                    "rename the consumer, e.g. app",
                    at=[name],
                    value=name,
                )
            )
    if problems:
        fail(*problems)
    return consumers


def sql_user_name(consumer: str) -> str:
    """A consumer's ClickHouse SQL user (consumer names allow '-', the SQL identifiers here do not)."""
    return consumer.replace("-", "_")
