"""A small stateful model of ClickHouse access control, as an executor for the SQL providers.

It applies every statement the providers emit (and hand-made seeds in the same grammar): users
with their authentication methods, roles, role grants and default roles, privileges per database,
table and globally (with grant option and partial revokes), settings profiles with constraints,
quotas. It answers the providers' reads (the same system-table queries, same parameters) from that
state, with the rows in the server's shape (checked against chdb in test_clickhouse_sql_model).
Like the server, it refuses: creating what exists, granting to or applying to what does not exist,
and (as the provisioning user, `provisioner=True`) revoking a privilege it holds no grant option
for (ClickHouse >= 20.6 needs the grant option only for what is actually revoked), and granting or
revoking a role it does not hold WITH ADMIN OPTION (it has no ROLE ADMIN): it holds the project's
two roles, as `make provisioner` leaves it, and loses one when that role is dropped (a role made
again is a new role, granted to nobody).

It also runs `make provisioner`'s statements (as the admin), with ClickHouse's REPLACE semantics
(InterpreterGrantQuery): `GRANT <privileges> ... WITH REPLACE OPTION` first revokes every privilege
of the grantee; `GRANT <roles> TO u WITH REPLACE OPTION` first revokes every role; but
`GRANT <roles> TO u WITH ADMIN OPTION WITH REPLACE OPTION` first revokes only the ADMIN OPTION of
u's roles, keeping the roles. Name-scoped grants (`CREATE USER ON salla_*`) are kept by target.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from clickhouse_sql.statements import ALLOWED_PRIVILEGES

SHA256 = "sha256_password"
ACCESS_DENIED, UNKNOWN_ROLE, UNKNOWN_USER, ALREADY_EXISTS = 497, 511, 192, 493


class ModelError(Exception):
    """What the server would answer: a ClickHouse error code and text."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"Code: {code}. DB::Exception: {text}")
        self.code = code


@dataclass
class Row:
    access: str
    database: str | None
    table: str | None = None
    column: str | None = None
    grant_option: bool = False
    partial_revoke: bool = False
    target: str | None = None  # a name-scoped grant's user or role name pattern (`salla_*`)

    def key(self) -> tuple[Any, ...]:
        return (self.access, self.database, self.table, self.column, self.partial_revoke, self.target)


@dataclass
class User:
    auth: list[tuple[str, str]]  # (auth_type, hash)
    roles: dict[str, bool] = field(default_factory=dict)  # granted role -> admin option
    default_all: bool = True
    default_list: list[str] = field(default_factory=list)
    settings: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass
class Profile:
    elements: list[tuple[str, str, str | None, str | None, str | None]]  # name, value, min, max, writability
    to: list[str]
    all: bool = False  # TO ALL [EXCEPT except_]
    except_: list[str] = field(default_factory=list)


@dataclass
class Quota:
    duration: int
    maxima: dict[str, int]
    to: list[str]
    keyed: list[str] = field(default_factory=list)
    all: bool = False
    except_: list[str] = field(default_factory=list)


N = r"`?([A-Za-z0-9_.\-]+)`?"  # a (back)quoted name
TARGET = (
    r"(\*\.\*|`?[A-Za-z0-9_\-]+`?\.\*|`?[A-Za-z0-9_\-]+`?\.`?[A-Za-z0-9_\-]+`?|`?[A-Za-z0-9_\-]+`?\*?|\*)"
)
# Access types granted on a user or role name (pattern) rather than a database (AccessType.h: USER_NAME).
NAME_SCOPED = frozenset(f"{verb} {kind}" for verb in ("CREATE", "ALTER", "DROP") for kind in ("USER", "ROLE"))
NAMES = r"((?:`?[A-Za-z0-9_.\-]+`?, )*`?[A-Za-z0-9_.\-]+`?)"  # a list of names
ACCESS = r"([A-Z][A-Z ]*?)(?:\((`?[A-Za-z0-9_]+`?)\))?"
QUOTA_COLUMNS: tuple[str, ...] = ("queries", "query_selects", "query_inserts", "errors", "result_rows")
QUOTA_COLUMNS += ("result_bytes", "read_rows", "read_bytes", "execution_time", "written_bytes")


