"""The common base of the ClickHouse SQL dynamic providers: converge, drift, diff, sessions.

Pulumi pickles a provider instance (with dill) into the state of every resource it manages, and
unpickles it in the dynamic provider host to run create/diff/update/read/delete. So providers
hold nothing but an optional executor factory (None = `client.connect`, looked up at call time;
module-level functions and these classes pickle by reference): no client, no password, no cache.
The `connection` property is the endpoint only ({host, port}); the login is read from the
environment when an operation runs (clickhouse_sql.login: CLICKHOUSE_SQL_USER and
CLICKHOUSE_SQL_PASSWORD), so no input, output or pickled provider holds a SQL password. A state
written before that still holds the login in `connection`: diff reports it, and the update only
stores the new `{host, port}` (no SQL), so the password leaves the state on the next `up`.
Writes (create, update, delete) with the read-only login (`observer`) stop before any SQL;
`read` (refresh) runs SELECTs only and works with it. Keep module
paths and class names stable: states written by earlier deployments reference them
(`clickhouse_sql.provider` re-exports every provider class).

Every kind works the same way:
- `observe` reads the object's complete live state from the system tables (None: it does not exist);
- `converge` turns live state + declared properties into the fewest statements that leave the object
  exactly as declared (nothing when it already is): create and update both run it; a create that
  finds the object already there stops unless it is adopted (clickhouse_sql.adoption);
- `drift` describes every difference between live and declared; `read` (refresh) stores it as the
  output `drift`, and `diff` reports a non-empty stored `drift` as a change, so the next
  `pulumi up` converges and `preview --refresh --expect-no-changes` fails on any drift. An object
  gone from the server is kept in the state with the drift MISSING (not forgotten), so the
  update that follows creates it again as declared (docs/drift.md).

Numbers arrive from the engine as floats (protobuf), secrets unwrapped (the host does not accept
secrets), and in check/diff, values not yet known in a preview as `pulumi.output.Unknown`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, suppress
from typing import Any, ClassVar

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.runtime import rpc

from clickhouse_sql import adoption, client, login, statements
from clickhouse_sql.client import ExecutorFactory, Session
from clickhouse_sql.endpoint import connection_of, endpoint_of, login_keys
from dynamic_props import DRIFT as DRIFT
from dynamic_props import RETIRING as RETIRING
from dynamic_props import PreciseDiff as PreciseDiff
from dynamic_props import host_errors, is_known, plain

# Errors worded for a user reach the engine without a traceback (see dynamic_props.host_errors).
host_errors.install(client.ClickHouseSQLError, client.ClickHouseUnreachableError, login.ClickHouseLoginError)

UNKNOWN_ROLE = 511  # ClickHouse error code: the role does not exist (any more)
MISSING = "missing on the server (dropped by hand?): the next deploy creates it again as declared"
# Input and output: the stack's name, for error messages (`make provisioner STACK=...`); no SQL.
STACK = "stack"


# --- property helpers -------------------------------------------------------------------------


MOVED = "moved"  # the endpoint (host/port) changed: another service
CREDENTIALS = "credentials"  # the stored value changed, the endpoint did not (e.g. a stored login removed)


def connection_change(old: Any, new: Any) -> str | None:
    """How the connection changed: MOVED (host/port), CREDENTIALS (same endpoint), or None."""
    if not is_known(new):
        return CREDENTIALS  # settled when `pulumi up` registers the resource with known values
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        return None if old == new else CREDENTIALS
    if (old.get("host"), old.get("port")) != (new.get("host"), new.get("port")):
        return MOVED
    if login_keys(old) != login_keys(new):
        return CREDENTIALS  # an older state's stored login: the update only stores {host, port}
    return None


# --- the common provider ----------------------------------------------------------------------


class SqlProvider(ResourceProvider):
    """CRUD over SQL for one kind of access object; subclasses say which keys mean what.

    create and update read the live object and run `converge` (the same on a new endpoint, e.g.
    a service restored from a backup: nothing is deleted on the old one, and no replacement is
    needed, so a service that is gone cannot block the deployment). A credentials-only change
    (a state from before the login moved to the environment: its `connection` still holds the
    password) runs no SQL: the update only stores `{host, port}`. The same for `stack` and for a
    change of only `flags` (e.g.
    `retiring`): the engine keeps a resource's old outputs when diff reports no change, and the
    stack policies read outputs, so such a flag must be a change, stored by an update without SQL.
    """

    kind: ClassVar[str]
    keys: ClassVar[tuple[str, ...]]  # every property stored in the outputs
    identity: ClassVar[tuple[str, ...]]  # a change replaces the object
    mutable: ClassVar[tuple[str, ...]]  # a change is an in-place update
    flags: ClassVar[tuple[str, ...]] = ()  # booleans with no SQL effect: a change only stores outputs
    secret_keys: ClassVar[tuple[str, ...]] = ()  # scrubbed from every error text
    delete_before_replace: ClassVar[bool | None] = None
    validators: ClassVar[Mapping[str, Callable[[Any], Any]]]  # normalise (or raise ValueError)
    adoptable: ClassVar[bool] = False  # a create that finds the object stops unless `adopt` (adoption)

    def __init__(self, executor_factory: ExecutorFactory | None = None) -> None:
        super().__init__()
        self._executor_factory = executor_factory

    # -- what subclasses define

    def observe(self, sql: Session, p: Mapping[str, Any]) -> Any:
        """The object's complete live state, None if it does not exist."""
        raise NotImplementedError

    def converge(self, live: Any, p: Mapping[str, Any], olds: Mapping[str, Any] | None) -> list[str]:
        """The fewest statements that make the live object exactly `p` (`olds`: the stored state)."""
        raise NotImplementedError

    def drift(self, live: Any, p: Mapping[str, Any]) -> list[str]:
        """Every difference between the live object and `p`, described (no secrets)."""
        raise NotImplementedError

    def pristine(self, live: Any, p: Mapping[str, Any]) -> bool:
        """True when a found object is as this project's own tooling leaves it (adoption: roles)."""
        return False

    def label(self, props: Mapping[str, Any]) -> str:
        return f"{self.kind} `{props.get('name')}`"

    def object_id(self, props: Mapping[str, Any]) -> str:
        return str(props["name"])

    def with_id(self, id_: str, props: Mapping[str, Any]) -> dict[str, Any]:
        """The stored properties completed from the id (an import or a read without state)."""
        return {"name": id_, **plain(props)}

    # -- helpers

    def writer(self, props: Mapping[str, Any], verb: str) -> login.Login:
        """The login from the environment, refused (before any SQL) when it is the read-only one."""
        label = self.label(props)
        who = login.current(label)
        login.require_writer(who, label, verb)
        return who

    def reader(self, props: Mapping[str, Any]) -> login.Login:
        """The login from the environment for a refresh (SELECTs only: the read-only one may)."""
        return login.current(self.label(props))

    def session(
        self, props: Mapping[str, Any], *more_props: Mapping[str, Any], who: login.Login
    ) -> AbstractContextManager[Session]:
        """A session as `who`: the login `writer` checked (a change) or `reader` read (a refresh)."""
        secrets = [
            value
            for source in (props, *more_props)
            for key in self.secret_keys
            for value in _strings(source.get(key))
        ]
        label = self.label(props)
        factory = self._executor_factory or client.reporting_connect(label)
        stack = props.get(STACK) if isinstance(props.get(STACK), str) else None
        return client.session(factory, connection_of(props, who), label, secrets, stack)

    def outputs(self, props: Mapping[str, Any], drift: Sequence[str] = ()) -> dict[str, Any]:
        outs = {key: props.get(key) for key in self.keys}
        outs["connection"] = dict(endpoint_of(props))
        outs[STACK] = props.get(STACK)
        for key, validate in self.validators.items():
            if outs.get(key) is not None:
                outs[key] = validate(outs[key])
        outs[RETIRING] = bool(props.get(RETIRING))
        outs[DRIFT] = list(drift)
        return outs

    def changed(self, key: str, old: Any, new: Any) -> bool:
        if not is_known(new):
            return True
        validate = self.validators.get(key)
        if validate is not None and old is not None and new is not None:
            try:
                return bool(validate(old) != validate(new))
            except ValueError:
                return True
        return bool(old != new)

    # -- ResourceProvider

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate (and normalise) every known input; unknown preview values pass through."""
        inputs = dict(news)
        failures: list[CheckFailure] = []
        for key, validate in self.validators.items():
            value = rpc.unwrap_rpc_secret(news.get(key))
            if value is None or not is_known(value):
                continue
            try:
                normal = validate(value)
                inputs[key] = rpc.wrap_rpc_secret(normal) if rpc.is_rpc_secret(news.get(key)) else normal
            except ValueError as exc:
                failures.append(CheckFailure(key, str(exc)))
        connection = rpc.unwrap_rpc_secret(news.get("connection"))
        if is_known(connection):
            try:
                endpoint_of({"connection": connection})
                if extra := login_keys(connection):
                    raise ValueError(
                        f"connection must be {{host, port}} only, not {', '.join(extra)}: the SQL login "
                        f"comes from the environment ({login.USER_ENV}, {login.PASSWORD_ENV}), never an input"
                    )
            except ValueError as exc:
                failures.append(CheckFailure("connection", str(exc)))
        return CheckResult(inputs, failures)

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> PreciseDiff:
        """Exactly the changed keys; only identity keys replace, everything else updates in place.

        A changed flag (`retiring`, absent = false) is a change that runs no SQL; stored drift is one.
        """
        olds, news = plain(_olds), plain(_news)
        diffs: list[str] = []
        replaces: list[str] = []
        for key in self.identity:
            if self.changed(key, olds.get(key), news.get(key)):
                diffs.append(key)
                replaces.append(key)
        for key in self.mutable:
            if self.changed(key, olds.get(key), news.get(key)):
                diffs.append(key)
        for key in self.flags:
            new = news.get(key)
            if not is_known(new) or bool(olds.get(key)) != bool(new):
                diffs.append(key)
        if connection_change(olds.get("connection"), news.get("connection")) is not None:
            diffs.append("connection")
        if news.get(STACK) is not None and olds.get(STACK) != news.get(STACK):
            diffs.append(STACK)
        if olds.get(DRIFT):
            diffs.append(DRIFT)
        return PreciseDiff(diffs, replaces, self.delete_before_replace)

    def undo_create(self, p: Mapping[str, Any]) -> list[str]:
        """What removes the object again when its first statement ran and a later one failed."""
        return []

    def apply(self, p: Mapping[str, Any], olds: Mapping[str, Any] | None, who: login.Login) -> None:
        """Read the live object and run what converges it to `p`.

        A create (no stored state) that finds the object stops unless it is adopted (clickhouse_sql.adoption).
        A create whose first statement made the object and whose later one failed removes it again
        (best effort), so the next `up` does not find a half-made object it would have to adopt.
        """
        with self.session(p, *([olds] if olds else []), who=who) as sql:
            live = self.observe(sql, p)
            if olds is None and live is not None:
                adoption.check(self, live, p)
            try:
                todo = self.converge(live, p, olds)
            except statements.UnrevokableGrantError as exc:  # made by hand: one clean error, no SQL
                raise client.ClickHouseSQLError(f"{self.label(p)}: {exc}", None) from None
            if live is None and len(todo) > 1:
                sql.run(todo[0])
                try:
                    sql.run(*todo[1:])
                except Exception:
                    with suppress(Exception):
                        sql.run(*self.undo_create(p))
                    raise
            elif todo:
                sql.run(*todo)

    def create(self, props: dict[str, Any]) -> CreateResult:
        p = plain(props)
        who = self.writer(p, "create")  # before any SQL
        self.apply(p, None, who)
        return CreateResult(self.object_id(p), self.outputs(p))

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        olds, news = plain(_olds), plain(_news)
        who = self.writer(news, "update")  # an `up` with the read-only login stops here, before any SQL
        diffs = self.diff(_id, _olds, _news).diffs
        # Only a stored login, the stack name and/or flags changed (same endpoint): store, run nothing.
        store_only = (
            bool(diffs)
            and set(diffs) <= {"connection", STACK, *self.flags}
            and connection_change(olds.get("connection"), news.get("connection")) != MOVED
        )
        if not store_only:
            self.apply(news, olds, who)
        return UpdateResult(self.outputs(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        p = self.with_id(id_, props)
        with self.session(p, who=self.reader(p)) as sql:
            live = self.observe(sql, p)
        if live is None and DRIFT not in p:  # an import (no stored state): nothing to adopt
            return ReadResult("", {})
        if live is None:  # kept, not forgotten: the next deploy's update creates it as declared
            return ReadResult(id_, self.outputs(p, [MISSING]))
        return ReadResult(id_, self.outputs(p, self.drift(live, p)))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """No SQL here (a kind that drops something overrides this); still refused with `observer`."""
        self.writer(plain(_props), "delete")
        return None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, str) and v]
    return []
