"""Pulumi dynamic providers for ClickHouse access objects: database, role, grant, user.

Pulumi pickles a provider instance (with dill) into the state of every resource it manages, and
unpickles it in the dynamic provider host to run create/diff/update/read/delete. So providers
hold nothing but an optional executor factory (None = `client.connect`, looked up at call time;
module-level functions and these classes pickle by reference): no client, no password, no cache.
The admin credentials arrive with every call in the `connection` property. Keep this module's
path and class names stable: states written by earlier deployments reference them.

Numbers arrive from the engine as floats (protobuf), secrets unwrapped (the host does not accept
secrets), and in check/diff, values not yet known in a preview as `pulumi.output.Unknown`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import Unknown
from pulumi.runtime import rpc

from clickhouse_sql import client, statements
from clickhouse_sql.client import Connection, ExecutorFactory, Session

PROVIDER_KEY = "__provider"
UNKNOWN_ROLE = 511  # ClickHouse error code: the role does not exist (any more)


class PreciseDiff(DiffResult):
    """A DiffResult that also lists exactly which keys changed (`diffs`).

    The installed SDK's dynamic provider host (pulumi/dynamic/__main__.py, Diff) forwards
    `changes`, `replaces` and `delete_before_replace` to the engine; its DiffResult has no
    `diffs` field, so `diffs` is for callers and tests (the engine derives the per-property
    display itself from old and new values).
    """

    def __init__(
        self, diffs: Sequence[str], replaces: Sequence[str], delete_before_replace: bool | None
    ) -> None:
        super().__init__(
            changes=bool(diffs),
            replaces=list(replaces),
            delete_before_replace=delete_before_replace if replaces else None,
        )
        self.diffs = list(diffs)


# --- property helpers -------------------------------------------------------------------------


def plain(props: Mapping[str, Any]) -> dict[str, Any]:
    """The properties without the serialized provider and without RPC secret wrappers."""
    return {k: rpc.unwrap_rpc_secret(v) for k, v in props.items() if k != PROVIDER_KEY}


def is_known(value: Any) -> bool:
    if isinstance(value, Unknown):
        return False
    if isinstance(value, Mapping):
        return all(is_known(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(is_known(v) for v in value)
    return True


def connection_of(props: Mapping[str, Any]) -> Connection:
    """The validated `connection` property (port as int). Errors never show the password."""
    raw = props.get("connection")
    if not isinstance(raw, Mapping):
        raise ValueError("connection must be a mapping {host, port, username, password}")
    host, port, username, password = (raw.get(k) for k in ("host", "port", "username", "password"))
    if not isinstance(host, str) or not host:
        raise ValueError("connection.host must be a non-empty string")
    if (
        isinstance(port, bool)
        or not isinstance(port, int | float)
        or port != int(port)
        or not 0 < port < 65536
    ):
        raise ValueError(f"connection.port must be a TCP port number, got {port!r}")
    if not isinstance(username, str) or not username:
        raise ValueError("connection.username must be a non-empty string")
    if not isinstance(password, str):
        raise ValueError("connection.password must be a string (a secret)")
    return Connection(host=host, port=int(port), username=username, password=password)


MOVED = "moved"  # the endpoint (host/port) changed: another service
CREDENTIALS = "credentials"  # only the admin user or password changed


def connection_change(old: Any, new: Any) -> str | None:
    """How the connection changed: MOVED (host/port), CREDENTIALS, or None."""
    if not is_known(new):
        return CREDENTIALS  # settled when `pulumi up` registers the resource with known values
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        return None if old == new else CREDENTIALS
    if (old.get("host"), old.get("port")) != (new.get("host"), new.get("port")):
        return MOVED
    if (old.get("username"), old.get("password")) != (new.get("username"), new.get("password")):
        return CREDENTIALS
    return None


def _optional_readonly(value: Any) -> int | None:
    return None if value is None else statements.readonly_level(value)


def _privilege_set(value: Any) -> frozenset[str] | None:
    return frozenset(statements.privileges(value)) if is_known(value) else None


# --- the common provider ----------------------------------------------------------------------


class SqlProvider(ResourceProvider):
    """CRUD over SQL for one kind of access object; subclasses say which keys mean what.

    create runs `provision` (idempotent statements that leave the object exactly as declared).
    update runs `changes` (old vs new), except when the endpoint moved (a new service, e.g.
    restored from a backup): then `provision` runs on the new endpoint. Nothing is deleted on
    the old endpoint, and no replacement is needed, so a service that is gone cannot block the
    deployment. A credentials-only change (admin password rotated) runs no SQL: the update only
    stores the new connection, so later deletes and refreshes log in with it.
    """

    kind: ClassVar[str]
    keys: ClassVar[tuple[str, ...]]  # every property stored in the outputs
    identity: ClassVar[tuple[str, ...]]  # a change replaces the object
    mutable: ClassVar[tuple[str, ...]]  # a change is an in-place update
    secret_keys: ClassVar[tuple[str, ...]] = ()  # scrubbed from every error text
    initial_outputs: ClassVar[Mapping[str, Any]] = {}  # computed outputs of a freshly provisioned object
    delete_before_replace: ClassVar[bool | None] = None
    validators: ClassVar[Mapping[str, Callable[[Any], Any]]]  # normalise (or raise ValueError)

    def __init__(self, executor_factory: ExecutorFactory | None = None) -> None:
        super().__init__()
        self._executor_factory = executor_factory

    # -- what subclasses define

    def provision(self, p: Mapping[str, Any]) -> list[str]:
        raise NotImplementedError

    def changes(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> tuple[list[str], dict[str, Any]]:
        """Statements for an in-place update, and computed outputs that change with it."""
        return [], {}

    def pending(self, olds: Mapping[str, Any]) -> list[str]:
        """Output keys whose stored value alone asks for an update (see UserProvider)."""
        return []

    def label(self, props: Mapping[str, Any]) -> str:
        return f"{self.kind} `{props.get('name')}`"

    def object_id(self, props: Mapping[str, Any]) -> str:
        return str(props["name"])

    # -- helpers

    def session(
        self, props: Mapping[str, Any], *more_props: Mapping[str, Any]
    ) -> AbstractContextManager[Session]:
        secrets = [
            value
            for source in (props, *more_props)
            for key in self.secret_keys
            if isinstance(value := source.get(key), str) and value
        ]
        factory = self._executor_factory or client.connect
        return client.session(factory, connection_of(props), self.label(props), secrets)

    def outputs(self, props: Mapping[str, Any]) -> dict[str, Any]:
        outs = {key: props.get(key) for key in self.keys}
        outs["connection"] = dict(connection_of(props))
        for key, validate in self.validators.items():
            if outs.get(key) is not None:
                outs[key] = validate(outs[key])
        return outs

    def changed(self, key: str, old: Any, new: Any) -> bool:
        return (not is_known(new)) or old != new

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
                connection_of({"connection": connection})
            except ValueError as exc:
                failures.append(CheckFailure("connection", str(exc)))
        return CheckResult(inputs, failures)

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        """Exactly the changed keys; only identity keys replace, everything else updates in place."""
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
        if connection_change(olds.get("connection"), news.get("connection")) is not None:
            diffs.append("connection")
        diffs.extend(self.pending(olds))
        return PreciseDiff(diffs, replaces, self.delete_before_replace)

    def create(self, props: dict[str, Any]) -> CreateResult:
        p = plain(props)
        with self.session(p) as sql:
            sql.run(*self.provision(p))
        return CreateResult(self.object_id(p), {**self.outputs(p), **self.initial_outputs})

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        olds, news = plain(_olds), plain(_news)
        if connection_change(olds.get("connection"), news.get("connection")) == MOVED:
            todo, computed = self.provision(news), dict(self.initial_outputs)
        else:
            todo, computed = self.changes(olds, news)
        if todo:
            with self.session(news, olds) as sql:
                sql.run(*todo)
        return UpdateResult({**self.outputs(news), **computed})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None


# --- database ---------------------------------------------------------------------------------


class DatabaseProvider(SqlProvider):
    """A database. Never dropped: delete runs no statement (the resource is also retain_on_delete)."""

    kind = "database"
    keys = ("name", "connection")
    identity = ("name",)
    mutable = ()
    validators: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "name": lambda v: statements.identifier(v, "database name")
    }

    def provision(self, p: Mapping[str, Any]) -> list[str]:
        return [statements.create_database(p["name"])]

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        p = {"name": id_, **plain(props)}
        with self.session(p) as sql:
            if not sql.rows(statements.database_exists(p["name"])):
                return ReadResult("", {})
        return ReadResult(id_, self.outputs(p))


# --- role -------------------------------------------------------------------------------------


class RoleProvider(SqlProvider):
    """A role; with `readonly`, also the settings profile `<role>_profile` (readonly = n CONST TO role)."""

    kind = "role"
    keys = ("name", "readonly", "connection")
    identity = ("name",)
    mutable = ("readonly",)
    validators: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "name": lambda v: statements.identifier(v, "role name"),
        "readonly": statements.readonly_level,
    }

    def provision(self, p: Mapping[str, Any]) -> list[str]:
        readonly = _optional_readonly(p.get("readonly"))
        todo = [statements.create_role(p["name"])]
        if readonly is not None:
            todo.append(statements.create_profile(p["name"], readonly))
        return todo

    def changes(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> tuple[list[str], dict[str, Any]]:
        """A new readonly level replaces the profile (whatever it holds); none drops it."""
        name = news["name"]
        old, new = _optional_readonly(olds.get("readonly")), _optional_readonly(news.get("readonly"))
        if old == new:
            return [], {}
        return [statements.drop_profile(name) if new is None else statements.replace_profile(name, new)], {}

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        p = {"name": id_, **plain(props)}
        name = p["name"]
        with self.session(p) as sql:
            if not sql.rows(statements.role_exists(name)):
                return ReadResult("", {})
            readonly = self._live_readonly(sql, name)
        return ReadResult(id_, {**self.outputs(p), "readonly": readonly})

    @staticmethod
    def _live_readonly(sql: Session, role: str) -> int | None:
        """The CONST readonly level the role's profile applies to it, None if it does not (drift)."""
        targets = sql.rows(statements.profile_targets(role))
        if not targets or role not in (targets[0][0] or []):
            return None
        elements = sql.rows(statements.profile_readonly(role))
        if not elements or elements[0][1] != "CONST":
            return None
        try:
            return statements.readonly_level(int(elements[0][0]))
        except (TypeError, ValueError):
            return None

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        p = plain(_props)
        todo = [statements.drop_role(p["name"])]
        if p.get("readonly") is not None:
            todo.insert(0, statements.drop_profile(p["name"]))
        with self.session(p) as sql:
            sql.run(*todo)


