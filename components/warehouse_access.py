"""WarehouseAccess: the database, a read and a write role, and one SQL user per consumer.

Least privilege (REQ-TEC-001 "distinct user credentials for the ETL pipeline (Write) and
Application (Read)"): `read` may SELECT on `<database>.*`, and each reader's own settings profile
holds `readonly = 2 CONST`; `write` may also INSERT and manage its own tables there
(CREATE/ALTER/DROP TABLE). Never ALL, never *.*, never access management. The roles carry no
settings: the provisioning user holds them WITH ADMIN OPTION (ops/provisioner.py), active in its
sessions, so a setting on a role would bind the provisioner too. Each consumer with `clickhouse: read|write`
gets its own user, with one pulumi_random password per label in its `passwords` (two while a
rotation is in progress; the newest is the one handed out), sent to ClickHouse only as hex SHA-256
hashes, and its own limits: a settings profile `<user>_limits` (constraints) and a quota
`<user>_quota` (per hour), per consumer because consumers of the same access differ in load.
Users, profiles and quotas live in the namespace `salla_` (settings.consumers.SQL_NAMESPACE:
user `salla_app`), the only user names the provisioning user may manage; `legacySqlUser` keeps a
consumer's former objects (`app`, `app_limits`, `app_quota`) during the migration.
With `protect` (prod) every SQL object and password is protected, except a consumer's own
objects once it is marked `retire: true` (step 1 of removing it) and the outgoing password of a
rotation in progress (so that finishing the rotation can delete it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_random as random

from clickhouse_sql import AccessInventory, Database, Endpoint, Grant, Quota, Role, SettingsProfile, User
from settings.consumers import INITIAL_PASSWORD, SQL_NAMESPACE, Consumer, legacy_sql_user_name, sql_user_name
from settings.passwords import PROVISIONER_USER, sha256_hex

from .urls import credential_url

PRIVILEGES = {
    "read": ["SELECT"],
    "write": ["SELECT", "INSERT", "CREATE TABLE", "ALTER TABLE", "DROP TABLE"],
}
READONLY = {"read": 2}
PASSWORD_LENGTH = 32
# URL-unreserved symbols only: the password goes into connection URLs.
PASSWORD_SYMBOLS = "-_.~"
QUOTA_INTERVAL_SECONDS = 3600


def role_name(database: str, access: str) -> str:
    """The project's role for an access (`<database>_read`, `<database>_write`)."""
    return f"{database}_{access}"


@dataclass
class WarehouseAccessArgs:
    database: str
    consumers: dict[str, Consumer]
    connection: pulumi.Output[Endpoint]  # {host, port}: the SQL login comes from the environment
    host: pulumi.Output[str | None]
    https_port: pulumi.Output[int | None]
    protect: bool = False
    adopt_roles: bool = False  # dataWarehouse.adoptRoles (clickhouse_sql.adoption)


def profile_settings(consumer: Consumer) -> list[dict[str, object]]:
    """The consumer's settings-profile elements: readonly CONST for readers, maxima (MIN 1: 0 = unlimited)."""
    limits = consumer.effective_limits()
    elements: list[dict[str, object]] = []
    if consumer.clickhouse in READONLY:
        elements.append({"name": "readonly", "value": READONLY[consumer.clickhouse], "const": True})
    for setting, key in (
        ("max_memory_usage", "max_memory_usage_bytes"),
        ("max_execution_time", "max_execution_time_seconds"),
        ("max_result_rows", "max_result_rows"),
    ):
        if (value := limits.get(key)) is not None:
            elements.append({"name": setting, "value": value, "min": 1, "max": value})
    return elements


def quota_limits(consumer: str, limits: dict[str, int | None]) -> dict[str, int]:
    """The consumer's quota maxima per hour (both always set: every access has defaults for them)."""
    queries, read_rows = limits.get("queries_per_hour"), limits.get("read_rows_per_hour")
    if queries is None or read_rows is None:
        raise ValueError(f"consumers.{consumer}: no queries/read_rows quota defaults for its access")
    return {"queries": queries, "read_rows": read_rows}


