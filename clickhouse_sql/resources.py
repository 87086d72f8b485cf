"""The Pulumi resources: Database, Role, Grant, User, SettingsProfile, Quota.

Engine types: `pulumi-python:dynamic/clickhouse:<Name>`.

Literal inputs are validated here, at construction (a ValueError names the bad value, never a
password hash); values that are Outputs are validated by the provider's `check` in preview.
`adopt` (with `adopt_with`, the config path that sets it) lets a create take over an object that
already exists (clickhouse_sql.adoption).
`connection` is the service's endpoint `{host, port}` only: the SQL login comes from the
environment when the provider runs (clickhouse_sql.login), never from an input. `stack` (the
stack's name, for the `make provisioner` hint of a refused login) is set here. The password
hashes are always secret, both as inputs and as outputs (`additional_secret_outputs`, merged with
the caller's options).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pulumi
import pulumi.dynamic

from clickhouse_sql import adoption, quota, settings_profile, statements
from clickhouse_sql.base import STACK
from clickhouse_sql.client import Endpoint
from clickhouse_sql.database import DatabaseProvider
from clickhouse_sql.grant import GrantProvider
from clickhouse_sql.quota import QuotaProvider
from clickhouse_sql.role import RoleProvider
from clickhouse_sql.settings_profile import SettingsProfileProvider
from clickhouse_sql.user import UserProvider, password_hashes

NO_SECRETS: list[str] = []  # `connection` holds no password (the login comes from the environment)
USER_SECRETS = ["passwords_sha256_hex"]


def _literal(value: Any, validate: Callable[[Any], Any]) -> Any:
    """Validate (and normalise) a value given directly; Outputs and awaitables are left to `check`."""
    if isinstance(value, str | int | float):
        return validate(value)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return validate(value)
    return value


def _options(
    opts: pulumi.ResourceOptions | None, secret_outputs: Sequence[str], **forced: Any
) -> pulumi.ResourceOptions:
    """The caller's options with ours merged over them (lists are concatenated, our flags win)."""
    ours = pulumi.ResourceOptions(additional_secret_outputs=list(secret_outputs), **forced)
    return pulumi.ResourceOptions.merge(opts, ours)


class Database(pulumi.dynamic.Resource, module="clickhouse", name="Database"):
    """`CREATE DATABASE IF NOT EXISTS`; never dropped (retain_on_delete, and delete runs no SQL)."""

    name: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        name: pulumi.Input[str],
        connection: pulumi.Input[Endpoint],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "name": _literal(name, lambda v: statements.identifier(v, "database name")),
            "connection": connection,
            STACK: pulumi.get_stack(),
            "drift": None,
            "retiring": False,
        }
        options = _options(opts, NO_SECRETS, retain_on_delete=True)
        super().__init__(DatabaseProvider(), resource_name, props, options)


class Role(pulumi.dynamic.Resource, module="clickhouse", name="Role"):
    """A role, with no settings of its own (clickhouse_sql.role: the provisioner holds it).

    `databases`: where Grant resources declare the role's privileges; any privilege elsewhere is drift.
    """

    name: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        name: pulumi.Input[str],
        databases: pulumi.Input[Sequence[str]],
        connection: pulumi.Input[Endpoint],
        adopt: bool = False,
        adopt_with: str = "",
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "name": _literal(name, lambda v: statements.identifier(v, "role name")),
            "databases": databases,
            "connection": connection,
            STACK: pulumi.get_stack(),
            "drift": None,
            "retiring": False,
            **adoption.inputs(adopt, adopt_with),
        }
        super().__init__(RoleProvider(), resource_name, props, _options(opts, NO_SECRETS))


