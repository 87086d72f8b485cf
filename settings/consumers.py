"""consumers: who may use what (components.warehouse_access, stack.contract)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    model_validator,
)

from clickhouse_sql.client import NAMESPACE
from dynamic_props import LABEL

from .errors import fail, rule
from .passwords import OBSERVER_USER, PROVISIONER_USER
from .redis import KEY_PREFIX
from .rules import (
    Settings,
    at_least,
    no_duplicates,
)
from .vercel_delivery import Vercel

CONSUMER_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$|^[a-z]$")
# The label of the password every consumer had before `passwords` existed (its RandomPassword keeps
# the old resource name and keepers, so switching from `rotation` to `passwords` changes no password).
INITIAL_PASSWORD = "initial"
# Every SQL user, settings profile and quota the program manages carries this prefix: the
# provisioning user's user management is granted on `salla_*` only (docs/provisioning.md), so it
# cannot touch a user made by hand (a BI tool, `default`, `observer`, itself).
SQL_NAMESPACE = NAMESPACE  # defined once, where the SQL provider needs it (clickhouse_sql.client)
GIB = 1024**3


def _password_labels(values: list[str]) -> list[str]:
    problems = [
        rule(
            "is not a password label: lowercase letters, digits and hyphens (max 31)",
            "use e.g. 2026-11",
            at=[i],
            value=v,
        )
        for i, v in enumerate(values)
        if not LABEL.match(v)
    ]
    if not 1 <= len(values) <= 2:
        problems.append(
            rule(
                "must list 1 password label, or 2 while a rotation is in progress (old first, new last)",
                "start a rotation: [old, new]; finish it: [new]",
                value=values,
            )
        )
    if problems:
        fail(*problems)
    return values


def _no_null_labels(values: Any) -> Any:
    """`pulumi config set --path '...passwords[1]' x` on a consumer without `passwords` writes
    [null, x]: name that, with the commands that fill the gap (the missing label was `initial`)."""
    if not isinstance(values, list) or None not in values:
        return values
    nulls = [i for i, v in enumerate(values) if v is None]
    commands = (
        [f"pulumi config set --path '{{path}}[0]' {INITIAL_PASSWORD} --stack {{stack}}"] if 0 in nulls else []
    )
    commands += [f"pulumi config rm --path '{{path}}[{i}]' --stack {{stack}}" for i in reversed(nulls) if i]
    fail(
        rule(
            "has an empty (null) entry: `pulumi config set --path '...passwords[1]'` on a consumer "
            f"without a `passwords` key writes [null, <label>] (the unset list meant [{INITIAL_PASSWORD}])",
            " && ".join(commands) + " (then `pulumi config get --path '{path}' --stack {stack}` "
            f'shows e.g. ["{INITIAL_PASSWORD}", "<new label>"])',
        )
    )


PositiveInt = Annotated[int, at_least(1, "must be at least 1", "use a whole number >= 1")]


class Limits(Settings):
    """Per-consumer ClickHouse limits: settings-profile constraints and an hourly quota.

    Unset keys take the defaults of the consumer's access (LIMIT_DEFAULTS); prod must set them all
    (policy clickhouse-consumer-limits)."""

    max_memory_usage_bytes: PositiveInt | None = Field(None, examples=[4 * GIB])
    max_execution_time_seconds: PositiveInt | None = Field(None, examples=[60])
    max_result_rows: PositiveInt | None = Field(None, examples=[1_000_000])
    queries_per_hour: PositiveInt | None = Field(None, examples=[10_000])
    read_rows_per_hour: PositiveInt | None = Field(None, examples=[10_000_000_000])


# Defaults by access. Readers (dashboards, the AI service) get small per-query maxima; the writer
# (the pipeline) larger ones and no result-row cap (INSERT ... SELECT must not be cut off).
LIMIT_DEFAULTS: dict[str, dict[str, int | None]] = {
    "read": {
        "max_memory_usage_bytes": 4 * GIB,
        "max_execution_time_seconds": 60,
        "max_result_rows": 1_000_000,
        "queries_per_hour": 10_000,
        "read_rows_per_hour": 10_000_000_000,
    },
    "write": {
        "max_memory_usage_bytes": 16 * GIB,
        "max_execution_time_seconds": 1_800,
        "max_result_rows": None,
        "queries_per_hour": 50_000,
        "read_rows_per_hour": 100_000_000_000,
    },
}


class Consumer(Settings):
    """One consumer service: exactly what it may use (least privilege: nothing by default)."""

    clickhouse: Literal["read", "write", "none"] = Field("none", examples=["read"])
    redis: Literal["cache", "pipeline", "none"] = Field("none", examples=["cache"])
    qstash: Annotated[list[Literal["publish", "receive"]], no_duplicates()] = Field(default_factory=list)
    # The ClickHouse passwords (and Redis tokens) the users accept, by label, newest last: [a] -> [a, b]
    # starts a rotation (b added, a kept; outputs carry b), [a, b] -> [b] finishes it (a removed).
    passwords: Annotated[list[str], BeforeValidator(_no_null_labels), AfterValidator(_password_labels)] = (
        Field(default_factory=lambda: [INITIAL_PASSWORD], examples=[["initial", "2026-11"]])
    )
    limits: Limits | None = None
    # Required when consumers share a Redis database: the prefix of every key its Redis user may
    # touch (settings.redis.key_prefixes; docs/redis-acl.md).
    key_prefix: str | None = Field(None, examples=["app:"])
    # Step 1 of removing a consumer from a protected stack: lifts `protect` from its SQL user,
    # limits and passwords (the next `up` changes nothing else); step 2 deletes the entry.
    retire: bool = Field(False, examples=[True])
    # Take over SQL objects of this consumer (user, settings profile, quota) that already exist on the
    # server although no state holds them: without it such a create stops (docs/drift.md).
    adopt: bool = Field(False, examples=[True])
    # Migration to the SQL namespace (docs/provisioning.md): while true, the consumer's former user
    # `<name>` (and `<name>_limits`, `<name>_quota`) is kept, unprotected, beside `salla_<name>`,
    # which the outputs hand out; removing the key drops the former objects.
    legacy_sql_user: bool = Field(False, examples=[True])
    vercel: Vercel | None = None

    @model_validator(mode="before")
    @classmethod
    def _former_rotation(cls, value: Any) -> Any:
        """`rotation` (one value, retired on the next deploy) became the explicit `passwords` list."""
        if isinstance(value, dict) and "rotation" in value:
            fail(
                rule(
                    "was replaced by `passwords` (rotation in two explicit steps, docs/rotation.md)",
                    "remove `rotation`; the `initial` password keeps the password generated while "
                    "`rotation` was unset; a consumer that had set it gets a new password (a "
                    "replacement) on the next `up`: redeploy that consumer afterwards",
                    at=["rotation"],
                    value=value["rotation"],
                )
            )
        return value

    @model_validator(mode="after")
    def _clickhouse_only(self) -> Consumer:
        retire_target = self.vercel is not None or self.redis != "none"
        if self.clickhouse == "none" and (
            self.limits is not None
            or (self.retire and not retire_target)
            or self.legacy_sql_user
            or self.adopt
        ):
            fail(
                rule(
                    "limits, adopt and legacySqlUser apply to a consumer's ClickHouse user, retire to its "
                    "ClickHouse or Redis user or Vercel variables; this consumer has none of them",
                    "remove them, or set clickhouse: read|write",
                    value=None,
                )
            )
        if self.key_prefix is not None and not KEY_PREFIX.match(self.key_prefix):
            fail(
                rule(
                    "is not a key prefix: letters, digits and ':._{}/-' (max 63, no glob characters)",
                    "use e.g. app:",
                    at=["keyPrefix"],
                    value=self.key_prefix,
                )
            )
        if self.key_prefix is not None and self.redis == "none":
            fail(
                rule(
                    "applies to a consumer's Redis user; this consumer has none",
                    "remove it",
                    at=["keyPrefix"],
                    value=self.key_prefix,
                )
            )
        return self

    def effective_limits(self) -> dict[str, int | None]:
        """The limits this consumer gets: its own, else its access's defaults (readers/writers)."""
        defaults = LIMIT_DEFAULTS.get(self.clickhouse, {})
        own = self.limits.model_dump() if self.limits else {}
        return {key: own.get(key) if own.get(key) is not None else value for key, value in defaults.items()}

    def limits_complete(self) -> bool:
        """True when every limit is set in config (none comes from the defaults)."""
        own = self.limits.model_dump() if self.limits else {}
        return all(own.get(key) is not None for key in LIMIT_DEFAULTS.get(self.clickhouse, {}))


