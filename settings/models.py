"""The stack's settings as pydantic models: camelCase config keys, typos rejected, every rule here.

Field rules live next to their field (constrained, annotated types); rules that span fields are
model validators. Every rule raises `fail(rule(...))` with its own wording and fix, so the report
names the key, the value, the rule and the fix (settings.errors). Provider catalogs are data in
settings.catalog.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Callable
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from . import catalog
from .errors import fail, rule

DEFAULT_IP_DESCRIPTION = "allow-listed by salla-analytics-infra"
PASSWORD_MIN_LENGTH = 16
# Lowercase alphanumerics with hyphens (the seeds' naming convention).
RESOURCE_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# QStash accepts letters, digits, '-', '_' and '.'.
TOPIC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class Settings(BaseModel):
    """Base of every config section: camelCase keys, strict types, unknown keys are errors."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        strict=True,
        frozen=True,
    )


# -- field rules ----------------------------------------------------------------------------------


# In a rule's fix: "the `pulumi config set` command for this key with this example value".
SET_EXAMPLE = "{{set:{}}}"


def cidr_problem(source: str) -> str | None:
    """Why `source` is not a valid IP address or CIDR block (None when it is)."""
    try:
        ipaddress.ip_network(source, strict=True)
    except ValueError as exc:
        try:
            loose = ipaddress.ip_network(source, strict=False)
        except ValueError:
            return f"not a valid IP address or CIDR block ({exc})"
        return f"has host bits set; did you mean {loose}?"
    return None


def _cidr(value: str) -> str:
    """The canonical text of a valid CIDR/IP ('10.0.0.1' -> '10.0.0.1/32'); its problem otherwise."""
    source = value.strip()
    if why := cidr_problem(source):
        fail(
            rule(
                why,
                "use CIDR notation such as 203.0.113.0/24",
                value=source,
                safe_rule="is not a valid IP address or CIDR block (without host bits)",
            )
        )
    return str(ipaddress.ip_network(source, strict=True))


def _resource_name(example: str) -> AfterValidator:
    def check(value: str) -> str:
        if not RESOURCE_NAME.match(value):
            fail(rule("must be lowercase letters, digits and hyphens (max 63)", f"e.g. {example}"))
        return value

    return AfterValidator(check)


def _one_of(what: str, allowed: frozenset[int] | frozenset[str] | tuple[str, ...]) -> AfterValidator:
    def check(value: Any) -> Any:
        if value not in allowed:
            shown = catalog.sorted_values(allowed)
            fail(rule(f"is not {what}", "use one of: " + shown))
        return value

    return AfterValidator(check)


SQL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def _sql_name(what: str, example: str) -> Any:
    def check(value: str) -> str:
        if not SQL_NAME.match(value):
            fail(
                rule(
                    f"must be a ClickHouse {what} name: lowercase letters, digits, '_' (max 63)",
                    "e.g. " + example,
                )
            )
        return value

    return check