def _unquote(name: str) -> str:
    return name.strip("`")


def _target(text: str) -> tuple[str | None, str | None]:
    if "." not in text:  # a bare name: checked in _grant (only name-scoped access types take one)
        return None, None
    if text == "*.*":
        return None, None
    database, table = text.split(".", 1)
    return _unquote(database), None if table == "*" else _unquote(table)


class ClickHouseModel:
    """The access-control state of one service, plus what was run against it."""

    def __init__(self, database: str = "analytics", provisioner: bool = True) -> None:
        self.databases = {"default", "system"}
        self.roles: set[str] = set()
        self.users: dict[str, User] = {}
        self.privileges: dict[tuple[str, str], list[Row]] = {}  # (kind, name) -> rows
        self.role_roles: dict[str, set[str]] = {}  # roles granted to roles
        self.role_settings: dict[str, list[tuple[Any, ...]]] = {}
        self.profiles: dict[str, Profile] = {}
        self.quotas: dict[str, Quota] = {}
        self.statements: list[str] = []  # every DDL statement applied (provider or seed)
        self.reads: list[tuple[str, dict[str, str]]] = []
        self.connections = 0
        self.fail_on: str | None = None  # a statement prefix the "server" fails (an interrupted run)
        # The provisioning user's grant option: the data privileges on this database only.
        self.grantable = (database, set(ALLOWED_PRIVILEGES)) if provisioner else None
        # The roles the provisioning user holds WITH ADMIN OPTION (ops/provisioner.py).
        self.admin_roles = {f"{database}_read", f"{database}_write"}

    # --- the executor interface ---------------------------------------------------------------

    def factory(self, _connection: Any) -> ClickHouseModel:
        self.connections += 1
        return self

    def close(self) -> None:
        return None

    def command(self, sql: str) -> None:
        self.statements.append(sql)
        if self.fail_on and sql.startswith(self.fail_on):
            from clickhouse_connect.driver.exceptions import OperationalError

            raise OperationalError("connection reset by peer")
        try:
            self.apply(sql)
        except ModelError as exc:
            from clickhouse_connect.driver.exceptions import DatabaseError

            error = DatabaseError(str(exc))
            error.code = exc.code
            raise error from None

    def seed(self, *sqls: str) -> None:
        """Hand-made state (as an admin: no grant-option check); not counted as provider statements."""
        grantable, self.grantable = self.grantable, None
        try:
            for sql in sqls:
                self.apply(sql)
        finally:
            self.grantable = grantable

    # --- statements ---------------------------------------------------------------------------

    def apply(self, sql: str) -> None:  # one branch per statement form
        if self._apply_provisioning(sql):
            return
        if m := re.fullmatch(rf"CREATE DATABASE IF NOT EXISTS {N}", sql):
            self.databases.add(m[1])
        elif m := re.fullmatch(rf"CREATE ROLE IF NOT EXISTS {N}", sql):
            self.roles.add(m[1])
        elif m := re.fullmatch(rf"DROP ROLE IF EXISTS {N}", sql):
            self._drop_role(m[1])
        elif m := re.fullmatch(rf"CREATE USER {N} IDENTIFIED WITH (.+?)( DEFAULT ROLE NONE)?", sql):
            if m[1] in self.users:
                raise ModelError(ALREADY_EXISTS, f"user `{m[1]}`: cannot insert because it already exists")
            self.users[m[1]] = User(self._methods(m[2]), default_all=not m[3])
        elif m := re.fullmatch(rf"ALTER USER {N} (ADD )?IDENTIFIED WITH (.+)", sql):
            user = self._user(m[1])
            user.auth = (user.auth if m[2] else []) + self._methods(m[3])
        elif m := re.fullmatch(rf"ALTER (USER|ROLE) {N} SETTINGS NONE", sql):
            if m[1] == "USER":
                self._user(m[2]).settings = []
            else:
                self.role_settings[self._role(m[2])] = []
        elif m := re.fullmatch(rf"ALTER (USER|ROLE) {N} SETTINGS (\w+) = (\d+)", sql):  # seeds only
            element = (m[3], m[4], None, None, None)
            if m[1] == "USER":
                self._user(m[2]).settings.append(element)
            else:
                self.role_settings.setdefault(self._role(m[2]), []).append(element)
        elif m := re.fullmatch(rf"DROP USER IF EXISTS {N}", sql):
            self._drop_user(m[1])
        elif m := re.fullmatch(rf"GRANT {N} TO {N}( WITH ADMIN OPTION)?", sql):
            self._grant_role(m[1], m[2], bool(m[3]))
        elif m := re.fullmatch(rf"REVOKE {N} FROM {N}", sql):
            self._revoke_role(m[1], m[2])
        elif m := re.fullmatch(rf"SET DEFAULT ROLE (ALL|{N}) TO {N}", sql):
            user = self._user(m[3])
            if m[1] == "ALL":
                user.default_all, user.default_list = True, []
            else:
                if _unquote(m[1]) not in user.roles:
                    raise ModelError(UNKNOWN_ROLE, f"role `{m[1]}` is not granted to `{m[3]}`")
                user.default_all, user.default_list = False, [_unquote(m[1])]
        elif m := re.fullmatch(rf"CREATE SETTINGS PROFILE OR REPLACE {N} SETTINGS (.+) TO {N}", sql):
            self.profiles[m[1]] = Profile(self._elements(m[2]), [self._grantee(m[3])])
        elif m := re.fullmatch(rf"DROP SETTINGS PROFILE IF EXISTS {N}", sql):
            self.profiles.pop(m[1], None)
        elif m := re.fullmatch(
            rf"CREATE QUOTA OR REPLACE {N} FOR INTERVAL (\d+) second MAX (.+) TO {N}", sql
        ):
            maxima = {k: int(v) for k, v in (part.split(" = ") for part in m[3].split(", "))}
            self.quotas[m[1]] = Quota(int(m[2]), maxima, [self._grantee(m[4])])
        elif m := re.fullmatch(rf"DROP QUOTA IF EXISTS {N}", sql):
            self.quotas.pop(m[1], None)
        elif m := re.fullmatch(rf"ALTER (SETTINGS PROFILE|QUOTA) {N} TO (ALL EXCEPT |ALL$)?(.*)", sql):
            found = self.profiles if m[1] == "SETTINGS PROFILE" else self.quotas
            if m[2] not in found:
                raise ModelError(UNKNOWN_ROLE, f"There is no {m[1].lower()} `{m[2]}` in user directories")
            names = [] if m[4] in ("", "NONE") else [self._grantee(_unquote(n)) for n in m[4].split(", ")]
            target = found[m[2]]
            target.all = m[3] is not None
            target.to, target.except_ = ([], names) if target.all else (names, [])
        elif m := re.fullmatch(
            rf"GRANT (.+) ON {TARGET} TO {N}( WITH GRANT OPTION)?( WITH REPLACE OPTION)?", sql
        ):
            if m[5]:  # REPLACE: every privilege of the grantee goes first (its roles stay)
                self.privileges[(self._kind(m[3]), m[3])] = []
            self._grant(m[1], m[2], m[3], bool(m[4]))
        elif m := re.fullmatch(rf"REVOKE GRANT OPTION FOR (.+) ON {TARGET} FROM {N}", sql):
            self._revoke(m[1], m[2], m[3], option_only=True)
        elif m := re.fullmatch(rf"REVOKE (.+) ON {TARGET} FROM {N}", sql):
            self._revoke(m[1], m[2], m[3], option_only=False)
        else:
            raise AssertionError(f"the model does not know this statement: {sql}")

    def _apply_provisioning(self, sql: str) -> bool:
        """`make provisioner`'s statements (ops/provisioner_sql.py); False: not one of them."""
        auth = r"(IDENTIFIED WITH sha256_hash BY '[0-9a-f]{64}')"
        tail = r"(?: DEFAULT ROLE (ALL|NONE))?(?: SETTINGS (NONE|.+))?"
        if m := re.fullmatch(rf"CREATE USER IF NOT EXISTS {N} {auth}{tail}", sql):
            if m[1] not in self.users:
                self.users[m[1]] = User([])
                self._alter_user(m[1], m[2], m[3], m[4])
        elif m := re.fullmatch(rf"ALTER USER {N} {auth}{tail}", sql):
            self._alter_user(m[1], m[2], m[3], m[4])
        elif m := re.fullmatch(rf"DROP SETTINGS PROFILE IF EXISTS {NAMES}", sql):
            for name in m[1].split(", "):
                self.profiles.pop(_unquote(name), None)
        elif m := re.fullmatch(rf"GRANT {NAMES} TO {N}( WITH ADMIN OPTION)?( WITH REPLACE OPTION)?", sql):
            roles, user = [_unquote(r) for r in m[1].split(", ")], self._user(m[2])
            if m[4] and m[3]:  # only the ADMIN OPTION of every role goes; the roles stay
                user.roles = dict.fromkeys(user.roles, False)
            elif m[4]:  # every role goes (and out of the default roles)
                user.roles, user.default_list = {}, []
            for role in roles:
                self._grant_role(role, m[2], bool(m[3]))
        elif m := re.fullmatch(rf"REVOKE ALL FROM {N}", sql):  # no ON: every role
            user = self._user(m[1])
            user.roles, user.default_list = {}, []
        else:
            return False
        return True

    def _alter_user(self, name: str, auth: str, default: str | None, settings: str | None) -> None:
        user = self._user(name)
        user.auth = self._methods(auth.removeprefix("IDENTIFIED WITH "))
        if default is not None:
            user.default_all, user.default_list = default == "ALL", []
        if settings is not None:
            user.settings = [] if settings == "NONE" else list(self._elements(settings))

    def _methods(self, text: str) -> list[tuple[str, str]]:
        found = re.findall(r"(sha256_hash|plaintext_password) BY '([^']*)'", text)
        assert found and ", ".join(f"{k} BY '{v}'" for k, v in found) == text, text
        return [(SHA256 if kind == "sha256_hash" else kind, value) for kind, value in found]

    @staticmethod
    def _elements(text: str) -> list[tuple[str, str, str | None, str | None, str | None]]:
        elements = []
        for part in text.split(", "):
            m = re.fullmatch(r"(\w+) = (\d+)(?: MIN (\d+))?(?: MAX (\d+))?( CONST)?", part)
            assert m, part
            elements.append((m[1], m[2], m[3], m[4], "CONST" if m[5] else None))
        return elements

    def _user(self, name: str) -> User:
        if name not in self.users:
            raise ModelError(UNKNOWN_USER, f"There is no user `{name}` in user directories")
        return self.users[name]

    def _role(self, name: str) -> str:
        if name not in self.roles:
            raise ModelError(UNKNOWN_ROLE, f"There is no role `{name}` in user directories")
        return name

    def _grantee(self, name: str) -> str:
        if name not in self.users and name not in self.roles:
            raise ModelError(UNKNOWN_ROLE, f"There is no role or user `{name}` in user directories")
        return name

    def _kind(self, name: str) -> str:
        return "role" if name in self.roles else "user" if self._grantee(name) in self.users else ""

    def _check_admin_option(self, role: str) -> None:
        if self.grantable is not None and role not in self.admin_roles:
            raise ModelError(
                ACCESS_DENIED,
                "Not enough privileges. To execute this query, it's necessary to have the role "
                f"{role} granted with ADMIN option",
            )

    def _grant_role(self, role: str, grantee: str, admin: bool) -> None:
        self._role(role)
        self._check_admin_option(role)
        if grantee in self.users:
            roles = self.users[grantee].roles
            roles[role] = admin or roles.get(role, False)  # a plain GRANT keeps an ADMIN OPTION
        else:
            self.role_roles.setdefault(self._role(grantee), set()).add(role)

    def _revoke_role(self, role: str, grantee: str) -> None:
        if grantee in self.users:
            user = self.users[grantee]
            if role in user.roles:  # like privileges: checked only for what is actually revoked
                self._check_admin_option(role)
            user.roles.pop(role, None)
            user.default_list = [r for r in user.default_list if r != role]
        else:
            held = self.role_roles.get(self._role(grantee), set())
            if role in held:
                self._check_admin_option(role)
            held.discard(role)

    def _drop_role(self, role: str) -> None:
        self.roles.discard(role)
        self.admin_roles.discard(role)  # the provisioner held it; a role made again is a new one
        self.privileges.pop(("role", role), None)
        for user in self.users.values():
            user.roles.pop(role, None)
            user.default_list = [r for r in user.default_list if r != role]
        for held in self.role_roles.values():
            held.discard(role)
        self._forget(role)

    def _drop_user(self, name: str) -> None:
        if self.users.pop(name, None) is not None:
            self.privileges.pop(("user", name), None)
            self._forget(name)

    def _forget(self, name: str) -> None:
        lists = [p.to for p in self.profiles.values()] + [q.to for q in self.quotas.values()]
        lists += [p.except_ for p in self.profiles.values()] + [q.except_ for q in self.quotas.values()]
        for applies in lists:
            if name in applies:
                applies.remove(name)

    @staticmethod
    def _accesses(text: str) -> list[tuple[str, str | None]]:
        found = []
        for part in text.split(", "):
            m = re.fullmatch(ACCESS, part)
            assert m, part
            found.append((m[1], _unquote(m[2]) if m[2] else None))
        return found

    def _grant(self, accesses: str, target: str, grantee: str, option: bool) -> None:
        database, table = _target(target)
        rows = self.privileges.setdefault((self._kind(grantee), grantee), [])
        for access, column in self._accesses(accesses):
            if "." not in target:
                assert access in NAME_SCOPED, f"{access} cannot be granted on a name: {target}"
                name = _unquote(target)
                rows[:] = [r for r in rows if (r.access, r.target) != (access, name)]
                rows.append(Row(access, None, target=name, grant_option=option))
                continue
            rows[:] = [
                r
                for r in rows
                if not (r.access == access and r.database == database and (table is None or r.table == table))
            ]
            rows.append(Row(access, database, table, column, option))

    def _revoke(self, accesses: str, target: str, grantee: str, option_only: bool) -> None:
        database, table = _target(target)
        rows = self.privileges.setdefault((self._kind(grantee), grantee), [])
        for access, column in self._accesses(accesses):
            hits = [
                r
                for r in rows
                if (r.access, r.database, r.table, r.column) == (access, database, table, column)
            ]
            if not hits and table is not None:  # revoking a table out of a database grant: a partial revoke
                if any(r.access == access and r.database == database and r.table is None for r in rows):
                    self._check_grant_option(access, database)
                    rows.append(Row(access, database, table, column, partial_revoke=True))
                continue
            if hits:
                self._check_grant_option(access, database)
            for row in hits:
                if option_only:
                    row.grant_option = False
                else:
                    rows.remove(row)

    def _check_grant_option(self, access: str, database: str | None) -> None:
        if self.grantable is None:
            return
        own_database, own = self.grantable
        if database != own_database or access not in own:
            target = "*.*" if database is None else f"{database}.*"
            raise ModelError(
                ACCESS_DENIED,
                f"provisioner: Not enough privileges. To execute this query, it's necessary to have the "
                f"grant {access} ON {target} WITH GRANT OPTION",
            )

    # --- reads --------------------------------------------------------------------------------

    def query(self, sql: str, parameters: Mapping[str, str]) -> list[tuple[Any, ...]]:
        self.reads.append((sql, dict(parameters)))
        name = parameters.get("name", "")
        table = sql.split(" FROM ", 1)[1].split()[0]
        where = sql.split(" WHERE ", 1)[1].split()[0] if " WHERE " in sql else ""
        if table == "system.databases":
            return [(name,)] if name in self.databases else []
        if table == "system.roles":
            return [(name,)] if name in self.roles else []
        if table == "system.grants":
            kind = "role" if where == "role_name" else "user"
            return [
                (r.access, r.database, r.table, r.column, int(r.grant_option), int(r.partial_revoke))
                for r in self.privileges.get((kind, name), [])
            ]
        if table == "system.role_grants":
            if where == "granted_role_name":
                holders = [(u, None, int(s.roles[name])) for u, s in self.users.items() if name in s.roles]
                return holders + [(None, r, 0) for r, held in self.role_roles.items() if name in held]
            if where == "role_name":
                return [(r,) for r in sorted(self.role_roles.get(name, set()))]
            user = self.users.get(name)
            if user is None:
                return []
            return [
                (r, int(user.default_all or r in user.default_list), int(admin))
                for r, admin in sorted(user.roles.items())
            ]
        if table == "system.users" and where.startswith("startsWith(name,"):
            return [(u,) for u in sorted(self.users) if u.startswith(parameters["prefix"])]
        if table == "system.settings_profiles" and not where:
            return [
                (n, int(p.all), sorted(p.to), sorted(p.except_)) for n, p in sorted(self.profiles.items())
            ]
        if table == "system.quotas" and not where:
            return [(n, int(q.all), sorted(q.to), sorted(q.except_)) for n, q in sorted(self.quotas.items())]
        if table == "system.users":
            user = self.users.get(name)
            if user is None:
                return []
            return [([kind for kind, _ in user.auth], int(user.default_all), list(user.default_list), [])]
        if table == "system.settings_profiles":
            profile = self.profiles.get(name)
            return (
                [] if profile is None else [(int(profile.all), sorted(profile.to), sorted(profile.except_))]
            )
        if table == "system.settings_profile_elements":
            if where == "profile_name":
                profile = self.profiles.get(name)
                return [] if profile is None else [(*e, None) for e in profile.elements]
            found = self.users[name].settings if where == "user_name" and name in self.users else []
            found = found if where == "user_name" else self.role_settings.get(name, [])
            return [(*e, None) for e in found]
        if table == "system.quotas":
            quota = self.quotas.get(name)
            if quota is None:
                return []
            return [(quota.keyed, [quota.duration], int(quota.all), sorted(quota.to), sorted(quota.except_))]
        if table == "system.quota_limits":
            quota = self.quotas.get(name)
            if quota is None:
                return []
            return [(quota.duration, 0, *(quota.maxima.get(c) for c in QUOTA_COLUMNS))]
        raise AssertionError(f"the model does not answer: {sql}")

    # --- what tests assert --------------------------------------------------------------------

    def passwords(self, user: str) -> list[str]:
        return [h for _, h in self.users[user].auth]

    def grants_of(self, kind: str, name: str) -> set[str]:
        return {
            ("REVOKE " if r.partial_revoke else "")
            + f"{r.access} ON "
            + (r.target if r.target is not None else f"{r.database or '*'}.{r.table or '*'}")
            + (" WITH GRANT OPTION" if r.grant_option else "")
            for r in self.privileges.get((kind, name), [])
        }


# --- a picklable executor factory -------------------------------------------------------------

SERVERS: dict[str, ClickHouseModel] = {}  # host -> model, for providers that travel pickled


def connect(connection: Mapping[str, Any]) -> ClickHouseModel:
    """An ExecutorFactory that survives pickling (a module-level function pickles by reference):
    the provider unpickled by the dynamic provider host reaches the model registered for the host."""
    return SERVERS[str(connection["host"])].factory(connection)
