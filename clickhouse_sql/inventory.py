"""AccessInventory: everything on the server that touches the project's access, beyond its own objects.

The per-object resources (role, grant, user, settings profile, quota) each look at their own object:
what a role holds, what a user holds. None of them sees who else holds a project role, a user made
in the project's namespace that nobody declared, or a settings profile or quota that someone
applied to a consumer. One inventory per service (this resource) reads exactly that, in five reads:

- who holds each project role (system.role_grants): a user or role that is neither a declared
  consumer (its User resource owns its roles), a project role (the Role resource) nor an operator
  (the provisioning user holds the roles WITH ADMIN OPTION) is drift, repaired by `REVOKE`;
- every settings profile and quota (system.settings_profiles, system.quotas) that applies to a
  declared consumer or project role, other than the declared ones: drift, repaired by dropping it,
  or, when it also applies to others (a list, or ALL), by taking the consumers out of it
  (`ALTER ... TO <the others>` / `TO ALL EXCEPT ...`), so nothing outside the project changes;
- every user, profile and quota in the namespace (`salla_*`, system.users by prefix) that is not
  declared: drift, dropped only in two steps (never in silence). The refresh that first finds it
  lists it (output `found`; the drift says a later deploy drops it); a later refresh that finds it
  again marks it due, the drift says "this deploy drops it", and the update that follows drops it.
  So a stored state, every preview and the drift job name the object before any deploy drops it.

Like every kind here, `read` (refresh) stores what it found as `drift`, `diff` reports stored drift
as a change, and the update converges. The update acts only on what a stored read or update named
(output `repair`, keys of the findings): something that appears between the refresh and the update
is listed, and repaired by the next deploy. A create (the first deploy with an inventory) only lists.
The inventory owns no object: delete runs no SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pulumi.dynamic import CreateResult, ReadResult, UpdateResult

from clickhouse_sql import inventory_queries, statements
from clickhouse_sql.base import SqlProvider
from clickhouse_sql.client import Session
from clickhouse_sql.profiles import Applies
from dynamic_props import plain

FOUND = "found"  # output: keys of the undeclared namespace objects the last read or update saw
REPAIR = "repair"  # output: keys of the findings the next update may repair (a stored state named them)


def names(value: Any) -> list[str]:
    """A list of identifiers (roles, users, profiles, quotas), sorted and deduplicated."""
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise ValueError("must be a list of names")
    return sorted({statements.identifier(v, "name") for v in value})


def namespace(value: Any) -> str:
    return statements.identifier(value, "namespace")


@dataclass(frozen=True)
class LiveInventory:
    holders: tuple[tuple[str, str, str], ...]  # (grantee kind "user"/"role", grantee, project role)
    users: tuple[str, ...]  # users in the namespace
    profiles: tuple[tuple[str, Applies], ...]  # every settings profile, whom it applies to
    quotas: tuple[tuple[str, Applies], ...]  # every quota, whom it applies to


@dataclass(frozen=True)
class Finding:
    key: str  # stable, names the repair ("revoke analytics_write from user backdoor")
    message: str  # the drift line
    statements: tuple[str, ...]  # empty: cannot be repaired automatically
    deferred: bool = False  # an undeclared namespace object: dropped only once a stored read listed it
    due: bool = False  # (deferred) a stored read listed it before: this deploy drops it


def _built(build: Callable[[], Sequence[str]]) -> tuple[str, ...]:
    """Statements, or none when a hand-made name cannot be written into one safely."""
    try:
        return tuple(build())
    except ValueError:
        return ()


def _unrepairable(finding: Finding, how: str) -> Finding:
    if finding.statements:
        return finding
    text = f"{finding.message.split(':', 1)[0]}: cannot be repaired automatically (a name outside "
    text += f"{statements.IDENTIFIER_PATTERN.pattern}): an admin runs {how} in the SQL console"
    return Finding(finding.key, text, ())


def alter_to(kind: str, name: str, applies: Applies, targets: set[str]) -> str:
    """Take `targets` out of whom a profile/quota applies to, leaving everyone else as it was."""
    what = {"SETTINGS PROFILE": "settings profile", "QUOTA": "quota"}[kind]
    head = f"ALTER {kind} {statements.quote_identifier(name, what)} TO "
    if applies.all:
        excepted = sorted(set(applies.except_) | targets)
        return head + "ALL EXCEPT " + ", ".join(statements.quote_identifier(n, "name") for n in excepted)
    others = [n for n in applies.names if n not in targets]
    return head + (", ".join(statements.quote_identifier(n, "name") for n in others) or "NONE")


def applies_to(applies: Applies, name: str) -> bool:
    return (applies.all and name not in applies.except_) or name in applies.names


def _revoke(role: str, grantee: str, kind: str) -> Callable[[], list[str]]:
    return lambda: [statements.revoke_role(role, grantee, kind)]


class AccessInventoryProvider(SqlProvider):
    """The inventory of one service's access around the project's roles, consumers and namespace."""

    kind = "access inventory"
    keys = ("name", "roles", "namespace", "users", "profiles", "quotas", "operators", "connection")
    identity = ("name",)
    mutable = ("roles", "namespace", "users", "profiles", "quotas", "operators")
    validators: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "name": lambda v: statements.identifier(v, "inventory name"),
        "roles": names,
        "namespace": namespace,
        "users": names,
        "profiles": names,
        "quotas": names,
        "operators": names,
    }

    def observe(self, sql: Session, p: Mapping[str, Any]) -> LiveInventory:
        holders: list[tuple[str, str, str]] = []
        for role in names(p["roles"]):
            for user, grantee_role, _admin in sql.rows(inventory_queries.role_holders(role)):
                if user is not None:
                    holders.append(("user", str(user), role))
                elif grantee_role is not None:
                    holders.append(("role", str(grantee_role), role))
        users = tuple(str(row[0]) for row in sql.rows(inventory_queries.namespace_users(p["namespace"])))
        profiles = tuple((str(r[0]), Applies.of(r[1:])) for r in sql.rows(inventory_queries.all_profiles()))
        quotas = tuple((str(r[0]), Applies.of(r[1:])) for r in sql.rows(inventory_queries.all_quotas()))
        return LiveInventory(tuple(sorted(holders)), users, profiles, quotas)

    # -- what is found

    def findings(self, live: LiveInventory, p: Mapping[str, Any], due_keys: set[str]) -> list[Finding]:
        """Every undeclared object; a deferred one is due when its key is in `due_keys`."""
        roles, users, operators = set(p["roles"]), set(p["users"]), set(p["operators"])
        found: list[Finding] = []
        for kind, grantee, role in live.holders:
            if (kind == "user" and grantee in users | operators) or (kind == "role" and grantee in roles):
                continue
            finding = Finding(
                f"revoke {role} from {kind} {grantee}",
                f"{kind} {grantee} holds role {role} (not declared): the next deploy revokes it",
                _built(_revoke(role, grantee, kind)),
            )
            found.append(_unrepairable(finding, f"REVOKE {role} FROM {grantee}"))
        ns = p["namespace"]
        for user in live.users:
            if user not in users | operators:
                found.append(self._stray("user", user, ns, due_keys, statements.drop_user))
        targets = users | roles
        for kind, objects, declared, drop in (
            ("settings profile", live.profiles, set(p["profiles"]), statements.drop_settings_profile),
            ("quota", live.quotas, set(p["quotas"]), statements.drop_quota),
        ):
            legacy = {statements.profile_name(r) for r in roles} if kind == "settings profile" else set()
            for name, applies in objects:
                if name in declared or name in legacy:  # their own resources own them
                    continue
                touched = sorted(t for t in targets if applies_to(applies, t))
                if touched:
                    found.append(self._touching(kind, name, applies, touched, targets, drop))
                elif name.startswith(ns):
                    found.append(self._stray(kind, name, ns, due_keys, drop))
        return found

    @staticmethod
    def _stray(kind: str, name: str, ns: str, due_keys: set[str], drop: Callable[[str], str]) -> Finding:
        key = f"drop {kind} {name}"
        due = key in due_keys
        when = (
            "listed by an earlier refresh and still here: the next deploy drops it unless it declares it"
            if due
            else "listed now; a later deploy whose refresh still finds it drops it (declare it to keep it)"
        )
        finding = Finding(
            key,
            f"{kind} {name} is in the namespace {ns}* but not declared: {when}",
            _built(lambda: [drop(name)]),
            deferred=True,
            due=due,
        )
        return _unrepairable(finding, f"DROP {kind.upper()} {name}")

    @staticmethod
    def _touching(
        kind: str,
        name: str,
        applies: Applies,
        touched: list[str],
        targets: set[str],
        drop: Callable[[str], str],
    ) -> Finding:
        others = [n for n in applies.names if n not in targets]
        sql_kind = kind.upper()
        if not applies.all and not others:
            what, build = "the next deploy drops it", lambda: [drop(name)]
        else:
            what = f"it also applies to others, so the next deploy takes {', '.join(touched)} out of it"
            build = lambda: [alter_to(sql_kind, name, applies, targets)]  # noqa: E731
        finding = Finding(
            f"detach {kind} {name}",
            f"{kind} {name} applies to {', '.join(touched)} (not declared): {what}",
            _built(build),
        )
        return _unrepairable(finding, f"ALTER {sql_kind} {name} TO ... (without {', '.join(touched)})")

    def drift(self, live: LiveInventory, p: Mapping[str, Any]) -> list[str]:
        return [f.message for f in self.findings(live, p, set())]

    def record(self, p: Mapping[str, Any], found: Sequence[Finding]) -> dict[str, Any]:
        outs = self.outputs(p, [f.message for f in found])
        outs[FOUND] = [f.key for f in found if f.deferred]
        outs[REPAIR] = [f.key for f in found if f.statements and (f.due or not f.deferred)]
        return outs

    # -- ResourceProvider

    def create(self, props: dict[str, Any]) -> CreateResult:
        """The first inventory only lists what it finds (no SQL): the next deploy repairs it."""
        p = plain(props)
        who = self.writer(p, "create")  # part of a deploy: refused for the read-only login, before any SQL
        with self.session(p, who=who) as sql:
            live = self.observe(sql, p)
        return CreateResult(self.object_id(p), self.record(p, self.findings(live, p, set())))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        p = self.with_id(id_, props)
        with self.session(p, who=self.reader(p)) as sql:  # SELECTs only: the observer login may refresh
            live = self.observe(sql, p)
        return ReadResult(id_, self.record(p, self.findings(live, p, set(p.get(FOUND) or []))))

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        """Repair what the stored state named (`repair`) and is still there; store what remains."""
        olds, news = plain(_olds), plain(_news)
        who = self.writer(news, "update")  # an `up` with the read-only login stops here, before any SQL
        named = set(olds.get(REPAIR) or [])
        with self.session(news, olds, who=who) as sql:
            live = self.observe(sql, news)
            found = self.findings(live, news, named)
            repaired = [f for f in found if f.statements and f.key in named]
            for finding in repaired:
                sql.run(*finding.statements)
        return UpdateResult(self.record(news, [f for f in found if f not in repaired]))