def _https_url(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        fail(
            rule(
                f"not a URL ({exc})",
                "use an https URL such as https://pipeline.example.com/qstash",
                safe_rule="not a URL",
            )
        )
    why = None
    if parts.scheme != "https":
        why = "must use the https scheme"
    elif not parts.hostname:
        why = "has no host"
    elif parts.username or parts.password:
        why = "must not embed credentials (QStash signs requests instead)"
    if why:
        fail(rule(why, "use an https URL such as https://pipeline.example.com/qstash"))
    return url


def _uuid(value: str) -> str:
    try:
        uuid.UUID(value)
    except ValueError:
        fail(
            rule(
                "not a UUID (ClickHouse Cloud backup ids look like 1b2c...-...)",
                "copy the backup id from the ClickHouse Cloud console or API",
            )
        )
    return value


def _no_duplicates(key: Callable[[Any], Any] = lambda value: value) -> AfterValidator:
    """Every entry listed once (compared by `key`); each repeat is reported at its index."""

    def check(values: list[Any]) -> list[Any]:
        seen: set[Any] = set()
        problems = []
        for i, value in enumerate(values):
            if key(value) in seen:
                problems.append(
                    rule("is listed twice", "remove the duplicate entry", at=[i], value=key(value))
                )
            seen.add(key(value))
        if problems:
            fail(*problems)
        return values

    return AfterValidator(check)


def _at_least(minimum: int, text: str, fix: str) -> AfterValidator:
    def check(value: int) -> int:
        if value < minimum:
            fail(rule(text, fix))
        return value

    return AfterValidator(check)


def _non_empty(text: str, fix: str) -> AfterValidator:
    def check(values: list[Any]) -> list[Any]:
        if not values:
            fail(rule(text, fix))
        return values

    return AfterValidator(check)


Cidr = Annotated[str, AfterValidator(_cidr)]
HttpsUrl = Annotated[str, AfterValidator(_https_url)]
UpstashRegion = Annotated[str, _one_of("an Upstash global-database region", catalog.UPSTASH_REDIS_REGIONS)]
NonEmpty = Annotated[str, Field(min_length=1)]


# -- dataWarehouse --------------------------------------------------------------------------------


class IpAccess(Settings):
    """One allow-list entry; a plain CIDR string gets the default description."""

    cidr: str
    description: str

    @classmethod
    def __get_pydantic_json_schema__(cls, core: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        entry = handler.resolve_ref_schema(handler(core))
        return {"anyOf": [{"type": "string", "description": "a CIDR (default description)"}, entry]}

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        """A CIDR string or {cidr, description}; the CIDR problem is reported at the entry."""
        if isinstance(value, str):
            value = {"cidr": value, "description": DEFAULT_IP_DESCRIPTION}
        elif not (isinstance(value, dict) and "cidr" in value and set(value) <= {"cidr", "description"}):
            fail(
                rule(
                    "must be a CIDR string or a map {cidr, description}",
                    "e.g. {cidr: 203.0.113.10/32, description: office}",
                )
            )
        description = value.get("description")
        if not isinstance(description, str) or not description.strip():
            fail(
                rule(
                    "must not be empty",
                    "say whose range it is, e.g. 'vercel egress'",
                    at=["description"],
                    value=description,
                )
            )
        return {"cidr": _cidr(str(value["cidr"])), "description": description.strip()}


class Restore(Settings):
    """A second service created from a backup next to the live one (the DR path of REQ-NFR-002).

    A restore always creates a new ClickHouse Cloud service, and the provider refuses to change
    `backup_id` on an existing one; so the restore is its own service, switched to by `serve`.
    """

    backup_id: Annotated[str, AfterValidator(_uuid)] = Field(examples=["<backup-uuid>"])
    service_name: Annotated[str, _resource_name("salla-analytics-prod-r20261123")] = Field(
        examples=["salla-analytics-prod-r20261123"]
    )
    # true: the consumers' SQL users, URLs and outputs use the restored service.
    serve: bool = Field(False, examples=[True])
    # The old (primary) service, once the restored one serves: `keep` it, `unprotect` it (an
    # update that lifts `protect` and tags it `lifecycle: retiring`), then `remove` it (deleted).
    primary: Literal["keep", "unprotect", "remove"] = Field("keep", examples=["unprotect"])

    @model_validator(mode="after")
    def _retire_only_when_serving(self) -> Restore:
        if self.primary != "keep" and not self.serve:
            fail(
                rule(
                    "is only allowed once the restored service serves the consumers (serve: true)",
                    "set dataWarehouse.restore.serve: true first (runbook A6)",
                    at=["primary"],
                    value=self.primary,
                )
            )
        return self


class Backup(Settings):
    period_hours: Annotated[
        int, _one_of("a backup period ClickHouse Cloud accepts", catalog.CLICKHOUSE_BACKUP_PERIOD_HOURS)
    ] = Field(examples=[24])
    retention_hours: Annotated[
        int, _one_of("a retention ClickHouse Cloud accepts", catalog.CLICKHOUSE_BACKUP_RETENTION_HOURS)
    ] = Field(examples=[168])


class Warehouse(Settings):
    """dataWarehouse: the ClickHouse Cloud service."""

    service_name: Annotated[str, _resource_name("salla-analytics-dev")] = Field(
        examples=["salla-analytics-dev"]
    )
    cloud_provider: Literal["aws", "gcp", "azure"] = Field("aws", examples=["aws"])
    region: str | None = Field(None, validate_default=True, examples=["us-east-1"])
    ip_allow_list: Annotated[list[IpAccess], _no_duplicates(key=lambda entry: entry.cidr)] = Field(
        default_factory=list
    )
    idle_scaling: bool | None = Field(None, examples=[True])
    idle_timeout_minutes: (
        Annotated[
            int,
            _at_least(
                catalog.CLICKHOUSE_MIN_IDLE_TIMEOUT_MINUTES,
                f"must be >= {catalog.CLICKHOUSE_MIN_IDLE_TIMEOUT_MINUTES}",
                SET_EXAMPLE.format(str(catalog.CLICKHOUSE_MIN_IDLE_TIMEOUT_MINUTES)),
            ),
        ]
        | None
    ) = Field(None, examples=[15])
    min_replica_memory_gb: int | None = Field(None, examples=[8])
    max_replica_memory_gb: int | None = Field(None, examples=[16])
    release_channel: (
        Annotated[str, _one_of("a ClickHouse release channel", catalog.CLICKHOUSE_RELEASE_CHANNELS)] | None
    ) = Field(None, examples=["default"])
    backup: Backup | None = None
    restore: Restore | None = None
    # The database the consumers' roles are granted on; created if missing, never dropped.
    database: Annotated[str, AfterValidator(_sql_name("database", "analytics"))] = Field(
        "analytics", examples=["analytics"]
    )

    @field_validator("region")
    @classmethod
    def _region_of_cloud(cls, value: str | None, info: ValidationInfo) -> str | None:
        cloud = info.data.get("cloud_provider")
        if cloud is None:  # the cloud itself is wrong: reported on its own
            return value
        if value is None:
            return catalog.CLICKHOUSE_DEFAULT_REGION[cloud]
        allowed = catalog.CLICKHOUSE_REGIONS[cloud]
        if value not in allowed:
            fail(
                rule(
                    f"is not a ClickHouse Cloud region for {cloud}",
                    "use one of: " + catalog.sorted_values(allowed),
                )
            )
        return value

    @model_validator(mode="after")
    def _cross_field(self) -> Warehouse:
        problems = []
        if self.idle_scaling and self.idle_timeout_minutes is None:
            problems.append(
                rule(
                    "is required when idleScaling is true",
                    SET_EXAMPLE.format("15"),
                    at=["idleTimeoutMinutes"],
                    value=None,
                )
            )
        if self.idle_timeout_minutes is not None and not self.idle_scaling:
            problems.append(
                rule(
                    "is only allowed together with idleScaling: true",
                    "set idleScaling: true or remove idleTimeoutMinutes",
                    at=["idleTimeoutMinutes"],
                    value=self.idle_timeout_minutes,
                )
            )
        low, high = catalog.CLICKHOUSE_REPLICA_MEMORY_MIN_GB, catalog.CLICKHOUSE_REPLICA_MEMORY_MAX_GB
        step = catalog.CLICKHOUSE_REPLICA_MEMORY_STEP_GB
        memory = {
            "minReplicaMemoryGb": self.min_replica_memory_gb,
            "maxReplicaMemoryGb": self.max_replica_memory_gb,
        }
        for key, value in memory.items():
            if value is not None and (value < low or value > high or value % step):
                problems.append(
                    rule(
                        f"must be a multiple of {step} between {low} and {high}",
                        SET_EXAMPLE.format("16"),
                        at=[key],
                        value=value,
                    )
                )
        if self.restore is not None and self.restore.service_name == self.service_name:
            problems.append(
                rule(
                    "must differ from serviceName: the restored service runs next to the live one",
                    "e.g. " + self.service_name + "-r" + "<yyyymmdd>",
                    at=["restore", "serviceName"],
                    value=self.restore.service_name,
                    safe_fix="give the restored service a name of its own",
                )
            )
        low_mem, high_mem = self.min_replica_memory_gb, self.max_replica_memory_gb
        if low_mem is not None and high_mem is not None and low_mem > high_mem:
            problems.append(
                rule(
                    f"must not exceed maxReplicaMemoryGb ({high_mem})",
                    "lower minReplicaMemoryGb or raise maxReplicaMemoryGb",
                    at=["minReplicaMemoryGb"],
                    value=low_mem,
                    safe_rule="must not exceed maxReplicaMemoryGb",
                )
            )
        if problems:
            fail(*problems)
        return self


# -- cache ---------------------------------------------------------------------------------------


class RedisDatabase(Settings):
    """What every Upstash Redis database of the stack has (global database, TLS always on)."""

    database_name: Annotated[str, _resource_name("salla-cache-dev, salla-pipeline-dev")] = Field(
        examples=["salla-cache-dev"]
    )
    primary_region: UpstashRegion = Field("us-east-1", examples=["us-east-1"])
    read_regions: list[str] = Field(default_factory=list)
    # Required: unset, the provider's Check fills in USD 20/month, after which Upstash throttles.
    budget: Annotated[
        int, _at_least(1, "must be a positive number of USD per month", SET_EXAMPLE.format("50"))
    ] = Field(examples=[50])
    ip_allow_list: Annotated[list[Cidr], _no_duplicates()] = Field(default_factory=list)

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


class Cache(RedisDatabase):
    """cache: the Upstash Redis database for sessions and API caching (evicts when full)."""

    eviction: bool = Field(True, examples=[True])
    auto_scale: bool | None = Field(None, examples=[True])
    prod_pack: bool | None = Field(None, examples=[True])


class PipelineState(RedisDatabase):
    """pipelineState: Redis for CDC cursors and dedup keys. Never evicts (not configurable)."""


# -- messaging -----------------------------------------------------------------------------------


class Topic(Settings):
    name: str = Field(examples=["cdc-dev"])
    endpoints: Annotated[
        list[HttpsUrl],
        _non_empty(
            "must be a non-empty list of https URLs",
            "list the subscriber webhooks, e.g. [https://pipeline.example.com/qstash]",
        ),
        _no_duplicates(),
    ]


def carries_stack(name: str, stack: str) -> bool:
    """Whether `stack` is one of the name's '-', '.' or '_' separated parts (cdc-dev, dev.orders)."""
    return stack in re.split(r"[-._]", name)


class Messaging(Settings):
    """messaging: QStash topics (v2 API) and their subscriber webhooks."""

    topics: Annotated[
        list[Topic],
        _non_empty(
            "must be a non-empty list of {name, endpoints}",
            "e.g. topics: [{name: cdc-dev, endpoints: [https://pipeline.example.com/qstash]}]",
        ),
    ]

    @model_validator(mode="after")
    def _topic_names(self, info: ValidationInfo) -> Messaging:
        stack = str((info.context or {}).get("stack", ""))
        seen: set[str] = set()
        problems = []
        for i, topic in enumerate(self.topics):
            at: list[str | int] = ["topics", i, "name"]
            if stack and not carries_stack(topic.name, stack):
                problems.append(
                    rule(
                        f"must carry the stack name '{stack}': QStash topic names are account-wide, so "
                        "two stacks with one name would share (and one destroy would delete) a topic",
                        f"rename it, e.g. {topic.name}-{stack}",
                        safe_fix=f"rename it so that '{stack}' is one of its '-', '.' or '_' parts",
                        at=at,
                        value=topic.name,
                    )
                )
            elif not TOPIC_NAME.match(topic.name):
                problems.append(
                    rule(
                        "must be 1-64 letters, digits, '.', '_' or '-'",
                        "e.g. cdc-dev",
                        at=at,
                        value=topic.name,
                    )
                )
            elif topic.name in seen:
                problems.append(
                    rule(
                        "is used by another topic", "give every topic a unique name", at=at, value=topic.name
                    )
                )
            seen.add(topic.name)
        if problems:
            fail(*problems)
        return self


# -- consumers ----------------------------------------------------------------------------------

CONSUMER_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$|^[a-z]$")
VercelTarget = Literal["production", "preview", "development"]


class Vercel(Settings):
    """Where a consumer's variables are written in Vercel (sensitive environment variables)."""

    project_id: Annotated[str, Field(min_length=1)] = Field(examples=["prj_..."])
    team_id: Annotated[str, Field(min_length=1)] | None = Field(None, examples=["team_..."])
    targets: Annotated[
        list[VercelTarget],
        _non_empty("must list at least one Vercel target", "e.g. targets: [production, preview]"),
        _no_duplicates(),
    ]


class Consumer(Settings):
    """One consumer service: exactly what it may use (least privilege: nothing by default)."""

    clickhouse: Literal["read", "write", "none"] = Field("none", examples=["read"])
    redis: Literal["cache", "pipeline", "none"] = Field("none", examples=["cache"])
    qstash: Annotated[list[Literal["publish", "receive"]], _no_duplicates()] = Field(default_factory=list)
    # Changing it (any string or number) rotates this consumer's ClickHouse password.
    rotation: str | int | float | None = Field(None, examples=["2026-11"])
    vercel: Vercel | None = None


# SQL users that exist on every ClickHouse Cloud service: a consumer may never take them over.
RESERVED_CONSUMERS = frozenset({"default"})


def _consumer_names(consumers: dict[str, Consumer]) -> dict[str, Consumer]:
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
                    f"is reserved: its SQL user would be the ClickHouse admin user '{sql_user_name(name)}'",
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


# -- the whole stack -----------------------------------------------------------------------------


def password_problems(password: str) -> list[str]:
    """Complexity rules the ClickHouse admin password misses (empty when it passes)."""
    checks = [
        (
            len(password) >= PASSWORD_MIN_LENGTH,
            f"at least {PASSWORD_MIN_LENGTH} characters (has {len(password)})",
        ),
        (re.search(r"[A-Z]", password), "an uppercase letter"),
        (re.search(r"[a-z]", password), "a lowercase letter"),
        (re.search(r"[0-9]", password), "a digit"),
        (re.search(r"[^A-Za-z0-9]", password), "a symbol"),
    ]
    return [what for ok, what in checks if not ok]


class StackConfig(Settings):
    """Every `salla-analytics-infra:` key of Pulumi.<stack>.yaml."""

    data_warehouse: Warehouse
    cache: Cache
    pipeline_state: PipelineState
    messaging: Messaging
    consumers: Annotated[dict[str, Consumer], AfterValidator(_consumer_names)]
    protect: bool = Field(False, examples=[True])
    tags: dict[str, NonEmpty] = Field(default_factory=dict)
    clickhouse_admin_password: SecretStr
    qstash_token: SecretStr
    qstash_current_signing_key: SecretStr
    qstash_next_signing_key: SecretStr

    @field_validator(
        "clickhouse_admin_password", "qstash_token", "qstash_current_signing_key", "qstash_next_signing_key"
    )
    @classmethod
    def _encrypted(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        key = to_camel(info.field_name or "")
        fix = f"pulumi config set --secret {{project}}:{key} '<value>' --stack {{stack}}"
        if not value.get_secret_value().strip():
            fail(rule("is required (a secret)", fix, value=None))
        if key not in (info.context or {}).get("secret_keys", ()):
            fail(rule("is stored in plaintext", "re-set it encrypted: " + fix))
        if key == "clickhouseAdminPassword" and (missing := password_problems(value.get_secret_value())):
            fail(rule("does not meet the complexity rule; it needs " + ", ".join(missing), fix))
        return value

    @field_validator("tags")
    @classmethod
    def _no_standard_tags(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        standard = standard_tags(
            (info.context or {}).get("project", ""), (info.context or {}).get("stack", "")
        )
        problems = [
            rule(
                f"is a standard tag set by the program ({standard[k]!r})",
                f"remove tags.{k} from the stack config",
                at=[k],
                value=v,
            )
            for k, v in value.items()
            if k in standard and v != standard[k]
        ]
        problems += [
            rule(
                f"is set by the program only (on a service being retired, runbook A8): {LIFECYCLE_TAG!r}",
                f"remove tags.{LIFECYCLE_TAG} from the stack config",
                at=[LIFECYCLE_TAG],
                value=value[LIFECYCLE_TAG],
            )
            for _ in [0]
            if LIFECYCLE_TAG in value
        ]
        if problems:
            fail(*problems)
        return value


# The tag the program puts on a ClickHouse service it is retiring; the protect policy honours it.
LIFECYCLE_TAG = "lifecycle"
RETIRING = "retiring"


def standard_tags(project: str, stack: str) -> dict[str, str]:
    return {"project": project, "environment": stack, "managed-by": "pulumi"}
