"""RedisUserProvider: one consumer's ACL user on one Redis database.

Inputs: `name`, `database` (Upstash database id: another one replaces the user), `endpoint`
{host, port}, `admin_password` (secret: the database's `default` password, only ever an input of
these resources), `key_patterns`, `rules` (acl.COMMAND_RULES), `passwords` (labels, newest last),
`retiring`. Outputs add `tokens` {label: token} (secret; the newest is handed out), `acl` (what
the server showed after the program's own SETUSER, no password) and `drift`.

Rotation, like the ClickHouse users (consumers.<name>.passwords):
- [a] -> [a, b]: `ACL GENTOKEN` makes b's token, `ACL SETUSER u >b`: both work, outputs carry b;
- [a, b] -> [b]: `ACL SETUSER u <a`: only b works.
Anything else the server holds that the declaration does not (a rule, pattern or flag changed by
hand, an unknown password) is drift on read, and the next update resets the user to exactly the
declaration in one `ACL SETUSER <u> reset ...`, keeping the declared tokens.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, ReadResult, ResourceProvider, UpdateResult
from pulumi.runtime import rpc

from . import acl, connection
from .connection import Connect
from .extensions import Extensions, UpstashExtensions
from .props import DRIFT, RETIRING, PreciseDiff, is_known, plain

# The consumers' password labels (settings.consumers.PASSWORD_LABEL; repeated: no settings import here).
PASSWORD_LABEL = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")
TOKENS = "tokens"
SHAPE = "acl"


def labels(value: Any) -> list[str]:
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise ValueError("passwords must be a list of 1 or 2 labels")
    found = [str(v) for v in value]
    if not 1 <= len(found) <= 2 or len(set(found)) != len(found):
        raise ValueError("passwords must hold 1 label, or 2 distinct ones while a rotation is in progress")
    for label in found:
        if not PASSWORD_LABEL.match(label):
            raise ValueError(f"password label {label!r}: lowercase letters, digits and hyphens (max 31)")
    return found


class RedisUserProvider(ResourceProvider):
    """CRUD of one ACL user; holds only the connect function and the extensions (by reference)."""

    validators: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "name": acl.user_name,
        "key_patterns": acl.key_patterns,
        "rules": acl.command_rules,
        "passwords": labels,
    }
    identity: ClassVar[tuple[str, ...]] = ("name", "database")
    mutable: ClassVar[tuple[str, ...]] = ("key_patterns", "rules", "passwords")

    def __init__(self, connect: Connect | None = None, extensions: type[Extensions] | None = None) -> None:
        super().__init__()
        self._connect = connect
        self._extensions = extensions

    def label(self, p: Mapping[str, Any]) -> str:
        return f"Redis user `{p.get('name')}`"

    # -- live state

    def _observe(self, client: Any, name: str) -> acl.LiveUser | None:
        try:
            reply = client.acl_getuser(name)
        except Exception as exc:  # redis-py raises on a missing user in some versions
            if "No such user" in str(exc):
                return None
            raise
        return acl.live_user(reply)

    @staticmethod
    def _hashes(tokens: Mapping[str, str], wanted: list[str]) -> dict[str, str]:
        return {label: acl.token_hash(tokens[label]) for label in wanted if label in tokens}

    def drift(self, live: acl.LiveUser, p: Mapping[str, Any]) -> list[str]:
        tokens = p.get(TOKENS) or {}
        return acl.differences(live, p.get(SHAPE), p["key_patterns"], self._hashes(tokens, p["passwords"]))

    # -- converge

    def _apply(self, p: dict[str, Any], olds: Mapping[str, Any] | None) -> dict[str, Any]:
        name, wanted = p["name"], labels(p["passwords"])
        patterns, rules = acl.key_patterns(p["key_patterns"]), acl.command_rules(p["rules"])
        stored: dict[str, str] = dict((olds or {}).get(TOKENS) or {})
        secrets = [p["admin_password"], *stored.values()]
        label = self.label(p)
        client = connection.open_admin(self._connect, p, label)
        try:
            live = self._observe(client, name)
            tokens = {lab: stored[lab] for lab in wanted if lab in stored}
            ext = (self._extensions or UpstashExtensions)()
            for lab in wanted:
                if lab not in tokens:
                    tokens[lab] = ext.gentoken(client, name)
            secrets += list(tokens.values())
            hashes = self._hashes(tokens, wanted)
            same_rules = (
                olds is not None
                and list(olds.get("key_patterns") or []) == patterns
                and list(olds.get("rules") or []) == rules
            )
            rest = [] if live is None else acl.differences(live, (olds or {}).get(SHAPE), patterns, {})
            only_passwords = live is not None and same_rules and not [d for d in rest if "password" not in d]
            if only_passwords and live is not None:
                old_hashes = {acl.token_hash(t): t for t in stored.values()}
                unknown = set(live.password_hashes) - set(old_hashes) - set(hashes.values())
                if unknown:
                    only_passwords = False
                else:
                    add = [tokens[lab] for lab, h in hashes.items() if h not in live.password_hashes]
                    remove = [old_hashes[h] for h in live.password_hashes if h not in hashes.values()]
                    if add or remove:
                        connection.run(client, label, secrets, acl.setuser_passwords(name, add, remove))
            if not only_passwords:
                full = acl.setuser_full(name, [tokens[lab] for lab in wanted], patterns, rules)
                connection.run(client, label, secrets, full)
            after = self._observe(client, name)
        finally:
            client.close()
        if after is None:
            raise connection.RedisAclError(f"{label}: the user is missing right after ACL SETUSER")
        return {**self._outputs(p), TOKENS: tokens, SHAPE: after.shape(), DRIFT: []}

    def _outputs(self, p: Mapping[str, Any]) -> dict[str, Any]:
        keys = ("name", "database", "endpoint", "admin_password", "key_patterns", "rules", "passwords")
        outs = {k: p.get(k) for k in keys}
        outs[RETIRING] = bool(p.get(RETIRING))
        return outs

    # -- ResourceProvider

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        for key, validate in self.validators.items():
            value = rpc.unwrap_rpc_secret(news.get(key))
            if value is None or not is_known(value):
                continue
            try:
                validate(value)
            except ValueError as exc:
                failures.append(CheckFailure(key, str(exc)))
        return CheckResult(news, failures)

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> PreciseDiff:
        olds, news = plain(_olds), plain(_news)

        def changed(key: str) -> bool:
            return not is_known(news.get(key)) or olds.get(key) != news.get(key)

        replaces = [k for k in self.identity if changed(k)]
        diffs = replaces + [k for k in self.mutable if changed(k)]
        diffs += [k for k in ("endpoint", "admin_password") if changed(k)]
        if not is_known(news.get(RETIRING)) or bool(olds.get(RETIRING)) != bool(news.get(RETIRING)):
            diffs.append(RETIRING)
        if olds.get(DRIFT):
            diffs.append(DRIFT)
        return PreciseDiff(diffs, replaces, True)

    def create(self, props: dict[str, Any]) -> CreateResult:
        p = plain(props)
        return CreateResult(p["name"], self._apply(p, None))

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        olds, news = plain(_olds), plain(_news)
        diffs = self.diff(_id, _olds, _news).diffs
        if diffs and set(diffs) <= {"endpoint", "admin_password", RETIRING}:
            # The admin password or the endpoint's name changed, or the consumer is retiring: store only.
            return UpdateResult(
                {**self._outputs(news), TOKENS: olds.get(TOKENS), SHAPE: olds.get(SHAPE), DRIFT: []}
            )
        return UpdateResult(self._apply(news, olds))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        p = {"name": id_, **plain(props)}
        client = connection.open_admin(self._connect, p, self.label(p))
        try:
            live = self._observe(client, id_)
        finally:
            client.close()
        if live is None:
            return ReadResult("", {})
        return ReadResult(id_, {**p, DRIFT: self.drift(live, p)})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        p = plain(_props)
        client = connection.open_admin(self._connect, p, self.label(p))
        try:
            connection.run(client, self.label(p), [p["admin_password"]], ["ACL", "DELUSER", p["name"]])
        finally:
            client.close()