# --- grant ------------------------------------------------------------------------------------


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

    def changed(self, key: str, old: Any, new: Any) -> bool:
        if key == "privileges" and old is not None and new is not None:
            return _privilege_set(old) != _privilege_set(new)
        return super().changed(key, old, new)

    def provision(self, p: Mapping[str, Any]) -> list[str]:
        return [statements.grant_privileges(p["privileges"], p["database"], p["role"])]

    def changes(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> tuple[list[str], dict[str, Any]]:
        """REVOKE the privileges no longer wanted, then GRANT the new ones (role/database replace)."""
        old = set(statements.privileges(olds.get("privileges") or news["privileges"]))
        new = set(statements.privileges(news["privileges"]))
        todo = []
        if old - new:
            todo.append(statements.revoke_privileges(old - new, news["database"], news["role"]))
        if new - old:
            todo.append(statements.grant_privileges(new - old, news["database"], news["role"]))
        return todo, {}

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        p = plain(props)
        with self.session(p) as sql:
            rows = sql.rows(statements.database_grants(p["role"], p["database"]))
        held = {str(row[0]) for row in rows}
        present = [priv for priv in statements.ALLOWED_PRIVILEGES if priv in held]
        if not present:
            return ReadResult("", {})
        return ReadResult(id_, {**self.outputs(p), "privileges": present})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """REVOKE every privilege of the grant; a role that no longer exists holds nothing."""
        p = plain(_props)
        try:
            with self.session(p) as sql:
                sql.run(statements.revoke_privileges(p["privileges"], p["database"], p["role"]))
        except client.ClickHouseSQLError as exc:
            if exc.code != UNKNOWN_ROLE:
                raise


# --- user -------------------------------------------------------------------------------------


class UserProvider(SqlProvider):
    """A user authenticated by a hex SHA-256 password hash, with one granted default role.

    Password rotation is two-step, so consumers can redeploy without downtime:

    1. The hash input changes: update runs `ALTER USER u ADD IDENTIFIED WITH sha256_hash BY
       '<new>'`; the old AND the new password both work, and the outputs remember the old hash
       as `previous_password_sha256_hex`.
    2. The next update (any `pulumi up` while the state holds a previous hash; diff reports
       `previous_password_sha256_hex`) retires it: `ALTER USER u IDENTIFIED WITH sha256_hash BY
       '<current>'` resets the user to exactly the current password.

    So run the second `pulumi up` only after every consumer uses the new password. Rotating
    again while a previous hash is pending first resets to the current hash, then adds the new
    one: never more than two passwords. A default_role change revokes the old role, grants the
    new one and makes it the default; a name change replaces the user (delete before replace:
    the replacement may carry the same name). Create (and an endpoint move) takes over an
    existing user of that name: afterwards it has exactly this password and default role.
    """

    kind = "user"
    keys = ("name", "password_sha256_hex", "default_role", "previous_password_sha256_hex", "connection")
    identity = ("name",)
    mutable = ("password_sha256_hex", "default_role")
    secret_keys = ("password_sha256_hex", "previous_password_sha256_hex")
    initial_outputs: ClassVar[Mapping[str, Any]] = {"previous_password_sha256_hex": None}
    delete_before_replace = True
    validators: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "name": lambda v: statements.identifier(v, "user name"),
        "default_role": lambda v: statements.identifier(v, "default_role"),
        "password_sha256_hex": statements.sha256_hex,
    }

    def pending(self, olds: Mapping[str, Any]) -> list[str]:
        return ["previous_password_sha256_hex"] if olds.get("previous_password_sha256_hex") else []

    def provision(self, p: Mapping[str, Any]) -> list[str]:
        name, password, role = p["name"], p["password_sha256_hex"], p["default_role"]
        return [
            statements.create_user(name, password),
            statements.set_password(name, password),
            statements.grant_role(role, name),
            statements.set_default_role(role, name),
        ]

    def changes(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> tuple[list[str], dict[str, Any]]:
        """Rotation step 1 (new hash: ADD it) or step 2 (pending previous: reset), and role changes."""
        name, password, role = news["name"], news["password_sha256_hex"], news["default_role"]
        old_password, previous = olds.get("password_sha256_hex"), olds.get("previous_password_sha256_hex")
        todo: list[str] = []
        remembered = None
        if old_password and password != old_password:
            if previous:
                todo.append(statements.set_password(name, old_password))
            todo.append(statements.add_password(name, password))
            remembered = old_password
        elif previous or not old_password:
            todo.append(statements.set_password(name, password))
        old_role = olds.get("default_role")
        if old_role != role:
            if isinstance(old_role, str) and statements.IDENTIFIER_PATTERN.fullmatch(old_role):
                todo.append(statements.revoke_role(old_role, name))
            todo += [statements.grant_role(role, name), statements.set_default_role(role, name)]
        return todo, {"previous_password_sha256_hex": remembered}

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Existence and default role from system.users/system.role_grants. ClickHouse never returns
        password hashes, so the stored hashes are kept as they are."""
        p = {"name": id_, **plain(props)}
        name, wanted = p["name"], p.get("default_role")
        with self.session(p) as sql:
            users = sql.rows(statements.user_default_roles(name))
            if not users:
                return ReadResult("", {})
            granted = {str(row[0]) for row in sql.rows(statements.user_granted_roles(name))}
        all_default, default_list = bool(users[0][0]), [str(r) for r in users[0][1] or []]
        defaults = sorted(granted) if all_default else [r for r in default_list if r in granted]
        # The stored role if it is still granted and default; else the one live default; else "" (drift).
        role = wanted if wanted in defaults else (defaults[0] if len(defaults) == 1 else "")
        outs = {**self.outputs({**p, "default_role": None}), "default_role": role}
        outs["previous_password_sha256_hex"] = p.get("previous_password_sha256_hex")
        return ReadResult(id_, outs)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        p = plain(_props)
        with self.session(p) as sql:
            sql.run(statements.drop_user(p["name"]))
