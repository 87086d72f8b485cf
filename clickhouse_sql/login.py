"""The SQL login: read from the job's environment at call time, never from config, inputs or state.

The providers log in as `CLICKHOUSE_SQL_USER` with `CLICKHOUSE_SQL_PASSWORD`, read from the
environment of the dynamic provider host (which inherits the `pulumi` process's environment) at
the moment an operation runs. Nothing of the login is a resource input or output, and the
pickled provider holds none of it. Deploy jobs run as `provisioner` (DDL on the project's access
objects); previews, plans and drift jobs as the read-only `observer`, which may read the access
system tables and nothing else (docs/sql-login.md).

This module also words the errors a login causes: a missing variable, a write attempted with the
read-only login (refused before any SQL), and a login ClickHouse refuses (code 516: the user
does not exist, e.g. before `make provisioner` ran, or the password is wrong).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

USER_ENV = "CLICKHOUSE_SQL_USER"
PASSWORD_ENV = "CLICKHOUSE_SQL_PASSWORD"
PROVISIONER = "provisioner"  # deploy jobs and the platform team (made by `make provisioner`)
OBSERVER = "observer"  # previews, plans, drift: reads the access system tables only
READ_ONLY_USERS = frozenset({OBSERVER})
AUTHENTICATION_FAILED = 516  # ClickHouse: unknown user or wrong password


class Login(NamedTuple):
    user: str
    password: str


class ClickHouseLoginError(Exception):
    """The login is missing, read-only for a write, or refused: one clean message, no secret."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


def current(label: str, environ: Mapping[str, str] | None = None) -> Login:
    """The login in the environment now; a clean error naming both variables when one is unset."""
    env = os.environ if environ is None else environ
    user, password = env.get(USER_ENV, "").strip(), env.get(PASSWORD_ENV, "")
    missing = [name for name, value in ((USER_ENV, user), (PASSWORD_ENV, password)) if not value]
    if missing:
        raise ClickHouseLoginError(
            f"{label}: {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: the SQL "
            f"provider reads its login from the environment ({USER_ENV}, {PASSWORD_ENV}). Export "
            f"{USER_ENV}={PROVISIONER} (pulumi up, destroy) or {USER_ENV}={OBSERVER} (preview --refresh, "
            f"refresh) and {PASSWORD_ENV}=<that user's password>; in CI the job sets {USER_ENV} and "
            f"{PASSWORD_ENV} comes from the secret of the stack's GitHub environment (docs/sql-login.md)"
        )
    return Login(user, password)


def read_only_message(user: str) -> str:
    """Why a write stops with this login, and what an `up` needs instead."""
    return (
        f"{USER_ENV}={user} is the read-only login (previews, plans, drift): an `up` or `destroy` needs "
        f"{USER_ENV}={PROVISIONER} and its password in {PASSWORD_ENV} (the deploy job's login; "
        "docs/sql-login.md)"
    )


def require_writer(login: Login, label: str, verb: str) -> None:
    """Refuse a write with a read-only login, before any connection or SQL."""
    if login.user in READ_ONLY_USERS:
        raise ClickHouseLoginError(f"{label}: {verb} refused: {read_only_message(login.user)}")


def refused_message(user: str, host: str, port: object, stack: str | None) -> str:
    """ClickHouse refused the login (516): the provisioning user is missing, or the password is wrong."""
    return (
        f"ClickHouse at {host}:{port} refused the login {USER_ENV}={user} (code {AUTHENTICATION_FAILED}, "
        f"AUTHENTICATION_FAILED: the user does not exist or {PASSWORD_ENV} is not its password). "
        f"On a new service, create the SQL users `{PROVISIONER}` and `{OBSERVER}` first: "
        f"`make provisioner STACK={stack or '<stack>'} HOST={host} PORT={port}`, then re-run; "
        f"otherwise set {PASSWORD_ENV} to the current password of `{user}` (docs/sql-login.md)"
    )
