"""The reads (refresh, drift, converge-on-create): system-table queries with server-side parameters.

Each is a `Query`: SQL with `{name:String}` placeholders plus the values, which the executor sends
separately, so no value is ever interpolated into a SELECT. They read only system.users,
system.roles, system.grants, system.role_grants, system.settings_profiles,
system.settings_profile_elements, system.quotas, system.quota_limits and system.databases
(what the provisioning user may SHOW).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from clickhouse_sql.statements import identifier


class Query(NamedTuple):
    """A read statement and its server-side parameters."""

    sql: str
    parameters: Mapping[str, str]


def database_exists(database: str) -> Query:
    return Query(
        "SELECT name FROM system.databases WHERE name = {name:String}",
        {"name": identifier(database, "database")},
    )


def role_exists(role: str) -> Query:
    return Query(
        "SELECT name FROM system.roles WHERE name = {name:String}", {"name": identifier(role, "role")}
    )


GRANT_COLUMNS = "access_type, database, table, column, grant_option, is_partial_revoke"


def role_privileges(role: str) -> Query:
    """Every privilege row of a role: any database, table, column, and global (database NULL)."""
    return Query(
        f"SELECT {GRANT_COLUMNS} FROM system.grants WHERE role_name = {{name:String}}",
        {"name": identifier(role, "role")},
    )


def user_privileges(user: str) -> Query:
    """Privileges granted to the user directly (not through a role)."""
    return Query(
        f"SELECT {GRANT_COLUMNS} FROM system.grants WHERE user_name = {{name:String}}",
        {"name": identifier(user, "user")},
    )


def role_granted_roles(role: str) -> Query:
    return Query(
        "SELECT granted_role_name FROM system.role_grants WHERE role_name = {name:String}",
        {"name": identifier(role, "role")},
    )


def user(user: str) -> Query:
    """Authentication methods and default roles of a user."""
    return Query(
        "SELECT auth_type, default_roles_all, default_roles_list, default_roles_except "
        "FROM system.users WHERE name = {name:String}",
        {"name": identifier(user, "user")},
    )


def user_granted_roles(user: str) -> Query:
    return Query(
        "SELECT granted_role_name, granted_role_is_default, with_admin_option "
        "FROM system.role_grants WHERE user_name = {name:String}",
        {"name": identifier(user, "user")},
    )


def settings_profile(profile: str) -> Query:
    """Whom a settings profile applies to."""
    return Query(
        "SELECT apply_to_all, apply_to_list, apply_to_except FROM system.settings_profiles "
        "WHERE name = {name:String}",
        {"name": identifier(profile, "settings profile")},
    )


ELEMENT_COLUMNS = "setting_name, value, min, max, writability, inherit_profile"


def profile_elements(profile: str) -> Query:
    """Every element of a settings profile (settings with constraints, inherited profiles)."""
    return Query(
        f"SELECT {ELEMENT_COLUMNS} FROM system.settings_profile_elements "
        "WHERE profile_name = {name:String} ORDER BY index",
        {"name": identifier(profile, "settings profile")},
    )


def own_settings(kind: str, name: str) -> Query:
    """Settings and profiles set on a user or role itself (`ALTER USER u SETTINGS ...`)."""
    column = {"user": "user_name", "role": "role_name"}[kind]
    return Query(
        f"SELECT {ELEMENT_COLUMNS} FROM system.settings_profile_elements WHERE {column} = {{name:String}}",
        {"name": identifier(name, kind)},
    )


def quota(quota: str) -> Query:
    return Query(
        "SELECT keys, durations, apply_to_all, apply_to_list, apply_to_except FROM system.quotas "
        "WHERE name = {name:String}",
        {"name": identifier(quota, "quota")},
    )


QUOTA_LIMIT_COLUMNS = (
    "max_queries, max_query_selects, max_query_inserts, max_errors, max_result_rows, max_result_bytes, "
    "max_read_rows, max_read_bytes, max_execution_time, max_written_bytes"
)


def quota_limits(quota: str) -> Query:
    return Query(
        f"SELECT duration, is_randomized_interval, {QUOTA_LIMIT_COLUMNS} FROM system.quota_limits "
        "WHERE quota_name = {name:String} ORDER BY duration",
        {"name": identifier(quota, "quota")},
    )