def rotation_step(consumer: Consumer) -> dict[str, object]:
    """Which rotation step the consumer is in (the non-secret stack output `clickhouse_rotation`)."""
    labels = list(consumer.passwords)
    if len(labels) == 1:
        step = f"steady: password {labels[0]!r}"
    else:
        step = (
            f"rotating: {labels[1]!r} added and handed out, {labels[0]!r} still accepted; "
            f"finish with passwords: [{labels[1]}] once the consumer uses {labels[1]!r}"
        )
    return {"passwords": labels, "step": step, "retiring": consumer.retire}


class WarehouseAccess(pulumi.ComponentResource):
    """Roles, grants and a user per consumer; `urls[consumer]` is that consumer's (secret) URL."""

    urls: dict[str, pulumi.Output[str]]
    roles: dict[str, str]

    def __init__(
        self, name: str, args: WarehouseAccessArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("salla:analytics:WarehouseAccess", name, None, opts)
        connection = args.connection
        protected = pulumi.ResourceOptions(parent=self, protect=args.protect)
        database = Database(
            f"{name}-database",
            name=args.database,
            connection=connection,
            opts=protected,
        )
        self.roles = {access: role_name(args.database, access) for access in PRIVILEGES}
        grants: dict[str, Grant] = {}
        for access, privileges in PRIVILEGES.items():
            role = Role(
                f"{name}-role-{access}",
                name=self.roles[access],
                databases=[args.database],
                connection=connection,
                adopt=args.adopt_roles,
                adopt_with="dataWarehouse.adoptRoles",
                opts=protected,
            )
            grants[access] = Grant(
                f"{name}-grant-{access}",
                role=role.name,
                database=database.name,
                privileges=privileges,
                connection=connection,
                opts=pulumi.ResourceOptions.merge(
                    protected, pulumi.ResourceOptions(depends_on=[role, database])
                ),
            )
        self.urls = {}
        self.rotation: dict[str, dict[str, object]] = {}
        # Every SQL object this component declares, and the names of the users, profiles and quotas
        # among them: the inventory's "declared" (any User/SettingsProfile/Quota added here must be too).
        made: list[pulumi.Resource] = [database, *grants.values()]
        self.sql_names: dict[str, list[str]] = {"users": [], "profiles": [], "quotas": []}
        for consumer, settings in args.consumers.items():
            if settings.clickhouse == "none":
                continue
            self.urls[consumer] = self._consumer(
                name, consumer, settings, args, grants[settings.clickhouse], made
            )
            self.rotation[consumer] = rotation_step(settings)
        # After every SQL object: it repairs around them (docs/drift.md). It owns no object (its delete
        # runs no SQL), so nothing is kept by protecting it (policy clickhouse-access-protected skips it).
        AccessInventory(
            f"{name}-inventory",
            name=args.database,
            roles=list(self.roles.values()),
            namespace_prefix=SQL_NAMESPACE,
            users=self.sql_names["users"],
            profiles=self.sql_names["profiles"],
            quotas=self.sql_names["quotas"],
            operators=[PROVISIONER_USER],
            connection=connection,
            opts=pulumi.ResourceOptions(parent=self, depends_on=made),
        )
        self.register_outputs({"roles": self.roles, "rotation": self.rotation})

    def _sql_user(
        self,
        resource: str,
        user_name: str,
        settings: Consumer,
        hashes: pulumi.Output[list[str]],
        args: WarehouseAccessArgs,
        depends_on: Grant,
        opts: pulumi.ResourceOptions,
        retiring: bool,
        adopt: dict[str, Any],
        made: list[pulumi.Resource],
    ) -> User:
        """One SQL user with the consumer's passwords (`hashes`), its settings profile and quota.

        `resource` is the resource-name prefix: `<component>-<consumer>-sql` for the namespaced
        objects, `<component>-<consumer>` for the former ones (their names in existing states).
        Each object is added to `made` and its name to `sql_names` (the inventory's declared)."""
        profile_name, quota_name = f"{user_name}_limits", f"{user_name}_quota"
        user = User(
            f"{resource}-user",
            name=user_name,
            passwords_sha256_hex=hashes,
            default_role=self.roles[settings.clickhouse],
            connection=args.connection,
            retiring=retiring,
            **adopt,
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[depends_on])),
        )
        source = "config" if settings.limits_complete() else "defaults"
        after_user = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[user]))
        profile = SettingsProfile(
            f"{resource}-limits",
            name=profile_name,
            user=user.name,
            settings=profile_settings(settings),
            limits_source=source,
            connection=args.connection,
            retiring=retiring,
            **adopt,
            opts=after_user,
        )
        quota = Quota(
            f"{resource}-quota",
            name=quota_name,
            user=user.name,
            interval_seconds=QUOTA_INTERVAL_SECONDS,
            limits=quota_limits(user_name, settings.effective_limits()),
            limits_source=source,
            connection=args.connection,
            retiring=retiring,
            **adopt,
            opts=after_user,
        )
        made += [user, profile, quota]
        for key, value in (("users", user_name), ("profiles", profile_name), ("quotas", quota_name)):
            self.sql_names[key].append(value)
        return user

    def _consumer(
        self,
        name: str,
        consumer: str,
        settings: Consumer,
        args: WarehouseAccessArgs,
        grant: Grant,
        made: list[pulumi.Resource],
    ) -> pulumi.Output[str]:
        """The consumer's passwords, user, settings profile and quota; returns its (secret) URL."""
        opts = pulumi.ResourceOptions(parent=self, protect=args.protect and not settings.retire)
        unprotected = pulumi.ResourceOptions(parent=self, protect=False)
        passwords = [
            random.RandomPassword(
                # The initial password keeps the resource name and keepers it had before `passwords`.
                f"{name}-{consumer}-password" + ("" if label == INITIAL_PASSWORD else f"-{label}"),
                length=PASSWORD_LENGTH,
                special=True,
                override_special=PASSWORD_SYMBOLS,
                min_upper=1,
                min_lower=1,
                min_numeric=1,
                keepers={"rotation": ""} if label == INITIAL_PASSWORD else None,
                # Only the newest is protected: finishing a rotation deletes the outgoing one.
                opts=opts if label == settings.passwords[-1] else unprotected,
            )
            for label in settings.passwords
        ]
        hashes = pulumi.Output.all(*[p.result for p in passwords]).apply(
            lambda results: [sha256_hex(r) for r in results]
        )
        resource = f"{name}-{consumer}"
        # Adoption (clickhouse_sql.adoption) is explicit, per consumer, for all of its objects.
        adopt: dict[str, Any] = {"adopt": settings.adopt, "adopt_with": f"consumers.{consumer}.adopt"}
        user = self._sql_user(
            f"{resource}-sql",
            sql_user_name(consumer),
            settings,
            hashes,
            args,
            grant,
            opts,
            settings.retire,
            adopt,
            made,
        )
        if settings.legacy_sql_user:
            # Migration (docs/provisioning.md): the former user, profile and quota stay, under their
            # former resource names, unprotected and retiring (no SQL), until the key is removed. Their
            # state holds them (no create, so no adoption check); the inventory counts them as declared,
            # so it does not revoke the project's role from the former user during the migration.
            self._sql_user(
                resource,
                legacy_sql_user_name(consumer),
                settings,
                hashes,
                args,
                grant,
                unprotected,
                True,
                adopt,
                made,
            )
        # Secret: built from the newest password, which the random provider returns as a secret.
        # Always the namespaced user: during the migration, that is what is handed out.
        return pulumi.Output.all(user.name, passwords[-1].result, args.host, args.https_port).apply(
            lambda parts: credential_url("https", *parts) + f"/{args.database}"
        )