class Grant(pulumi.dynamic.Resource, module="clickhouse", name="Grant"):
    """`GRANT <privileges> ON <database>.* TO <role>`, privileges from statements.ALLOWED_PRIVILEGES only."""

    role: pulumi.Output[str]
    database: pulumi.Output[str]
    privileges: pulumi.Output[list[str]]

    def __init__(
        self,
        resource_name: str,
        *,
        role: pulumi.Input[str],
        database: pulumi.Input[str],
        privileges: pulumi.Input[Sequence[str]],
        connection: pulumi.Input[Endpoint],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "role": _literal(role, lambda v: statements.identifier(v, "role name")),
            "database": _literal(database, lambda v: statements.identifier(v, "database name")),
            "privileges": _literal(privileges, statements.privileges),
            "connection": connection,
            STACK: pulumi.get_stack(),
            "drift": None,
            "retiring": False,
        }
        super().__init__(GrantProvider(), resource_name, props, _options(opts, NO_SECRETS))


class User(pulumi.dynamic.Resource, module="clickhouse", name="User"):
    """A user accepting exactly the given hex SHA-256 password hashes, with one default role.

    `passwords_sha256_hex` is the rotation state (see clickhouse_sql.user): [old] -> [old, new]
    adds the new password, [old, new] -> [new] retires the old one. A new `name` replaces the
    user, deleting the old one first. `retiring` (no SQL effect) marks a consumer being removed.
    """

    name: pulumi.Output[str]
    default_role: pulumi.Output[str]
    passwords_sha256_hex: pulumi.Output[list[str]]

    def __init__(
        self,
        resource_name: str,
        *,
        name: pulumi.Input[str],
        passwords_sha256_hex: pulumi.Input[Sequence[str]],
        default_role: pulumi.Input[str],
        connection: pulumi.Input[Endpoint],
        retiring: bool = False,
        adopt: bool = False,
        adopt_with: str = "",
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "name": _literal(name, lambda v: statements.identifier(v, "user name")),
            "passwords_sha256_hex": pulumi.Output.secret(_literal(passwords_sha256_hex, password_hashes)),
            "default_role": _literal(default_role, lambda v: statements.identifier(v, "default_role")),
            "connection": connection,
            STACK: pulumi.get_stack(),
            "retiring": retiring,
            "drift": None,
            **adoption.inputs(adopt, adopt_with),
        }
        options = _options(opts, USER_SECRETS, delete_before_replace=True)
        super().__init__(UserProvider(), resource_name, props, options)


class SettingsProfile(pulumi.dynamic.Resource, module="clickhouse", name="SettingsProfile"):
    """A user's settings profile: exactly `settings` (each {name, value, min, max, const}), TO `user`."""

    name: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        name: str,
        user: pulumi.Input[str],
        settings: Sequence[Mapping[str, Any]],
        limits_source: str,
        connection: pulumi.Input[Endpoint],
        retiring: bool = False,
        adopt: bool = False,
        adopt_with: str = "",
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "name": statements.identifier(name, "settings profile name"),
            "user": user,
            "settings": settings_profile.settings(list(settings)),
            "limits_source": settings_profile.source(limits_source),
            "connection": connection,
            STACK: pulumi.get_stack(),
            "retiring": retiring,
            "drift": None,
            **adoption.inputs(adopt, adopt_with),
        }
        options = _options(opts, NO_SECRETS, delete_before_replace=True)
        super().__init__(SettingsProfileProvider(), resource_name, props, options)


class Quota(pulumi.dynamic.Resource, module="clickhouse", name="Quota"):
    """A user's quota: `MAX queries = q, read_rows = r` per `interval_seconds`, TO `user`."""

    name: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        name: str,
        user: pulumi.Input[str],
        interval_seconds: int,
        limits: Mapping[str, int],
        limits_source: str,
        connection: pulumi.Input[Endpoint],
        retiring: bool = False,
        adopt: bool = False,
        adopt_with: str = "",
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "name": statements.identifier(name, "quota name"),
            "user": user,
            "interval_seconds": quota.interval(interval_seconds),
            "limits": quota.limits(limits),
            "limits_source": settings_profile.source(limits_source),
            "connection": connection,
            STACK: pulumi.get_stack(),
            "retiring": retiring,
            "drift": None,
            **adoption.inputs(adopt, adopt_with),
        }
        options = _options(opts, NO_SECRETS, delete_before_replace=True)
        super().__init__(QuotaProvider(), resource_name, props, options)
