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
declaration in one `ACL SETUSER <u> reset ...`, keeping the declared tokens. A user deleted by hand
is kept in the state with the drift MISSING (not forgotten, which would mint new tokens and lock
the consumers out): the next update creates it again with the stored tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, ReadResult, ResourceProvider, UpdateResult
from pulumi.runtime import rpc

from dynamic_props import DRIFT, LABEL, RETIRING, PreciseDiff, is_known, plain

from . import acl, connection
from .connection import Connect
from .extensions import Extensions, UpstashExtensions

TOKENS = "tokens"
SHAPE = "acl"
MISSING = (
    "missing on the server (deleted by hand?): the next deploy creates it again with its stored tokens "
    "(the consumers' credentials stay valid)"
)


def labels(value: Any) -> list[str]:
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise ValueError("passwords must be a list of 1 or 2 labels")
    found = [str(v) for v in value]
    if not 1 <= len(found) <= 2 or len(set(found)) != len(found):
        raise ValueError("passwords must hold 1 label, or 2 distinct ones while a rotation is in progress")
    for label in found:
        if not LABEL.match(label):
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
        """Read the user, mint a token for each new label, run what converges it; the outputs."""
        name, wanted = p["name"], labels(p["passwords"])
        stored: dict[str, str] = dict((olds or {}).get(TOKENS) or {})
        label = self.label(p)
        with connection.admin(self._connect, p, label, list(stored.values())) as client:
            live = self._observe(client, name)
            tokens = {lab: stored[lab] for lab in wanted if lab in stored}
            ext = (self._extensions or UpstashExtensions)()
            for lab in wanted:
                if lab not in tokens:
                    tokens[lab] = ext.gentoken(client, name)
            todo = self.statements(name, live, p, olds, tokens)
            secrets = [p["admin_password"], *stored.values(), *tokens.values()]
            connection.run(client, label, secrets, *todo)
            after = self._observe(client, name)
        if after is None:
            raise connection.RedisAclError(f"{label}: the user is missing right after ACL SETUSER")
        return {**self._outputs(p), TOKENS: tokens, SHAPE: after.shape(), DRIFT: []}

    @staticmethod
    def statements(
        name: str,
        live: acl.LiveUser | None,
        p: Mapping[str, Any],
        olds: Mapping[str, Any] | None,
        tokens: Mapping[str, str],
    ) -> list[list[str]]:
        """The fewest ACL commands that leave the user exactly as declared (`tokens`: label -> token).

        Only the passwords differ from the stored state (a rotation step): add (`>`) and remove (`<`)
        exactly those. Anything else (a new user, other rules or patterns, drift, a password nobody
        declared): one `ACL SETUSER <user> reset ...` with the declared tokens.
        """
        wanted = labels(p["passwords"])
        patterns, rules = acl.key_patterns(p["key_patterns"]), acl.command_rules(p["rules"])
        full = [acl.setuser_full(name, [tokens[lab] for lab in wanted], patterns, rules)]
        if live is None or olds is None:
            return full
        if list(olds.get("key_patterns") or []) != patterns or list(olds.get("rules") or []) != rules:
            return full
        if acl.rule_differences(live, olds.get(SHAPE), patterns):
            return full
        known = {acl.token_hash(t): t for t in (olds.get(TOKENS) or {}).values()}
        declared = {acl.token_hash(tokens[lab]): tokens[lab] for lab in wanted}
        if set(live.password_hashes) - set(known) - set(declared):
            return full
        add = [token for h, token in declared.items() if h not in live.password_hashes]
        remove = [known[h] for h in live.password_hashes if h not in declared]
        return [acl.setuser_passwords(name, add, remove)] if add or remove else []

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
        stored = list((p.get(TOKENS) or {}).values())
        try:
            with connection.admin(self._connect, p, self.label(p), stored) as client:
                live = self._observe(client, id_)
        except connection.AdminPasswordRefused as exc:  # stale stored password: drift (the next up repairs)
            return ReadResult(id_, {**p, DRIFT: [str(exc)]})
        if live is None and DRIFT not in p:  # an import (no stored state): nothing to keep
            return ReadResult("", {})
        if live is None:  # kept, not forgotten: the next update creates it again with the stored tokens
            return ReadResult(id_, {**p, DRIFT: [MISSING]})
        return ReadResult(id_, {**p, DRIFT: self.drift(live, p)})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        p = plain(_props)
        with connection.admin(self._connect, p, self.label(p)) as client:
            connection.run(client, self.label(p), [p["admin_password"]], ["ACL", "DELUSER", p["name"]])