# SQL users a consumer's former (pre-namespace) user name may never be: the service's admin user,
# and the users `make provisioner` makes. Name -> what it is.
RESERVED_USERS = {
    "default": "the ClickHouse admin user",
    PROVISIONER_USER: "the provisioning user",
    OBSERVER_USER: "the read-only observer user",
}
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
        elif legacy_sql_user_name(name) in RESERVED_CONSUMERS:
            problems.append(
                rule(
                    f"is reserved: its SQL user would be {RESERVED_USERS[legacy_sql_user_name(name)]} "
                    f"'{legacy_sql_user_name(name)}'",
                    "rename the consumer, e.g. app",
                    at=[name],
                    value=name,
                )
            )
    namespaced = {sql_user_name(name): name for name in consumers}
    for name, consumer in consumers.items():
        other = namespaced.get(legacy_sql_user_name(name))
        if consumer.legacy_sql_user and other is not None:
            problems.append(
                rule(
                    f"its former SQL user '{legacy_sql_user_name(name)}' is the SQL user of consumer "
                    f"'{other}': both cannot exist",
                    f"migrate '{other}' first (or rename one of them), then set legacySqlUser here",
                    at=[name, "legacySqlUser"],
                    value=True,
                )
            )
    if problems:
        fail(*problems)
    return consumers


def legacy_sql_user_name(consumer: str) -> str:
    """A consumer's SQL user before the namespace (consumer names allow '-', SQL identifiers here do not)."""
    return consumer.replace("-", "_")


def sql_user_name(consumer: str) -> str:
    """A consumer's ClickHouse SQL user, in the namespace: `app` -> `salla_app`."""
    return SQL_NAMESPACE + legacy_sql_user_name(consumer)
