"""The SQL resources' `connection` property: the service's endpoint `{host, port}`, validated, and
joined with the login from the environment (clickhouse_sql.login) for one operation only.

A `connection` stored by an earlier version also holds `username`/`password`: `endpoint_of`
ignores them and `login_keys` names them (clickhouse_sql.base: a change that only removes them
is an update that stores `{host, port}` and runs no SQL).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clickhouse_sql import login
from clickhouse_sql.client import Connection, Endpoint
from dynamic_props import host_port

ENDPOINT_KEYS = ("host", "port")


def endpoint_of(props: Mapping[str, Any]) -> Endpoint:
    """The validated endpoint of the `connection` property (port as int).

    A stored `connection` from before the login moved to the environment may still hold
    username/password: they are ignored here (never used, never returned).
    """
    host, port = host_port(props, "connection")
    return Endpoint(host=host, port=port)


def connection_of(props: Mapping[str, Any], who: login.Login) -> Connection:
    """The endpoint of `props` with the login `who` (from the environment), for one operation."""
    endpoint = endpoint_of(props)
    return Connection(host=endpoint["host"], port=endpoint["port"], username=who.user, password=who.password)


def login_keys(connection: Any) -> list[str]:
    """Keys of a `connection` value that are not the endpoint (a login stored by an older version)."""
    return (
        sorted(str(k) for k in connection if k not in ENDPOINT_KEYS)
        if isinstance(connection, Mapping)
        else []
    )
