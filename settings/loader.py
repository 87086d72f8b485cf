"""Reads a stack's config once, validates every rule and returns typed settings.

All problems of a run are collected and raised together as ConfigErrors; the program turns
that into a clean error (no stack trace). Secret values are validated in memory, never echoed,
and leave this module only as secret Outputs.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi

from . import catalog, rules
from .errors import ConfigErrors, Problems
from .model import (
    BackupSettings,
    CacheSettings,
    ClickHouseCredentials,
    IpAccess,
    MessagingSettings,
    Secrets,
    StackSettings,
    TopicSettings,
    UpstashCredentials,
    WarehouseSettings,
)
from .source import ConfigSource, EngineConfig
from .tags import merged_tags

PROJECT = "salla-analytics-infra"

SECTION_KEYS = {
    "dataWarehouse": {
        "serviceName",
        "cloudProvider",
        "region",
        "ipAllowList",
        "idleScaling",
        "idleTimeoutMinutes",
        "minReplicaMemoryGb",
        "maxReplicaMemoryGb",
        "releaseChannel",
        "backup",
        "restoreFromBackupId",
    },
    "cache": {
        "databaseName",
        "primaryRegion",
        "readRegions",
        "eviction",
        "budget",
        "autoScale",
        "prodPack",
        "ipAllowList",
    },
    "messaging": {"topics"},
    "dataWarehouse.backup": {"periodHours", "retentionHours"},
}
SECRET_KEYS = (
    "clickhouseAdminPassword",
    "qstashToken",
    "qstashCurrentSigningKey",
    "qstashNextSigningKey",
)
TOP_LEVEL_KEYS = {"dataWarehouse", "cache", "messaging", *SECRET_KEYS, "protect", "tags"}
DEFAULT_IP_DESCRIPTION = "allow-listed by salla-analytics-infra"

# (config key, environment variable, secret?) per provider credential.
CLICKHOUSE_CREDENTIALS = (
    ("clickhouse:organizationId", "CLICKHOUSE_ORG_ID", False),
    ("clickhouse:tokenKey", "CLICKHOUSE_TOKEN_KEY", False),
    ("clickhouse:tokenSecret", "CLICKHOUSE_TOKEN_SECRET", True),
)
UPSTASH_CREDENTIALS = (
    ("upstash:email", "UPSTASH_EMAIL", False),
    ("upstash:apiKey", "UPSTASH_API_KEY", True),
)


def _key(path: str) -> str:
    return f"{PROJECT}:{path}"


def _set_hint(path: str, example: str) -> str:
    return f"pulumi config set --path '{path}' {example}"


class _Section:
    """Typed field access on one structured config value, recording problems."""

    def __init__(self, name: str, obj: dict[str, Any], problems: Problems) -> None:
        self.name = name
        self.obj = obj
        self.problems = problems
        for unknown in sorted(set(obj) - SECTION_KEYS[name]):
            problems.add(
                _key(f"{name}.{unknown}"),
                obj[unknown],
                "is not a known key of " + name,
                "remove it or use one of: " + ", ".join(sorted(SECTION_KEYS[name])),
            )

    def path(self, field: str) -> str:
        return f"{self.name}.{field}"

    def bad(self, field: str, value: Any, rule: str, fix: str) -> None:
        self.problems.add(_key(self.path(field)), value, rule, fix)

    def string(self, field: str, example: str, *, required: bool = False) -> str | None:
        value = self.obj.get(field)
        if value is None:
            if required:
                self.bad(field, None, "is required", _set_hint(self.path(field), example))
            return None
        if not isinstance(value, str) or not value.strip():
            self.bad(field, value, "must be a non-empty string", _set_hint(self.path(field), example))
            return None
        return value.strip()

    def boolean(self, field: str) -> bool | None:
        value = self.obj.get(field)
        if value is None:
            return None
        if not isinstance(value, bool):
            self.bad(field, value, "must be true or false", _set_hint(self.path(field), "true"))
            return None
        return value

    def integer(self, field: str, example: str) -> int | None:
        value = self.obj.get(field)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.bad(field, value, "must be a whole number", _set_hint(self.path(field), example))
            return None
        return value

    def string_list(self, field: str, example: str) -> list[str] | None:
        value = self.obj.get(field)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.bad(field, value, "must be a list of strings", f"set it as a YAML list, e.g. [{example}]")
            return None
        return list(value)


class _Loader:
    def __init__(self, source: ConfigSource, stack: str) -> None:
        self.source = source
        self.stack = stack
        self.problems = Problems()

    # -- raw access -------------------------------------------------------------------------
    def _object(self, name: str, *, required: bool) -> dict[str, Any] | None:
        raw = self.source.raw(_key(name))
        if raw is None:
            if required:
                self.problems.add(
                    _key(name),
                    None,
                    "is required (a structured value)",
                    f"add a '{_key(name)}:' block to Pulumi.{self.stack}.yaml (see README, config reference)",
                )
            return None
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        if not isinstance(value, dict):
            self.problems.add(
                _key(name), value, "must be a map of settings", f"see README for the shape of {name}"
            )
            return None
        return value

    def _plain(self, name: str) -> Any:
        raw = self.source.raw(_key(name))
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw

    # -- sections ----------------------------------------------------------------------------
    def warehouse(self) -> WarehouseSettings | None:
        obj = self._object("dataWarehouse", required=True)
        if obj is None:
            return None
        s = _Section("dataWarehouse", obj, self.problems)
        name = s.string("serviceName", "salla-analytics-dev", required=True)
        cloud = s.string("cloudProvider", "aws") or "aws"
        if cloud not in catalog.CLICKHOUSE_REGIONS:
            s.bad(
                "cloudProvider",
                cloud,
                "must be one of aws, gcp, azure",
                _set_hint(s.path("cloudProvider"), "aws"),
            )
        region = s.string("region", "us-east-1") or catalog.CLICKHOUSE_DEFAULT_REGION.get(cloud, "us-east-1")
        allowed = catalog.CLICKHOUSE_REGIONS.get(cloud)
        if allowed is not None and region not in allowed:
            s.bad(
                "region",
                region,
                f"is not a ClickHouse Cloud region for {cloud}",
                "use one of: " + catalog.sorted_values(allowed),
            )
        ip_list = self._ip_allow_list(s)
        idle_scaling = s.boolean("idleScaling")
        idle_timeout = s.integer("idleTimeoutMinutes", "15")
        self._idle_rules(s, idle_scaling, idle_timeout)
        min_mem = s.integer("minReplicaMemoryGb", "8")
        max_mem = s.integer("maxReplicaMemoryGb", "16")
        self._memory_rules(s, min_mem, max_mem)
        channel = s.string("releaseChannel", "default")
        if channel is not None and channel not in catalog.CLICKHOUSE_RELEASE_CHANNELS:
            s.bad(
                "releaseChannel",
                channel,
                "is not a ClickHouse release channel",
                "use one of: " + ", ".join(catalog.CLICKHOUSE_RELEASE_CHANNELS),
            )
        backup = self._backup(s)
        restore_id = s.string("restoreFromBackupId", "<backup-uuid>")
        if restore_id is not None and (why := rules.uuid_problem(restore_id)):
            s.bad(
                "restoreFromBackupId",
                restore_id,
                why,
                "copy the backup id from the ClickHouse Cloud console or API",
            )
        if name is not None and not rules.RESOURCE_NAME.match(name):
            s.bad(
                "serviceName",
                name,
                "must be lowercase letters, digits and hyphens (max 63)",
                _set_hint(s.path("serviceName"), "salla-analytics-dev"),
            )
        if name is None:
            return None
        return WarehouseSettings(
            service_name=name,
            cloud_provider=cloud,
            region=region,
            ip_allow_list=tuple(ip_list),
            idle_scaling=idle_scaling,
            idle_timeout_minutes=idle_timeout,
            min_replica_memory_gb=min_mem,
            max_replica_memory_gb=max_mem,
            release_channel=channel,
            backup=backup,
            restore_from_backup_id=restore_id,
        )

    def _ip_allow_list(self, s: _Section) -> list[IpAccess]:
        raw = s.obj.get("ipAllowList", [])
        if not isinstance(raw, list):
            s.bad(
                "ipAllowList", raw, "must be a list", "set a YAML list of CIDRs or {cidr, description} maps"
            )
            return []
        entries: list[IpAccess] = []
        seen: set[str] = set()
        for i, item in enumerate(raw):
            path = f"ipAllowList[{i}]"
            if isinstance(item, str):
                cidr, description = item.strip(), DEFAULT_IP_DESCRIPTION
            elif isinstance(item, dict) and set(item) <= {"cidr", "description"} and "cidr" in item:
                cidr = str(item["cidr"]).strip()
                description = str(item.get("description") or "").strip()
                if not description:
                    s.bad(
                        path + ".description",
                        item.get("description"),
                        "must not be empty",
                        "say whose range it is, e.g. 'vercel egress'",
                    )
                    continue
            else:
                s.bad(
                    path,
                    item,
                    "must be a CIDR string or a map {cidr, description}",
                    "e.g. {cidr: 203.0.113.10/32, description: office}",
                )
                continue
            if why := rules.cidr_problem(cidr):
                s.bad(path, cidr, why, "use CIDR notation such as 203.0.113.0/24")
                continue
            normal = rules.normalise_cidr(cidr)
            if normal in seen:
                s.bad(path, cidr, "is listed twice", "remove the duplicate entry")
                continue
            seen.add(normal)
            entries.append(IpAccess(cidr=normal, description=description))
        return entries

    @staticmethod
    def _idle_rules(s: _Section, idle_scaling: bool | None, idle_timeout: int | None) -> None:
        minimum = catalog.CLICKHOUSE_MIN_IDLE_TIMEOUT_MINUTES
        if idle_scaling and idle_timeout is None:
            s.bad(
                "idleTimeoutMinutes",
                None,
                "is required when idleScaling is true",
                _set_hint(s.path("idleTimeoutMinutes"), "15"),
            )
        if idle_timeout is not None:
            if not idle_scaling:
                s.bad(
                    "idleTimeoutMinutes",
                    idle_timeout,
                    "is only allowed together with idleScaling: true",
                    "set idleScaling: true or remove idleTimeoutMinutes",
                )
            if idle_timeout < minimum:
                s.bad(
                    "idleTimeoutMinutes",
                    idle_timeout,
                    f"must be >= {minimum}",
                    _set_hint(s.path("idleTimeoutMinutes"), str(minimum)),
                )

    @staticmethod
    def _memory_rules(s: _Section, min_mem: int | None, max_mem: int | None) -> None:
        low, high = catalog.CLICKHOUSE_REPLICA_MEMORY_MIN_GB, catalog.CLICKHOUSE_REPLICA_MEMORY_MAX_GB
        step = catalog.CLICKHOUSE_REPLICA_MEMORY_STEP_GB
        for field, value in (("minReplicaMemoryGb", min_mem), ("maxReplicaMemoryGb", max_mem)):
            if value is not None and (value < low or value > high or value % step):
                s.bad(
                    field,
                    value,
                    f"must be a multiple of {step} between {low} and {high}",
                    _set_hint(s.path(field), "16"),
                )
        if min_mem is not None and max_mem is not None and min_mem > max_mem:
            s.bad(
                "minReplicaMemoryGb",
                min_mem,
                f"must not exceed maxReplicaMemoryGb ({max_mem})",
                "lower minReplicaMemoryGb or raise maxReplicaMemoryGb",
            )

    def _backup(self, s: _Section) -> BackupSettings | None:
        raw = s.obj.get("backup")
        if raw is None:
            return None
        if not isinstance(raw, dict):
            s.bad(
                "backup",
                raw,
                "must be a map {periodHours, retentionHours}",
                "e.g. backup: {periodHours: 24, retentionHours: 168}",
            )
            return None
        b = _Section("dataWarehouse.backup", raw, self.problems)
        period = b.integer("periodHours", "24")
        retention = b.integer("retentionHours", "168")
        ok = True
        if period is None:
            b.bad(
                "periodHours", None, "is required when backup is set", _set_hint(b.path("periodHours"), "24")
            )
            ok = False
        elif period not in catalog.CLICKHOUSE_BACKUP_PERIOD_HOURS:
            b.bad(
                "periodHours",
                period,
                "is not a backup period ClickHouse Cloud accepts",
                "use one of: " + catalog.sorted_values(catalog.CLICKHOUSE_BACKUP_PERIOD_HOURS),
            )
            ok = False
        if retention is None:
            b.bad(
                "retentionHours",
                None,
                "is required when backup is set",
                _set_hint(b.path("retentionHours"), "168"),
            )
            ok = False
        elif retention not in catalog.CLICKHOUSE_BACKUP_RETENTION_HOURS:
            b.bad(
                "retentionHours",
                retention,
                "is not a retention ClickHouse Cloud accepts",
                "use one of: " + catalog.sorted_values(catalog.CLICKHOUSE_BACKUP_RETENTION_HOURS),
            )
            ok = False
        return BackupSettings(period, retention) if ok and period and retention else None

    def cache(self) -> CacheSettings | None:
        obj = self._object("cache", required=True)
        if obj is None:
            return None
        s = _Section("cache", obj, self.problems)
        name = s.string("databaseName", "salla-cache-dev", required=True)
        if name is not None and not rules.RESOURCE_NAME.match(name):
            s.bad(
                "databaseName",
                name,
                "must be lowercase letters, digits and hyphens (max 63)",
                _set_hint(s.path("databaseName"), "salla-cache-dev"),
            )
        primary = s.string("primaryRegion", "us-east-1") or "us-east-1"
        allowed = catalog.sorted_values(catalog.UPSTASH_REDIS_REGIONS)
        if primary not in catalog.UPSTASH_REDIS_REGIONS:
            s.bad(
                "primaryRegion", primary, "is not an Upstash global-database region", "use one of: " + allowed
            )
        reads = s.string_list("readRegions", "eu-central-1") or []
        for i, region in enumerate(reads):
            if region == primary:
                s.bad(f"readRegions[{i}]", region, "repeats the primary region", "remove it from readRegions")
            elif region not in catalog.UPSTASH_REDIS_REGIONS:
                s.bad(
                    f"readRegions[{i}]",
                    region,
                    "is not an Upstash global-database region",
                    "use one of: " + allowed,
                )
            elif region in reads[:i]:
                s.bad(f"readRegions[{i}]", region, "is listed twice", "remove the duplicate")
        eviction = s.boolean("eviction")
        budget = s.integer("budget", "50")
        if budget is not None and budget <= 0:
            s.bad(
                "budget",
                budget,
                "must be a positive number of USD per month",
                _set_hint(s.path("budget"), "50"),
            )
        ips = s.string_list("ipAllowList", "203.0.113.0/24") or []
        for i, cidr in enumerate(ips):
            if why := rules.cidr_problem(cidr):
                s.bad(f"ipAllowList[{i}]", cidr, why, "use CIDR notation such as 203.0.113.0/24")
        if name is None:
            return None
        return CacheSettings(
            database_name=name,
            primary_region=primary,
            read_regions=tuple(reads),
            eviction=True if eviction is None else eviction,
            budget=budget,
            auto_scale=s.boolean("autoScale"),
            prod_pack=s.boolean("prodPack"),
            ip_allow_list=tuple(ips),
        )

    def messaging(self) -> MessagingSettings | None:
        obj = self._object("messaging", required=True)
        if obj is None:
            return None
        s = _Section("messaging", obj, self.problems)
        raw = obj.get("topics")
        if not isinstance(raw, list) or not raw:
            s.bad(
                "topics",
                raw,
                "must be a non-empty list of {name, endpoints}",
                "e.g. topics: [{name: cdc-dev, endpoints: [https://pipeline.example.com/qstash]}]",
            )
            return None
        topics: list[TopicSettings] = []
        for i, item in enumerate(raw):
            path = f"topics[{i}]"
            if not isinstance(item, dict) or set(item) - {"name", "endpoints"}:
                s.bad(
                    path,
                    item,
                    "must be a map {name, endpoints}",
                    "e.g. {name: cdc-dev, endpoints: [https://...]}",
                )
                continue
            name = item.get("name")
            if not isinstance(name, str) or not rules.TOPIC_NAME.match(name):
                s.bad(path + ".name", name, "must be 1-64 letters, digits, '.', '_' or '-'", "e.g. cdc-dev")
                name = None
            elif any(t.name == name for t in topics):
                s.bad(path + ".name", name, "is used by another topic", "give every topic a unique name")
                name = None
            endpoints = item.get("endpoints")
            if not isinstance(endpoints, list) or not endpoints:
                s.bad(
                    path + ".endpoints",
                    endpoints,
                    "must be a non-empty list of https URLs",
                    "list the subscriber webhooks, e.g. [https://pipeline.example.com/qstash]",
                )
                continue
            good = True
            for j, url in enumerate(endpoints):
                why = rules.https_url_problem(url) if isinstance(url, str) else "must be a string"
                if why:
                    s.bad(
                        f"{path}.endpoints[{j}]",
                        url,
                        why,
                        "use an https URL such as https://pipeline.example.com/qstash",
                    )
                    good = False
            if len(set(endpoints)) != len(endpoints):
                s.bad(path + ".endpoints", endpoints, "lists an endpoint twice", "remove the duplicate")
                good = False
            if name is not None and good:
                topics.append(TopicSettings(name=name, endpoints=tuple(endpoints)))
        return MessagingSettings(topics=tuple(topics))

    def protect(self) -> bool:
        value = self._plain("protect")
        if value is None:
            return False
        if not isinstance(value, bool):
            self.problems.add(
                _key("protect"), value, "must be true or false", f"pulumi config set {_key('protect')} true"
            )
            return False
        return value

    def tags(self) -> dict[str, str]:
        return merged_tags(
            self._plain("tags"), project=PROJECT, stack=self.stack, key=_key("tags"), problems=self.problems
        )

    def unknown_top_level(self) -> None:
        prefix = PROJECT + ":"
        for full in self.source.all_keys():
            if full.startswith(prefix) and full[len(prefix) :] not in TOP_LEVEL_KEYS:
                self.problems.add(
                    full,
                    self.source.raw(full) if not self.source.is_secret(full) else "<secret>",
                    "is not a setting this program reads",
                    "remove it or fix the spelling; known keys: " + ", ".join(sorted(TOP_LEVEL_KEYS)),
                )

    def secret(self, name: str) -> pulumi.Output[str] | None:
        full = _key(name)
        value = self.source.raw(full)
        fix = f"pulumi config set --secret {full} '<value>' --stack {self.stack}"
        if value is None or not value.strip():
            self.problems.add(full, None, "is required (a secret)", fix)
            return None
        if not self.source.is_secret(full):
            self.problems.add(
                full, value, "is stored in plaintext", "re-set it encrypted: " + fix, secret=True
            )
            return None
        if name == "clickhouseAdminPassword" and (missing := rules.password_problems(value)):
            self.problems.add(
                full,
                value,
                "does not meet the complexity rule; it needs " + ", ".join(missing),
                fix,
                secret=True,
            )
            return None
        return pulumi.Output.secret(value)

    def credential(self, key: str, env: str, secret: bool) -> str | None:
        value = self.source.raw(key) or self.source.env(env)
        if not value:
            how = f"pulumi config set {'--secret ' if secret else ''}{key} <value>"
            self.problems.add(
                key, None, f"is required (or set the environment variable {env})", f"{how}, or export {env}"
            )
            return None
        if secret and self.source.raw(key) and not self.source.is_secret(key):
            self.problems.add(
                key,
                value,
                "is stored in plaintext",
                f"pulumi config set --secret {key} <value>, or export {env}",
                secret=True,
            )
            return None
        return value


def load_settings(
    source: ConfigSource | None = None,
    *,
    stack: str | None = None,
    project: str | None = None,
) -> StackSettings:
    """Validate the current stack's config; raise ConfigErrors listing every problem."""
    src = source if source is not None else EngineConfig()
    stack_name = stack if stack is not None else pulumi.get_stack()
    loader = _Loader(src, stack_name)
    loader.unknown_top_level()
    warehouse = loader.warehouse()
    cache = loader.cache()
    messaging = loader.messaging()
    protect = loader.protect()
    tags = loader.tags()
    secrets = [loader.secret(name) for name in SECRET_KEYS]
    ch = [loader.credential(*c) for c in CLICKHOUSE_CREDENTIALS]
    up = [loader.credential(*c) for c in UPSTASH_CREDENTIALS]
    if loader.problems:
        raise ConfigErrors(stack_name, loader.problems.items)
    # Every value below is known to be set: a missing one would have raised above.
    assert warehouse and cache and messaging
    password, token, current, nxt = (s for s in secrets if s is not None)
    org_id, token_key, token_secret = (c for c in ch if c is not None)
    email, api_key = (c for c in up if c is not None)
    return StackSettings(
        project=project if project is not None else PROJECT,
        stack=stack_name,
        warehouse=warehouse,
        cache=cache,
        messaging=messaging,
        secrets=Secrets(password, token, current, nxt),
        clickhouse=ClickHouseCredentials(org_id, token_key, pulumi.Output.secret(token_secret)),
        upstash=UpstashCredentials(email, pulumi.Output.secret(api_key)),
        protect=protect,
        tags=tags,
    )
