"""The access inventory's reads (clickhouse_sql.inventory): who holds the project's roles, which
users live in the project's namespace, and every settings profile and quota with whom it applies to.

Server-side parameters only (`{name:String}`), as in clickhouse_sql.queries. They read
system.role_grants, system.users, system.settings_profiles and system.quotas: what the read-only
observer login may SHOW (SHOW USERS, SHOW ROLES, SHOW SETTINGS PROFILES, SHOW QUOTAS).
"""

from __future__ import annotations

from clickhouse_sql.queries import Query
from clickhouse_sql.statements import identifier


def role_holders(role: str) -> Query:
    """Every user and role the role is granted to (one row each: user_name or role_name is NULL)."""
    return Query(
        "SELECT user_name, role_name, with_admin_option FROM system.role_grants "
        "WHERE granted_role_name = {name:String}",
        {"name": identifier(role, "role")},
    )


def namespace_users(namespace: str) -> Query:
    """The users whose name starts with the project's namespace (`salla_`)."""
    return Query(
        "SELECT name FROM system.users WHERE startsWith(name, {prefix:String}) ORDER BY name",
        {"prefix": identifier(namespace, "namespace")},
    )


APPLIES = "name, apply_to_all, apply_to_list, apply_to_except"


def all_profiles() -> Query:
    """Every settings profile and whom it applies to (one applied to a consumer may have any name)."""
    return Query(f"SELECT {APPLIES} FROM system.settings_profiles ORDER BY name", {})


def all_quotas() -> Query:
    """Every quota and whom it applies to."""
    return Query(f"SELECT {APPLIES} FROM system.quotas ORDER BY name", {})
