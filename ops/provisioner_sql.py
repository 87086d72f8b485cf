"""The statements `make provisioner` runs as the admin: the `provisioner` and `observer` SQL users.

Both users converge exactly on every run, whatever was granted to them by hand, because each
grant set starts with a statement WITH REPLACE OPTION. Its semantics (ClickHouse
src/Interpreters/Access/InterpreterGrantQuery.cpp, `collectAccessRightsElementsToGrantOrRevoke`,
`collectRolesToGrantOrRevoke` and `updateGrantedAccessRightsAndRolesTemplate`):

- `GRANT <privileges> ON ... TO u WITH REPLACE OPTION` revokes ALL of u's privileges, then grants
  these (u's roles are untouched);
- `GRANT <roles> TO u WITH REPLACE OPTION` revokes ALL of u's roles (and drops them from its
  default roles), then grants these (u's privileges are untouched);
- but `GRANT <roles> TO u WITH ADMIN OPTION WITH REPLACE OPTION` revokes only the ADMIN OPTION of
  u's other roles, not the roles: a role granted by hand would stay. Hence the roles are replaced
  first without, then granted again WITH ADMIN OPTION;
- `REVOKE ALL FROM u` (no ON) revokes all of u's roles (the observer holds none).

Name-scoped grants (ClickHouse src/Access/Common/AccessType.h: parameter type USER_NAME, 25.1+)
exist only for CREATE/ALTER/DROP USER and CREATE/ALTER/DROP ROLE: they are granted on `salla_*`
(users) and `<database>_*` (roles). CREATE/ALTER/DROP QUOTA and SETTINGS PROFILE and the SHOW
access types are GLOBAL there (`GRANT CREATE QUOTA ON salla_* ...` is INVALID_GRANT 509), so they
stay `ON *.*`; and `CREATE QUOTA|SETTINGS PROFILE ... TO <user>` checks only CREATE QUOTA|SETTINGS
PROFILE (InterpreterCreateQuotaQuery, InterpreterCreateSettingsProfileQuery), not the user. So the
provisioner can still apply a profile or quota to any user (a denial of service, never more
access: settings grant no privileges); `ALTER USER <user> SETTINGS PROFILE ...` on a user outside
the namespace is refused. docs/provisioning.md has the exact grants and the chdb proof.
"""

from __future__ import annotations

from collections.abc import Sequence

from components.warehouse_access import PRIVILEGES, role_name
from settings.consumers import SQL_NAMESPACE
from settings.passwords import OBSERVER_USER, PROVISIONER_USER
from settings.rules import SQL_NAME

PLACEHOLDERS = {
    PROVISIONER_USER: "<sha256 of the provisioner's password>",
    OBSERVER_USER: "<sha256 of the observer's password>",
}
USER_ADMIN = "CREATE USER, ALTER USER, DROP USER"
ROLE_ADMIN = "CREATE ROLE, ALTER ROLE, DROP ROLE"
# Reading the access entities back (system.users, roles, grants, role_grants, settings_profiles,
# settings_profile_elements, quotas, quota_limits; SHOW GRANTS): the provider's refresh, as either user.
SHOW_ACCESS = "SHOW USERS, SHOW ROLES, SHOW SETTINGS PROFILES, SHOW QUOTAS"
# Global only in ClickHouse (no name-scoped grant exists for them): see the module docstring.
PROFILES_AND_QUOTAS = (
    "CREATE SETTINGS PROFILE, ALTER SETTINGS PROFILE, DROP SETTINGS PROFILE, "
    "CREATE QUOTA, ALTER QUOTA, DROP QUOTA"
)
# The data privileges the consumers' roles carry; granting them needs them WITH GRANT OPTION.
ROLE_PRIVILEGES = "SELECT, INSERT, CREATE TABLE, ALTER TABLE, DROP TABLE"
# The observer's sessions are read-only on top of holding no write privilege (2: it may still set
# session settings, which the HTTP client does); CONST: it cannot lift it. A user-level setting,
# not a shared settings profile (which the provisioner could alter). Defence in depth only: its
# grants alone refuse every write and every table read.
OBSERVER_SETTINGS = "SETTINGS readonly = 2 CONST"


class ProvisionerError(Exception):
    """A problem the operator can fix; the message holds no secret."""


