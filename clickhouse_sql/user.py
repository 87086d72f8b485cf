"""User: exactly these password hashes, exactly one granted role, that role as the only default.

Password rotation is explicit in the declaration (`passwords_sha256_hex`, newest last), so a
deploy without a config change never touches authentication:

- [old] -> [old, new] starts a rotation: `ALTER USER u ADD IDENTIFIED WITH sha256_hash BY '<new>'`;
  both passwords work;
- [old, new] -> [new] finishes it: `ALTER USER u IDENTIFIED WITH sha256_hash BY '<new>'` resets the
  user to exactly the new one;
- anything else (create over an existing user, or the server holding another number or kind of
  authentication methods than stored) resets to exactly the declared list.

ClickHouse never returns password hashes, so drift in authentication is seen only as another
number or kind of methods (system.users.auth_type); a password changed by hand to another
sha256 hash is invisible to a read. Privileges granted to the user directly, roles other than the
declared one, `DEFAULT ROLE ALL`/other defaults and settings set on the user are drift.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from clickhouse_sql import queries, statements
from clickhouse_sql.base import RETIRING, SqlProvider
from clickhouse_sql.client import Session
from clickhouse_sql.role import privilege_of
from clickhouse_sql.statements import Privilege
from dynamic_props import plain

SHA256 = "sha256_password"  # system.users.auth_type of `IDENTIFIED WITH sha256_hash`
MAX_PASSWORDS = 2  # one, or two while a rotation is in progress


def password_hashes(value: Any) -> list[str]:
    """Validate the declared hashes: 1 or 2 distinct hex SHA-256 digests. Never echoes a value."""
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise ValueError("passwords_sha256_hex must be a list of 1 or 2 hex SHA-256 digests")
    hashes = [statements.sha256_hex(v, "passwords_sha256_hex[]") for v in value]
    if not 1 <= len(hashes) <= MAX_PASSWORDS or len(set(hashes)) != len(hashes):
        raise ValueError(
            "passwords_sha256_hex must hold 1 distinct hash, or 2 while a rotation is in progress"
        )
    return hashes


def stored_hashes(olds: Mapping[str, Any] | None) -> list[str] | None:
    """The hashes the stored state says the server holds (states before the list: current + previous)."""
    if not olds:
        return None
    if isinstance(olds.get("passwords_sha256_hex"), list):
        return list(olds["passwords_sha256_hex"])
    legacy = [olds.get("previous_password_sha256_hex"), olds.get("password_sha256_hex")]
    return [h for h in legacy if isinstance(h, str) and h] or None


@dataclass(frozen=True)
class LiveUser:
    auth: tuple[str, ...]  # one auth type per authentication method
    roles: tuple[tuple[str, bool], ...]  # (granted role, with admin option)
    default_all: bool
    default_list: tuple[str, ...]
    default_except: tuple[str, ...]
    privileges: tuple[Privilege, ...]  # granted to the user directly
    own_settings: int


class UserProvider(SqlProvider):
    """A user authenticated by hex SHA-256 password hashes, with one granted default role."""

    kind = "user"
    keys = ("name", "passwords_sha256_hex", "default_role", "connection")
    identity = ("name",)
    mutable = ("passwords_sha256_hex", "default_role")
    flags = (RETIRING,)
    secret_keys = ("passwords_sha256_hex", "password_sha256_hex", "previous_password_sha256_hex")
    delete_before_replace = True
    adoptable = True
    validators: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "name": lambda v: statements.identifier(v, "user name"),
        "default_role": lambda v: statements.identifier(v, "default_role"),
        "passwords_sha256_hex": password_hashes,
    }

    def with_id(self, id_: str, props: Mapping[str, Any]) -> dict[str, Any]:
        """The stored state in today's shape: a state written before the password list holds only
        `password_sha256_hex` (+ `previous_password_sha256_hex` mid-rotation); read, drift and the
        refreshed outputs use the list those stand for (outgoing first, newest last)."""
        p = super().with_id(id_, props)
        if not isinstance(p.get("passwords_sha256_hex"), list):
            hashes = stored_hashes(p)
            if hashes is not None:
                p["passwords_sha256_hex"] = hashes
        return p

    def observe(self, sql: Session, p: Mapping[str, Any]) -> LiveUser | None:
        name = p["name"]
        users = sql.rows(queries.user(name))
        if not users:
            return None
        auth, default_all, default_list, default_except = users[0]
        roles = sql.rows(queries.user_granted_roles(name))
        return LiveUser(
            tuple(str(a) for a in auth or []),
            tuple(sorted((str(r[0]), bool(r[2])) for r in roles)),
            bool(default_all),
            tuple(sorted(map(str, default_list or []))),
            tuple(sorted(map(str, default_except or []))),
            tuple(privilege_of(row) for row in sql.rows(queries.user_privileges(name))),
            len(sql.rows(queries.own_settings("user", name))),
        )

    @staticmethod
    def _auth_shape_ok(live: LiveUser, count: int) -> bool:
        return len(live.auth) == count and all(a == SHA256 for a in live.auth)

    @staticmethod
    def _defaults_exact(live: LiveUser, role: str) -> bool:
        return not live.default_all and live.default_list == (role,) and not live.default_except

    def drift(self, live: LiveUser, p: Mapping[str, Any]) -> list[str]:
        role, wanted = p["default_role"], len(p["passwords_sha256_hex"])
        found = []
        if not self._auth_shape_ok(live, wanted):
            found.append(
                f"authenticates with {len(live.auth)} method(s) ({', '.join(live.auth) or 'none'}), "
                f"declared: {wanted} sha256 password(s)"
            )
        found += [f"has role {r} granted (not declared)" for r, _ in live.roles if r != role]
        found += [
            f"has role {r} WITH ADMIN OPTION (not declared)" for r, admin in live.roles if r == role and admin
        ]
        if role not in {r for r, _ in live.roles}:
            found.append(f"lacks role {role}")
        if not self._defaults_exact(live, role):
            shown = "ALL" if live.default_all else ", ".join(live.default_list) or "NONE"
            if live.default_except:
                shown += " EXCEPT " + ", ".join(live.default_except)
            found.append(f"default roles {shown}, declared: {role}")
        found += [f"holds {priv.describe()} directly (not declared)" for priv in live.privileges]
        if live.own_settings:
            found.append(f"has {live.own_settings} setting(s) set on the user itself (not declared)")
        return found

    def _auth(self, live: LiveUser, name: str, wanted: Sequence[str], stored: list[str] | None) -> list[str]:
        if stored is not None and self._auth_shape_ok(live, len(stored)):
            if stored == list(wanted):
                return []
            if set(stored) < set(wanted):
                return [statements.add_passwords(name, [h for h in wanted if h not in stored])]
        return [statements.set_passwords(name, wanted)]

    def converge(
        self, live: LiveUser | None, p: Mapping[str, Any], olds: Mapping[str, Any] | None
    ) -> list[str]:
        name, role, wanted = p["name"], p["default_role"], password_hashes(p["passwords_sha256_hex"])
        if live is None:
            return [
                statements.create_user(name, wanted),
                statements.grant_role(role, name),
                statements.set_default_role(role, name),
            ]
        todo = self._auth(live, name, wanted, stored_hashes(olds))
        todo += [
            statements.revoke_privilege(priv, "user", name)
            for priv in live.privileges
            if not priv.partial_revoke
        ]
        if live.own_settings:
            todo.append(statements.clear_settings("USER", name))
        granted = dict(live.roles)
        todo += [statements.revoke_role(r, name) for r in granted if r != role or granted[r]]
        if role not in granted or granted[role]:
            todo.append(statements.grant_role(role, name))
        if not self._defaults_exact(live, role) or role not in granted or granted[role]:
            todo.append(statements.set_default_role(role, name))
        return todo

    def undo_create(self, p: Mapping[str, Any]) -> list[str]:
        return [statements.drop_user(p["name"])]

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        p = plain(_props)
        with self.session(p, who=self.writer(p, "writing")) as sql:
            sql.run(statements.drop_user(p["name"]))
