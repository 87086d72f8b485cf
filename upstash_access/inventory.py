"""RedisAclUsersProvider: the complete read of a database's ACL users.

Every user on the database must be `default` (Upstash's admin user, not manageable) or one the
stack declares (`users`); any other user (made by hand, left behind) is drift. Like the ClickHouse
access inventory (clickhouse_sql/inventory.py), an undeclared user is removed only in two steps,
never in silence:

- `create` and `read` only list (`ACL USERS`): the drift names each undeclared user, and the output
  `found` holds their names. A read that finds a user a stored state already listed (`found`)
  marks it due (output `repair`; its drift line says the next deploy removes it);
- `update` removes (`ACL DELUSER`) only the users that are still there AND that the stored state
  named as due (`repair`). A user that appeared after that read is only listed, and removed by a
  later deploy whose refresh still finds it.

So a stored state, every preview and the drift job name a user before any deploy removes it.
A user declared in the stored state but no longer in `users` is left to its own RedisUser
resource, whose delete removes it (and which is protected in prod until its consumer is retired),
so this resource never bypasses that protection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from dynamic_props import DRIFT, is_known, plain

from . import acl, connection
from .connection import ADMIN_USER, Connect

FOUND = "found"  # output: the undeclared users the last create/read/update listed
REPAIR = "repair"  # output: the undeclared users the next update removes (listed twice: due)


def listed(name: str) -> str:
    return (
        f"user {name} is on the database but declared by no consumer: listed now; a later deploy "
        "whose refresh still finds it removes it (declare it to keep it)"
    )


def due(name: str) -> str:
    return (
        f"user {name} is on the database but declared by no consumer: listed by an earlier refresh "
        "and still here: the next deploy removes it unless a consumer declares it"
    )


class RedisAclUsersProvider(ResourceProvider):
    def __init__(self, connect: Connect | None = None) -> None:
        super().__init__()
        self._connect = connect

    @staticmethod
    def label(p: Mapping[str, Any]) -> str:
        return f"ACL users of Redis database `{p.get('database')}`"

    def _undeclared(self, client: Any, p: Mapping[str, Any], olds: Mapping[str, Any] | None) -> list[str]:
        names = [acl.text(u) for u in client.acl_users()]
        keep = {ADMIN_USER, *p.get("users", []), *((olds or {}).get("users") or [])}
        return sorted(n for n in names if n not in keep)

    @staticmethod
    def record(p: Mapping[str, Any], extra: Sequence[str], due_names: set[str]) -> dict[str, Any]:
        """The outputs: each undeclared user listed (`found`), the due ones also in `repair`."""
        return {
            **p,
            FOUND: list(extra),
            REPAIR: [n for n in extra if n in due_names],
            DRIFT: [due(n) if n in due_names else listed(n) for n in extra],
        }

    def _list(self, p: Mapping[str, Any]) -> list[str]:
        with connection.admin(self._connect, p, self.label(p)) as client:
            return self._undeclared(client, p, None)

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Lists only: a user that was there before the first deploy is removed by a later one."""
        p = plain(props)
        return CreateResult(str(p["database"]), self.record(p, self._list(p), set()))

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        olds, news = plain(_olds), plain(_news)
        keys = [
            k
            for k in ("database", "endpoint", "admin_password")
            if not is_known(news.get(k)) or olds.get(k) != news.get(k)
        ]
        users = not is_known(news.get("users")) or sorted(olds.get("users") or []) != sorted(
            news.get("users") or []
        )
        changes = bool(keys) or users or bool(olds.get(DRIFT))
        return DiffResult(
            changes=changes, replaces=["database"] if "database" in keys else [], delete_before_replace=None
        )

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        """Removes only what the stored state named as due (`repair`) and is still there."""
        olds, news = plain(_olds), plain(_news)
        if not olds.get(DRIFT):
            # A new user list or login: nothing to remove, nothing to list anew (no ACL command).
            return UpdateResult({**news, FOUND: [], REPAIR: [], DRIFT: []})
        named = set(olds.get(REPAIR) or [])
        label = self.label(news)
        with connection.admin(self._connect, news, label) as client:
            extra = self._undeclared(client, news, olds)
            remove = [n for n in extra if n in named]
            if remove:
                connection.run(client, label, [news["admin_password"]], ["ACL", "DELUSER", *remove])
        # What is left was not due (a user that appeared after the read): listed, not removed.
        return UpdateResult(self.record(news, [n for n in extra if n not in remove], set()))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        p = plain(props)
        try:
            extra = self._list(p)
        except connection.AdminPasswordRefused as exc:  # stale stored password: drift, nothing due
            return ReadResult(id_, {**p, REPAIR: [], DRIFT: [str(exc)]})
        return ReadResult(id_, self.record(p, extra, set(p.get(FOUND) or [])))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None
