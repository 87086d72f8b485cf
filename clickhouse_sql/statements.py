"""Pure SQL builders for ClickHouse access objects: no I/O, no state.

Every DDL statement is idempotent (`IF NOT EXISTS` / `IF EXISTS`, or an absolute `ALTER`) and has
no `ON CLUSTER` (ClickHouse Cloud replicates access objects itself). Identifiers are validated
against `^[a-z][a-z0-9_]*$` and backquoted; mapping consumer names such as `data-pipeline` to a
valid identifier is the caller's job. The only literal ever written into a statement is a
password hash, validated as 64 lowercase hex characters before it is quoted.

The reads (`Query` objects with server-side parameters) are in clickhouse_sql.queries.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple

IDENTIFIER_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
SHA256_HEX_PATTERN = re.compile(r"^[0-9a-f]{64}$")

# The only privileges a Grant may carry, in their canonical order. Deliberately no ALL, no
# global (`*.*`) grants and no access management: consumers get data access, nothing else.
ALLOWED_PRIVILEGES: tuple[str, ...] = ("SELECT", "INSERT", "CREATE TABLE", "ALTER TABLE", "DROP TABLE")
PROFILE_SUFFIX = "_profile"


# --- validation and quoting -------------------------------------------------------------------


def identifier(value: object, what: str) -> str:
    """Validate a ClickHouse identifier (database, role, user name) and return it unquoted."""
    if not isinstance(value, str) or not IDENTIFIER_PATTERN.fullmatch(value):
        shown = repr(value) if isinstance(value, str) else type(value).__name__
        raise ValueError(
            f"{what} {shown} is not a valid ClickHouse identifier: it must match ^[a-z][a-z0-9_]*$ "
            "(lowercase letter first, then lowercase letters, digits, underscores; map hyphens to "
            "underscores before passing the name)"
        )
    return value


def quote_identifier(value: object, what: str) -> str:
    """The backquoted form of a validated identifier."""
    return f"`{identifier(value, what)}`"


def sha256_hex(value: object, what: str = "password_sha256_hex") -> str:
    """Validate a password hash: hex sha256 (64 lowercase hex characters). Never echoes the value."""
    if not isinstance(value, str) or not SHA256_HEX_PATTERN.fullmatch(value):
        raise ValueError(
            f"{what} must be the hex SHA-256 of the password: exactly 64 lowercase hex characters "
            "(hashlib.sha256(password.encode()).hexdigest()), not the base64 form"
        )
    return value


def quote_literal(value: str) -> str:
    """A ClickHouse single-quoted string literal (backslash and quote escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def privileges(values: object) -> list[str]:
    """Validate privileges against ALLOWED_PRIVILEGES; returns them deduplicated in canonical order.

    Case and inner whitespace are normalised (`"create  table"` is `CREATE TABLE`); anything
    else, including ALL, `*` and access management privileges, is rejected.
    """
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ValueError(f"privileges must be a list of strings from {list(ALLOWED_PRIVILEGES)}")
    wanted: set[str] = set()
    for value in values:
        normal = " ".join(value.split()).upper() if isinstance(value, str) else None
        if normal not in ALLOWED_PRIVILEGES:
            raise ValueError(
                f"privilege {value!r} is not allowed: use only {', '.join(ALLOWED_PRIVILEGES)} "
                "(never ALL, global *.* grants or access management)"
            )
        wanted.add(normal)
    if not wanted:
        raise ValueError(f"privileges must name at least one of {', '.join(ALLOWED_PRIVILEGES)}")
    return [p for p in ALLOWED_PRIVILEGES if p in wanted]


def _on_database(database: str) -> str:
    return f"{quote_identifier(database, 'database')}.*"


def _privilege_list(values: Iterable[str]) -> str:
    return ", ".join(privileges(list(values)))


# --- databases --------------------------------------------------------------------------------


def create_database(database: str) -> str:
    return f"CREATE DATABASE IF NOT EXISTS {quote_identifier(database, 'database')}"


# --- roles ------------------------------------------------------------------------------------


def create_role(role: str) -> str:
    return f"CREATE ROLE IF NOT EXISTS {quote_identifier(role, 'role')}"


def drop_role(role: str) -> str:
    return f"DROP ROLE IF EXISTS {quote_identifier(role, 'role')}"


def clear_settings(kind: str, name: str) -> str:
    """Drop every setting and profile set on a user or role itself (`SETTINGS NONE`)."""
    what = {"USER": "user", "ROLE": "role"}[kind]
    return f"ALTER {kind} {quote_identifier(name, what)} SETTINGS NONE"


# --- settings profiles ------------------------------------------------------------------------


class Setting(NamedTuple):
    """One element of a settings profile: a value and its constraint."""

    name: str
    value: int
    min: int | None = None
    max: int | None = None
    const: bool = False

    def sql(self) -> str:
        text = f"{identifier(self.name, 'setting')} = {int(self.value)}"
        if self.min is not None:
            text += f" MIN {int(self.min)}"
        if self.max is not None:
            text += f" MAX {int(self.max)}"
        return text + (" CONST" if self.const else "")


def profile_name(role: str) -> str:
    """The settings profile that carries a role's `readonly` level."""
    return identifier(f"{identifier(role, 'role')}{PROFILE_SUFFIX}", "settings profile")


def replace_settings_profile(profile: str, settings: Sequence[Setting], to_kind: str, to: str) -> str:
    """The profile, replaced whatever it holds, with exactly these elements, applied to one user/role."""
    body = ", ".join(setting.sql() for setting in settings)
    return (
        f"CREATE SETTINGS PROFILE OR REPLACE {quote_identifier(profile, 'settings profile')} "
        f"SETTINGS {body} TO {quote_identifier(to, to_kind)}"
    )


def drop_settings_profile(profile: str) -> str:
    return f"DROP SETTINGS PROFILE IF EXISTS {quote_identifier(profile, 'settings profile')}"


def drop_profile(role: str) -> str:
    return drop_settings_profile(profile_name(role))


# --- quotas -----------------------------------------------------------------------------------

QUOTA_LIMITS: tuple[str, ...] = ("queries", "read_rows")


def replace_quota(quota: str, interval_seconds: int, limits: Mapping[str, int], user: str) -> str:
    """The quota, replaced whatever it holds: these maxima per interval, applied to one user."""
    maxima = ", ".join(f"{key} = {int(limits[key])}" for key in QUOTA_LIMITS if key in limits)
    return (
        f"CREATE QUOTA OR REPLACE {quote_identifier(quota, 'quota')} "
        f"FOR INTERVAL {int(interval_seconds)} second MAX {maxima} TO {quote_identifier(user, 'user')}"
    )


def drop_quota(quota: str) -> str:
    return f"DROP QUOTA IF EXISTS {quote_identifier(quota, 'quota')}"


# --- privilege grants -------------------------------------------------------------------------


def grant_privileges(values: Iterable[str], database: str, role: str) -> str:
    return f"GRANT {_privilege_list(values)} ON {_on_database(database)} TO {quote_identifier(role, 'role')}"


def revoke_privileges(values: Iterable[str], database: str, role: str) -> str:
    return (
        f"REVOKE {_privilege_list(values)} ON {_on_database(database)} FROM {quote_identifier(role, 'role')}"
    )


ACCESS_TYPE = re.compile(r"^[A-Za-z][A-Za-z ]*$")
NAME_IN_GRANT = re.compile(r"^[A-Za-z0-9_.\-]+$")


class UnrevokableGrantError(ValueError):
    """A privilege read back from system.grants that no REVOKE built here can address safely.

    The providers turn it into a ClickHouseSQLError naming the object (base.SqlProvider.apply).
    """


class Privilege(NamedTuple):
    """One row of system.grants (a privilege some role or user holds), as the server reports it."""

    access_type: str
    database: str | None
    table: str | None
    column: str | None
    grant_option: bool = False
    partial_revoke: bool = False

    def target(self, name: Callable[[str], str] | None = None) -> str:
        """`ON ...` target: *.*, `db`.*, `db`.`table`; a column is written after the access type.

        `name` quotes each name (default: for a statement, raising ValueError for an unsafe one).
        """
        quote = name or _grant_name
        if self.database is None:
            return "*.*"
        database = quote(self.database)
        return f"{database}.*" if self.table is None else f"{database}.{quote(self.table)}"

    def describe(self) -> str:
        """For messages and drift (never raises): a name no statement can address is shown repr'd."""
        column = f"({self.column})" if self.column else ""
        option = " WITH GRANT OPTION" if self.grant_option else ""
        kind = "REVOKE" if self.partial_revoke else "GRANT"
        return f"{kind} {self.access_type}{column} ON {self.target(_shown_name)}{option}"


def _grant_name(value: str) -> str:
    """A database/table/column name read back from system.grants, backquoted (any name made by hand)."""
    if not NAME_IN_GRANT.fullmatch(value):
        raise ValueError(f"the name {value!r} is outside {NAME_IN_GRANT.pattern}")
    return f"`{value}`"


def _shown_name(value: str) -> str:
    return f"`{value}`" if NAME_IN_GRANT.fullmatch(value) else repr(value)


def revoke_privilege(privilege: Privilege, grantee_kind: str, grantee: str) -> str:
    """REVOKE exactly one held privilege (as read from system.grants) from a role or user.

    Raises UnrevokableGrantError for a privilege made by hand that no statement built here can
    address safely (e.g. a name with `*` from a wildcard grant, an access type outside ACCESS_TYPE).
    """
    try:
        if not ACCESS_TYPE.fullmatch(privilege.access_type):
            raise ValueError(f"the access type {privilege.access_type!r} is outside {ACCESS_TYPE.pattern}")
        column = f"({_grant_name(privilege.column)})" if privilege.column else ""
        target = privilege.target()
    except ValueError as exc:
        raise UnrevokableGrantError(
            f"holds {privilege.describe()} (not declared), which cannot be revoked automatically ({exc}): "
            f"an admin revokes it in the SQL console (REVOKE ... FROM {grantee}); then run `pulumi up` again"
        ) from None
    return (
        f"REVOKE {privilege.access_type}{column} ON {target} FROM {quote_identifier(grantee, grantee_kind)}"
    )


def revoke_grant_option(values: Iterable[str], database: str, role: str) -> str:
    return (
        f"REVOKE GRANT OPTION FOR {_privilege_list(values)} ON {_on_database(database)} "
        f"FROM {quote_identifier(role, 'role')}"
    )


# --- users ------------------------------------------------------------------------------------


def _identified_all(passwords_hex: Sequence[str]) -> str:
    if not passwords_hex:
        raise ValueError("a user needs at least one password")
    methods = ", ".join(f"sha256_hash BY {quote_literal(sha256_hex(h))}" for h in passwords_hex)
    return f"IDENTIFIED WITH {methods}"


def create_user(user: str, passwords_hex: Sequence[str]) -> str:
    """A new user accepting exactly these passwords (several only while a rotation is in progress)."""
    return f"CREATE USER {quote_identifier(user, 'user')} {_identified_all(passwords_hex)} DEFAULT ROLE NONE"


def set_passwords(user: str, passwords_hex: Sequence[str]) -> str:
    """Reset the user's authentication to exactly these passwords (drops any other method)."""
    return f"ALTER USER {quote_identifier(user, 'user')} {_identified_all(passwords_hex)}"


def add_passwords(user: str, passwords_hex: Sequence[str]) -> str:
    """Add accepted passwords; the existing ones keep working (rotation start)."""
    return f"ALTER USER {quote_identifier(user, 'user')} ADD {_identified_all(passwords_hex)}"


def grant_role(role: str, user: str) -> str:
    return f"GRANT {quote_identifier(role, 'role')} TO {quote_identifier(user, 'user')}"


def revoke_role(role: str, grantee: str, grantee_kind: str = "user") -> str:
    return f"REVOKE {quote_identifier(role, 'role')} FROM {quote_identifier(grantee, grantee_kind)}"


def set_default_role(role: str, user: str) -> str:
    return f"SET DEFAULT ROLE {quote_identifier(role, 'role')} TO {quote_identifier(user, 'user')}"


def drop_user(user: str) -> str:
    return f"DROP USER IF EXISTS {quote_identifier(user, 'user')}"
