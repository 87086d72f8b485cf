"""Role: a role with no settings of its own.

The role owns everything about itself except its privileges on the databases listed in
`databases` (those belong to the Grant resources): a privilege anywhere else (another database,
a table, globally), a role granted to it, or a setting set on it directly is drift and revoked.

A role carries no settings profile: the provisioning user holds the project's roles WITH ADMIN
OPTION, active in its sessions, so a profile applied to a role (e.g. `readonly`) would also bind
the provisioner. Readers get `readonly` from their own profile (`<user>_limits`). States written
before this stored `readonly` and the profile `<role>_profile` (`readonly = n CONST TO role`):
such a profile is drift now, and the next update (the stored `readonly` differs from the absent
one), converge or delete drops it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn

from clickhouse_sql import queries, statements
from clickhouse_sql.base import SqlProvider
from clickhouse_sql.client import Session
from clickhouse_sql.profiles import LiveProfile, converge_profile, observe_profile, profile_drift
from clickhouse_sql.statements import Privilege
from dynamic_props import plain


def databases(value: Any) -> list[str]:
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise ValueError("databases must be a list of database names")
    return sorted({statements.identifier(v, "database name") for v in value})


def privilege_of(row: tuple[Any, ...]) -> Privilege:
    access, database, table, column, grant_option, partial = row
    return Privilege(
        str(access),
        None if database is None else str(database),
        None if table is None else str(table),
        None if column is None else str(column),
        bool(grant_option),
        bool(partial),
    )


LEGACY_READONLY = (
    "readonly is no longer set on a role: the provisioning user holds the project's roles (active "
    "in its sessions), so a role's readonly profile would make its sessions read-only; set readonly "
    "in the reader's own settings profile (`<user>_limits`) instead"
)


def no_readonly(value: Any) -> NoReturn:
    """`readonly` survives only in states written before roles lost it; declaring it is refused."""
    raise ValueError(LEGACY_READONLY)


@dataclass(frozen=True)
class LiveRole:
    privileges: tuple[Privilege, ...]  # every row of system.grants for the role
    roles: tuple[str, ...]  # roles granted to this role
    own_settings: int  # elements set on the role itself
    profile: LiveProfile | None


class RoleProvider(SqlProvider):
    """A role; any settings profile `<role>_profile` (legacy `readonly`) is dropped.

    `readonly` is in `mutable` only so that a state that still stores it diffs as a change: that
    update drops the old `<role>_profile`. New states do not store it (not in `keys`).
    """

    kind = "role"
    keys = ("name", "databases", "connection")
    identity = ("name",)
    mutable = ("readonly", "databases")
    adoptable = True
    validators: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "name": lambda v: statements.identifier(v, "role name"),
        "readonly": no_readonly,
        "databases": databases,
    }

    def observe(self, sql: Session, p: Mapping[str, Any]) -> LiveRole | None:
        name = p["name"]
        if not sql.rows(queries.role_exists(name)):
            return None
        return LiveRole(
            tuple(privilege_of(row) for row in sql.rows(queries.role_privileges(name))),
            tuple(sorted(str(row[0]) for row in sql.rows(queries.role_granted_roles(name)))),
            len(sql.rows(queries.own_settings("role", name))),
            observe_profile(sql, statements.profile_name(name)),
        )

    def pristine(self, live: LiveRole, p: Mapping[str, Any]) -> bool:
        """As `make provisioner` makes it: no privileges, no granted roles, no settings, no profile."""
        return not (live.privileges or live.roles or live.own_settings or live.profile)

    @staticmethod
    def foreign(live: LiveRole, p: Mapping[str, Any]) -> list[Privilege]:
        """Privileges outside the databases the Grant resources manage."""
        managed = set(p.get("databases") or [])
        return [priv for priv in live.privileges if priv.database not in managed]

    def drift(self, live: LiveRole, p: Mapping[str, Any]) -> list[str]:
        found = [f"holds {priv.describe()} (not declared)" for priv in self.foreign(live, p)]
        found += [f"has role {role} granted (not declared)" for role in live.roles]
        if live.own_settings:
            found.append(f"has {live.own_settings} setting(s) set on the role itself (not declared)")
        found += [
            f"profile {statements.profile_name(p['name'])}: {problem}"
            for problem in profile_drift(live.profile, [], p["name"])
        ]
        return found

    def converge(
        self, live: LiveRole | None, p: Mapping[str, Any], olds: Mapping[str, Any] | None
    ) -> list[str]:
        name = p["name"]
        profile = statements.profile_name(name)
        if live is None:
            return [statements.create_role(name)]
        todo = [
            statements.revoke_privilege(priv, "role", name)
            for priv in self.foreign(live, p)
            if not priv.partial_revoke  # a partial revoke only narrows a grant; revoking the grant clears it
        ]
        todo += [statements.revoke_role(role, name, "role") for role in live.roles]
        if live.own_settings:
            todo.append(statements.clear_settings("ROLE", name))
        return todo + converge_profile(live.profile, profile, [], "role", name)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Drop the role and a (legacy) `<role>_profile` (IF EXISTS: none, usually)."""
        p = plain(_props)
        with self.session(p, who=self.writer(p, "writing")) as sql:
            sql.run(statements.drop_profile(p["name"]), statements.drop_role(p["name"]))
