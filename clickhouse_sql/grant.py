"""Grant: exactly these privileges (from statements.ALLOWED_PRIVILEGES) of a role on `<database>`.*.

The grant owns every privilege row of the role on that database: another access type, a
table- or column-level grant, a grant option or a partial revoke is drift, and converging revokes
what is not declared, then grants what is missing (revokes first: a broader privilege granted by
hand, e.g. `CREATE`, is revoked before the declared `CREATE TABLE` is granted again).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from clickhouse_sql import client, queries, statements
from clickhouse_sql.base import UNKNOWN_ROLE, SqlProvider
from clickhouse_sql.client import Session
from clickhouse_sql.role import privilege_of
from clickhouse_sql.statements import Privilege
from dynamic_props import plain


class GrantProvider(SqlProvider):
    """Privileges (from statements.ALLOWED_PRIVILEGES) of a role on `<database>`.*."""

    kind = "grant"
    keys = ("role", "database", "privileges", "connection")
    identity = ("role", "database")
    mutable = ("privileges",)
    validators: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "role": lambda v: statements.identifier(v, "role name"),
        "database": lambda v: statements.identifier(v, "database name"),
        "privileges": statements.privileges,
    }

    def label(self, props: Mapping[str, Any]) -> str:
        return f"grant on `{props.get('database')}`.* to role `{props.get('role')}`"

    def object_id(self, props: Mapping[str, Any]) -> str:
        return f"{props['role']}@{props['database']}"

    def with_id(self, id_: str, props: Mapping[str, Any]) -> dict[str, Any]:
        return plain(props)

    def observe(self, sql: Session, p: Mapping[str, Any]) -> tuple[Privilege, ...] | None:
        if not sql.rows(queries.role_exists(p["role"])):
            return None
        rows = (privilege_of(row) for row in sql.rows(queries.role_privileges(p["role"])))
        return tuple(priv for priv in rows if priv.database == p["database"])

    @staticmethod
    def _whole(priv: Privilege) -> bool:
        return priv.table is None and priv.column is None and not priv.partial_revoke

    def _plan(
        self, live: tuple[Privilege, ...], p: Mapping[str, Any]
    ) -> tuple[list[Privilege], list[str], list[str], list[Privilege]]:
        """(rows to revoke, privileges to grant, grant options to revoke, partial revokes)."""
        wanted = statements.privileges(p["privileges"])
        extra = [
            priv
            for priv in live
            if not priv.partial_revoke and not (self._whole(priv) and priv.access_type in wanted)
        ]
        partial = [priv for priv in live if priv.partial_revoke]
        held = {priv.access_type for priv in live if self._whole(priv) and priv.access_type in wanted}
        regrant = {priv.access_type for priv in partial if priv.access_type in wanted}
        missing = [priv for priv in wanted if priv not in held or priv in regrant]
        options = [priv.access_type for priv in live if self._whole(priv) and priv.grant_option]
        return extra, missing, [o for o in wanted if o in options], partial

    def drift(self, live: tuple[Privilege, ...], p: Mapping[str, Any]) -> list[str]:
        extra, missing, options, partial = self._plan(live, p)
        found = [f"holds {priv.describe()} (not declared)" for priv in extra]
        found += [f"holds {priv.describe()} (not declared)" for priv in partial]
        found += [f"has GRANT OPTION for {o} (not declared)" for o in options]
        found += [f"lacks {priv} ON {p['database']}.*" for priv in missing]
        return found

    def converge(
        self, live: tuple[Privilege, ...] | None, p: Mapping[str, Any], olds: Mapping[str, Any] | None
    ) -> list[str]:
        role, database = p["role"], p["database"]
        if live is None:
            return [statements.grant_privileges(p["privileges"], database, role)]
        extra, missing, options, _partial = self._plan(live, p)
        todo = [statements.revoke_privilege(priv, "role", role) for priv in extra]
        if options:
            todo.append(statements.revoke_grant_option(options, database, role))
        if missing:
            todo.append(statements.grant_privileges(missing, database, role))
        return todo

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """REVOKE every privilege of the grant; a role that no longer exists holds nothing."""
        p = plain(_props)
        try:
            with self.session(p, who=self.writer(p, "writing")) as sql:
                sql.run(statements.revoke_privileges(p["privileges"], p["database"], p["role"]))
        except client.ClickHouseSQLError as exc:
            if exc.code != UNKNOWN_ROLE:
                raise
