"""RedisAclUsersProvider: the complete read of a database's ACL users.

Every user on the database must be `default` (Upstash's admin user, not manageable) or one the
stack declares (`users`); any other user (made by hand, left behind) is drift on read, and the
next `up` removes it with `ACL DELUSER`. A user declared in the stored state but no longer in
`users` is left to its own RedisUser resource, whose delete removes it (and which is protected in
prod until its consumer is retired), so this resource never bypasses that protection.
"""

from __future__ import annotations

from typing import Any

from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from dynamic_props import is_known, plain

from . import connection
from .connection import ADMIN_USER, Connect
from .props import DRIFT


class RedisAclUsersProvider(ResourceProvider):
    def __init__(self, connect: Connect | None = None) -> None:
        super().__init__()
        self._connect = connect

    @staticmethod
    def label(p: dict[str, Any]) -> str:
        return f"ACL users of Redis database `{p.get('database')}`"

    def _undeclared(self, client: Any, p: dict[str, Any], olds: dict[str, Any] | None) -> list[str]:
        names = [u.decode() if isinstance(u, bytes) else str(u) for u in client.acl_users()]
        keep = {ADMIN_USER, *p.get("users", []), *((olds or {}).get("users") or [])}
        return sorted(n for n in names if n not in keep)

    def _converge(self, p: dict[str, Any], olds: dict[str, Any] | None) -> dict[str, Any]:
        client = connection.open_admin(self._connect, p, self.label(p))
        try:
            extra = self._undeclared(client, p, olds)
            if extra:
                connection.run(client, self.label(p), [p["admin_password"]], ["ACL", "DELUSER", *extra])
        finally:
            client.close()
        return {**p, DRIFT: []}

    def create(self, props: dict[str, Any]) -> CreateResult:
        p = plain(props)
        return CreateResult(str(p["database"]), self._converge(p, None))

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
        olds, news = plain(_olds), plain(_news)
        if not olds.get(DRIFT):
            return UpdateResult({**news, DRIFT: []})  # a new user list or login: nothing to remove
        return UpdateResult(self._converge(news, olds))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        p = plain(props)
        client = connection.open_admin(self._connect, p, self.label(p))
        try:
            extra = self._undeclared(client, p, None)
        finally:
            client.close()
        return ReadResult(
            id_, {**p, DRIFT: [f"user {n} is on the database but declared by no consumer" for n in extra]}
        )

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None