def project_roles(database: str) -> list[str]:
    """The roles WarehouseAccess declares (`<database>_read`, `<database>_write`)."""
    return [role_name(database, access) for access in PRIVILEGES]


def _check(database: str, legacy_users: Sequence[str]) -> None:
    if not SQL_NAME.match(database):
        raise ProvisionerError(f"dataWarehouse.database {database!r} is not a ClickHouse database name")
    for name in legacy_users:
        if not SQL_NAME.match(name) or name in (PROVISIONER_USER, OBSERVER_USER, "default"):
            raise ProvisionerError(f"{name!r} cannot be a former consumer user name")


def grant_statements(database: str, legacy_users: Sequence[str] = ()) -> list[str]:
    """The provisioner's roles and privileges, exactly (see the module docstring for REPLACE).

    `legacy_users`: the consumers' former user names (`app`), managed only during the migration to
    the namespace (`make provisioner LEGACY=1`); a run without them takes those grants away."""
    _check(database, legacy_users)
    user, roles = PROVISIONER_USER, ", ".join(project_roles(database))
    return [
        # Exactly the project's roles (any other role goes), then the same WITH ADMIN OPTION.
        f"GRANT {roles} TO {user} WITH REPLACE OPTION",
        f"GRANT {roles} TO {user} WITH ADMIN OPTION",
        # Exactly these privileges: the first replaces all it had.
        f"GRANT {USER_ADMIN} ON {SQL_NAMESPACE}* TO {user} WITH REPLACE OPTION",
        *(f"GRANT {USER_ADMIN} ON {legacy} TO {user}" for legacy in legacy_users),
        f"GRANT {ROLE_ADMIN} ON {database}_* TO {user}",
        f"GRANT {PROFILES_AND_QUOTAS}, {SHOW_ACCESS} ON *.* TO {user}",
        f"GRANT CREATE DATABASE ON {database}.* TO {user}",
        f"GRANT {ROLE_PRIVILEGES} ON {database}.* TO {user} WITH GRANT OPTION",
    ]


def observer_grant_statements(database: str) -> list[str]:
    """The observer's: reading the access entities and whether the database exists; no role."""
    _check(database, ())
    return [
        f"REVOKE ALL FROM {OBSERVER_USER}",
        f"GRANT {SHOW_ACCESS} ON *.* TO {OBSERVER_USER} WITH REPLACE OPTION",
        # system.databases lists only the databases the user may SHOW: the provider looks for its own.
        f"GRANT SHOW DATABASES ON {database}.* TO {OBSERVER_USER}",
    ]


def _identified(password_hex: str) -> str:
    return f"IDENTIFIED WITH sha256_hash BY '{password_hex}'"


def statements(
    database: str,
    hexes: dict[str, str],
    *,
    add_password: str | None = None,
    legacy_users: Sequence[str] = (),
) -> list[str]:
    """What runs as `default`; `hexes`: each user's password hash (hex SHA-256).

    `add_password` (a user name): only add its second password (rotation, step 1)."""
    _check(database, legacy_users)
    if add_password is not None:
        return [f"ALTER USER {add_password} ADD {_identified(hexes[add_password])}"]
    provisioner, observer = _identified(hexes[PROVISIONER_USER]), _identified(hexes[OBSERVER_USER])
    roles = project_roles(database)
    return [
        f"CREATE USER IF NOT EXISTS {PROVISIONER_USER} {provisioner}",
        # Exactly this one password, no settings of its own; its roles (only the project's, below)
        # active in every session.
        f"ALTER USER {PROVISIONER_USER} {provisioner} DEFAULT ROLE ALL SETTINGS NONE",
        f"CREATE USER IF NOT EXISTS {OBSERVER_USER} {observer} DEFAULT ROLE NONE {OBSERVER_SETTINGS}",
        f"ALTER USER {OBSERVER_USER} {observer} DEFAULT ROLE NONE {OBSERVER_SETTINGS}",
        f"CREATE DATABASE IF NOT EXISTS {database}",
        *(f"CREATE ROLE IF NOT EXISTS {role}" for role in roles),
        # Roles carry no settings profile any more; an old `<role>_profile` (readonly = 2 on the read
        # role) would make the provisioner's sessions read-only, so it goes before they are active.
        "DROP SETTINGS PROFILE IF EXISTS " + ", ".join(f"{role}_profile" for role in roles),
        *grant_statements(database, legacy_users),
        *observer_grant_statements(database),
    ]
