"""Pure SQL builders for ClickHouse access objects: no I/O, no state.

Every DDL statement is idempotent (`IF NOT EXISTS` / `IF EXISTS`, or an absolute `ALTER`) and has
no `ON CLUSTER` (ClickHouse Cloud replicates access objects itself). Identifiers are validated
against `^[a-z][a-z0-9_]*$` and backquoted; mapping consumer names such as `data-pipeline` to a
valid identifier is the caller's job. The only literal ever written into a statement is a
password hash, validated as 64 lowercase hex characters before it is quoted.

Reads are `Query` objects: SQL with server-side parameters (`{name:String}`) plus the values,
which the executor sends separately, so no value is ever interpolated into a SELECT.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import NamedTuple

IDENTIFIER_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
SHA256_HEX_PATTERN = re.compile(r"^[0-9a-f]{64}$")

# The only privileges a Grant may carry, in their canonical order. Deliberately no ALL, no
# global (`*.*`) grants and no access management: consumers get data access, nothing else.
ALLOWED_PRIVILEGES: tuple[str, ...] = ("SELECT", "INSERT", "CREATE TABLE", "ALTER TABLE", "DROP TABLE")
READONLY_LEVELS: tuple[int, ...] = (0, 1, 2)
PROFILE_SUFFIX = "_profile"


class Query(NamedTuple):
    """A read statement and its server-side parameters."""

    sql: str
    parameters: Mapping[str, str]


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


def readonly_level(value: object) -> int:
    """Validate a `readonly` setting level (0, 1 or 2); integral floats from the RPC layer are accepted."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value not in READONLY_LEVELS:
        raise ValueError(f"readonly must be one of {list(READONLY_LEVELS)}, got {value!r}")
    return int(value)


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


def profile_name(role: str) -> str:
    """The settings profile that carries a role's `readonly` level."""
    return identifier(f"{identifier(role, 'role')}{PROFILE_SUFFIX}", "settings profile")


def _on_database(database: str) -> str:
    return f"{quote_identifier(database, 'database')}.*"


def _privilege_list(values: Iterable[str]) -> str:
    return ", ".join(privileges(list(values)))


def _identified(password_hex: str) -> str:
    return f"IDENTIFIED WITH sha256_hash BY {quote_literal(sha256_hex(password_hex))}"


# --- databases --------------------------------------------------------------------------------


def create_database(database: str) -> str:
    return f"CREATE DATABASE IF NOT EXISTS {quote_identifier(database, 'database')}"


# --- roles and their settings profile ---------------------------------------------------------


def create_role(role: str) -> str:
    return f"CREATE ROLE IF NOT EXISTS {quote_identifier(role, 'role')}"


def drop_role(role: str) -> str:
    return f"DROP ROLE IF EXISTS {quote_identifier(role, 'role')}"


def _profile_body(role: str, readonly: int) -> str:
    return (
        f"{quote_identifier(profile_name(role), 'settings profile')} "
        f"SETTINGS readonly = {readonly_level(readonly)} CONST TO {quote_identifier(role, 'role')}"
    )


def create_profile(role: str, readonly: int) -> str:
    """The role's settings profile, created only if missing (first deployment)."""
    return f"CREATE SETTINGS PROFILE IF NOT EXISTS {_profile_body(role, readonly)}"


def replace_profile(role: str, readonly: int) -> str:
    """The role's settings profile, replaced whatever it holds (a changed or drifted level)."""
    return f"CREATE SETTINGS PROFILE OR REPLACE {_profile_body(role, readonly)}"


def drop_profile(role: str) -> str:
    return f"DROP SETTINGS PROFILE IF EXISTS {quote_identifier(profile_name(role), 'settings profile')}"


# --- privilege grants -------------------------------------------------------------------------


def grant_privileges(values: Iterable[str], database: str, role: str) -> str:
    return f"GRANT {_privilege_list(values)} ON {_on_database(database)} TO {quote_identifier(role, 'role')}"


def revoke_privileges(values: Iterable[str], database: str, role: str) -> str:
    return (
        f"REVOKE {_privilege_list(values)} ON {_on_database(database)} FROM {quote_identifier(role, 'role')}"
    )


# --- users ------------------------------------------------------------------------------------


def create_user(user: str, password_hex: str) -> str:
    return f"CREATE USER IF NOT EXISTS {quote_identifier(user, 'user')} {_identified(password_hex)}"


def set_password(user: str, password_hex: str) -> str:
    """Reset the user's authentication to exactly this one password (drops any other)."""
    return f"ALTER USER {quote_identifier(user, 'user')} {_identified(password_hex)}"


def add_password(user: str, password_hex: str) -> str:
    """Add a second accepted password; the existing one keeps working (rotation step 1)."""
    return f"ALTER USER {quote_identifier(user, 'user')} ADD {_identified(password_hex)}"


def grant_role(role: str, user: str) -> str:
    return f"GRANT {quote_identifier(role, 'role')} TO {quote_identifier(user, 'user')}"


def revoke_role(role: str, user: str) -> str:
    return f"REVOKE {quote_identifier(role, 'role')} FROM {quote_identifier(user, 'user')}"


def set_default_role(role: str, user: str) -> str:
    return f"SET DEFAULT ROLE {quote_identifier(role, 'role')} TO {quote_identifier(user, 'user')}"


def drop_user(user: str) -> str:
    return f"DROP USER IF EXISTS {quote_identifier(user, 'user')}"


# --- reads (refresh / drift) ------------------------------------------------------------------


def database_exists(database: str) -> Query:
    return Query(
        "SELECT name FROM system.databases WHERE name = {name:String}",
        {"name": identifier(database, "database")},
    )


def role_exists(role: str) -> Query:
    return Query(
        "SELECT name FROM system.roles WHERE name = {name:String}", {"name": identifier(role, "role")}
    )


def profile_targets(role: str) -> Query:
    """The roles/users a role's settings profile applies to."""
    return Query(
        "SELECT apply_to_list FROM system.settings_profiles WHERE name = {profile:String}",
        {"profile": profile_name(role)},
    )


def profile_readonly(role: str) -> Query:
    """The `readonly` value and its writability (`CONST`) in a role's settings profile."""
    return Query(
        "SELECT value, writability FROM system.settings_profile_elements "
        "WHERE profile_name = {profile:String} AND setting_name = {setting:String}",
        {"profile": profile_name(role), "setting": "readonly"},
    )


def database_grants(role: str, database: str) -> Query:
    """The privileges a role holds on `database`.* (whole-database, non-revoke rows only)."""
    return Query(
        "SELECT access_type FROM system.grants WHERE role_name = {role:String} "
        "AND database = {database:String} AND table IS NULL AND column IS NULL AND is_partial_revoke = 0",
        {"role": identifier(role, "role"), "database": identifier(database, "database")},
    )


def user_default_roles(user: str) -> Query:
    return Query(
        "SELECT default_roles_all, default_roles_list FROM system.users WHERE name = {name:String}",
        {"name": identifier(user, "user")},
    )


def user_granted_roles(user: str) -> Query:
    return Query(
        "SELECT granted_role_name FROM system.role_grants WHERE user_name = {name:String}",
        {"name": identifier(user, "user")},
    )
