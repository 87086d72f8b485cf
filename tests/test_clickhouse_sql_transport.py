"""clickhouse_sql.client: bounded retry, error scrubbing, and the clickhouse-connect executor over
real HTTP to a tiny loopback server (127.0.0.1 only) that answers SELECTs with chdb, whose access
objects come from a users.xml (tests.chdb_server: user `app` with APP_HEX, roles analytics_read
and analytics_write); DDL is recorded, not applied (chdb's access storage is read-only)."""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import http.server
import logging
import socket
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import clickhouse_connect
import pytest
from clickhouse_connect.driver._backend.httpcommon import build_http_error
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from clickhouse_sql import client
from clickhouse_sql.client import (
    ClickHouseExecutor,
    ClickHouseSQLError,
    ClickHouseUnreachableError,
    Connection,
    RetryPolicy,
    connect,
    open_clickhouse,
    scrub,
)
from clickhouse_sql.provider import DatabaseProvider, RoleProvider, UserProvider
from tests.chdb_server import APP_HEX, server

ADMIN_PASSWORD = "Adm1n-Secret-Passw0rd!"
HOST = "abc123xyz.us-east-1.aws.clickhouse.cloud"
CONNECTION = Connection(host=HOST, port=8443, username="default", password=ADMIN_PASSWORD)
APP_NEW_HEX = hashlib.sha256(b"app-password-two").hexdigest()


@pytest.fixture(autouse=True)
def provider_login(monkeypatch: pytest.MonkeyPatch) -> None:
    """The providers' login (from the environment) in this module: its password is the one the
    transport errors below echo, to prove the scrubbing."""
    monkeypatch.setenv("CLICKHOUSE_SQL_USER", "provisioner")
    monkeypatch.setenv("CLICKHOUSE_SQL_PASSWORD", ADMIN_PASSWORD)


ALLOW_LIST_SENTENCE = (
    "the machine running `pulumi up` must be allowed by `dataWarehouse.ipAllowList` — in CI the deploy "
    'runner\'s static egress range (see README "Reaching ClickHouse from CI")'
)


def sql_error(code: int, name: str, text: str, status: int = 500) -> DatabaseError:
    body = f"Code: {code}. DB::Exception: {text}. ({name}) (version 25.8.1.8)"
    return build_http_error(status, str(code), body, True, f"https://{HOST}:8443", False)


# --- a fake clock -----------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class NullExecutor:
    def command(self, sql: str) -> None:
        return None

    def query(self, sql: str, parameters: Mapping[str, str]) -> list[tuple[Any, ...]]:
        return []

    def close(self) -> None:
        return None


def failing_opener(errors: list[BaseException]) -> tuple[Callable[[Connection], NullExecutor], list[int]]:
    """An opener raising `errors` in turn, then connecting; counts its attempts."""
    attempts: list[int] = []

    def opener(connection: Connection) -> NullExecutor:
        attempts.append(1)
        if len(attempts) <= len(errors):
            raise errors[len(attempts) - 1]
        return NullExecutor()

    return opener, attempts


def transport_error() -> OperationalError:
    # What clickhouse-connect raises when the TCP/TLS connection fails (no ClickHouse code). The
    # text names the password to prove scrubbing (the real driver never puts it there).
    return OperationalError(f"Error HTTPSConnectionPool(host='{HOST}', port=8443): refused {ADMIN_PASSWORD}")


# --- bounded retry ----------------------------------------------------------------------------


def test_unreachable_service_is_retried_with_backoff_then_one_clear_error() -> None:
    fake = FakeClock()
    opener, attempts = failing_opener([transport_error()] * 1000)
    with pytest.raises(ClickHouseUnreachableError) as err:
        connect(CONNECTION, sleep=fake.sleep, clock=fake.clock, opener=opener)
    # 2, 4, 8, 16, then capped at 30 s, until the next wait would pass the 10 minute deadline.
    assert fake.sleeps == [2, 4, 8, 16] + [30] * 19
    assert sum(fake.sleeps) == 600 and len(attempts) == 24
    message = str(err.value)
    assert message.startswith(f"cannot reach ClickHouse at {HOST}:8443: 24 attempts over 600s failed")
    assert ALLOW_LIST_SENTENCE in message
    assert ADMIN_PASSWORD not in message and "<redacted>" in message
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_retry_stops_as_soon_as_the_service_answers() -> None:
    fake = FakeClock()
    gateway = build_http_error(503, None, "Service Unavailable", True, f"https://{HOST}:8443", True)
    opener, attempts = failing_opener([transport_error(), ConnectionRefusedError(), gateway])
    executor = connect(CONNECTION, sleep=fake.sleep, clock=fake.clock, opener=opener)
    assert isinstance(executor, NullExecutor)
    assert (fake.sleeps, len(attempts)) == ([2, 4, 8], 4)


def test_a_custom_policy_bounds_the_wait() -> None:
    fake = FakeClock()
    opener, _ = failing_opener([transport_error()] * 1000)
    policy = RetryPolicy(initial_delay=1, max_delay=4, deadline=20)
    with pytest.raises(ClickHouseUnreachableError, match="7 attempts over 19s"):
        connect(CONNECTION, policy=policy, sleep=fake.sleep, clock=fake.clock, opener=opener)
    assert fake.sleeps == [1, 2, 4, 4, 4, 4]


def test_clickhouse_errors_while_connecting_are_not_retried() -> None:
    fake = FakeClock()
    refused = sql_error(516, "AUTHENTICATION_FAILED", "default: Authentication failed: password is incorrect")
    opener, attempts = failing_opener([refused])
    with pytest.raises(DatabaseError):
        connect(CONNECTION, sleep=fake.sleep, clock=fake.clock, opener=opener)
    assert (fake.sleeps, len(attempts)) == ([], 1)

    factory = functools.partial(
        connect, sleep=fake.sleep, clock=fake.clock, opener=failing_opener([refused])[0]
    )
    with pytest.raises(ClickHouseSQLError) as err:
        UserProvider(factory).delete("app", {"name": "app", "connection": dict(CONNECTION)})
    assert str(err.value).startswith(
        f"user `app`: connecting failed: ClickHouse at {HOST}:8443 refused the login"
    )


def test_a_real_connection_failure_is_classified_as_transient() -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    fake = FakeClock()
    closed = Connection(host="127.0.0.1", port=port, username="default", password=ADMIN_PASSWORD)
    opener = functools.partial(open_clickhouse, secure=False)
    with pytest.raises(ClickHouseUnreachableError) as err:
        connect(closed, policy=RetryPolicy(deadline=10), sleep=fake.sleep, clock=fake.clock, opener=opener)
    assert fake.sleeps == [2, 4]
    assert f"cannot reach ClickHouse at 127.0.0.1:{port}: 3 attempts" in str(err.value)


def test_a_connection_lost_mid_run_is_one_clean_error() -> None:
    class Dropping(NullExecutor):
        def command(self, sql: str) -> None:
            raise transport_error()

    with pytest.raises(ClickHouseUnreachableError) as err:
        UserProvider(lambda c: Dropping()).delete("app", {"name": "app", "connection": dict(CONNECTION)})
    message = str(err.value)
    assert message.startswith(f"user `app`: the connection to {HOST}:8443 failed during DROP USER")
    assert "re-running `pulumi up` is safe" in message and ADMIN_PASSWORD not in message


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (OperationalError("Error executing HTTP request"), True),
        (ConnectionRefusedError(), True),
        (TimeoutError(), True),
        (build_http_error(503, None, "", True, "u", True), True),
        (build_http_error(502, None, "Bad Gateway", True, "u", False), True),
        (
            build_http_error(500, "497", "Code: 497. DB::Exception: x (ACCESS_DENIED)", True, "u", False),
            False,
        ),
        (
            build_http_error(
                503, "241", "Code: 241. DB::Exception: memory (MEMORY_LIMIT_EXCEEDED)", True, "u", True
            ),
            False,
        ),
        (DatabaseError("HTTP driver received HTTP status 404"), False),
        (ValueError("bad"), False),
    ],
)
def test_transient_classification(exc: BaseException, transient: bool) -> None:
    assert client.is_transient(exc) is transient


# --- scrubbing --------------------------------------------------------------------------------


def test_scrub_removes_hashes_quoted_values_after_by_and_known_secrets() -> None:
    text = (
        f"Code: 62. Syntax error near IDENTIFIED WITH sha256_hash BY '{APP_HEX}' "
        f'and by "x{APP_NEW_HEX[:10]}", '
        f"hash {APP_NEW_HEX.upper()}, admin {ADMIN_PASSWORD} for user `app`"
    )
    assert scrub(text, [ADMIN_PASSWORD]) == (
        "Code: 62. Syntax error near IDENTIFIED WITH sha256_hash BY '<redacted>' and by '<redacted>', "
        "hash <redacted>, admin <redacted> for user `app`"
    )
    # A statement echo cut off inside the literal: everything after BY goes, to be safe.
    assert scrub(f"failed at position 40 (BY '{APP_HEX[:20]}") == "failed at position 40 (BY '<redacted>'"
    assert scrub("Code: 497. DB::Exception: default: Not enough privileges") == (
        "Code: 497. DB::Exception: default: Not enough privileges"
    )


def test_statement_verb_shows_keywords_only() -> None:
    assert (
        client.statement_verb(f"ALTER USER `app` ADD IDENTIFIED WITH sha256_hash BY '{APP_HEX}'")
        == "ALTER USER"
    )
    assert (
        client.statement_verb("CREATE SETTINGS PROFILE IF NOT EXISTS `p` SETTINGS")
        == "CREATE SETTINGS PROFILE"
    )
    assert client.statement_verb("GRANT SELECT, INSERT ON `analytics`.* TO `r`") == "GRANT"


# --- the clickhouse-connect executor, over HTTP to 127.0.0.1 ---------------------------------


@dataclass
class Request:
    method: str
    params: dict[str, str]
    body: str
    authorization: str

    @property
    def sql(self) -> str:
        return self.params.get("query") or self.body


@dataclass
class Loopback:
    """A minimal ClickHouse HTTP interface: SELECTs run in chdb, DDL is recorded; `fail` answers
    statements starting with a prefix with a ClickHouse error (code, text) instead."""

    port: int = 0
    requests: list[Request] = field(default_factory=list)
    fail: dict[str, tuple[int, str]] = field(default_factory=dict)

    def connection(self) -> Connection:
        return Connection(host="127.0.0.1", port=self.port, username="default", password=ADMIN_PASSWORD)

    def respond(self, request: Request) -> tuple[int, dict[str, str], bytes]:
        sql = request.sql.strip()
        for prefix, (code, body) in self.fail.items():
            if sql.startswith(prefix):
                return 500, {"X-ClickHouse-Exception-Code": str(code)}, body.encode()
        if not sql.upper().startswith("SELECT"):
            return 200, {}, b""
        fmt = "TabSeparated"
        if sql.endswith("FORMAT Native"):
            sql, fmt = sql[: -len("FORMAT Native")].strip(), "Native"
        params = {k[len("param_") :]: v for k, v in request.params.items() if k.startswith("param_")}
        try:
            result = server().query(sql, fmt, params=params)
        except Exception as exc:  # answer like ClickHouse: the code in a header, the text in the body
            code = client.error_code(exc) or 1000
            return 500, {"X-ClickHouse-Exception-Code": str(code)}, str(exc).encode()
        return 200, {"X-ClickHouse-Format": fmt}, bytes(result.bytes())


@contextlib.contextmanager
def serving_loopback() -> Iterator[Loopback]:
    """A loopback HTTP server that answers like ClickHouse (chdb behind it), while it runs."""
    state = Loopback()

    class Handler(http.server.BaseHTTPRequestHandler):
        def handle_one(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(
                method=self.command,
                params=dict(urllib.parse.parse_qsl(url.query)),
                body=self.rfile.read(length).decode() if length else "",
                authorization=self.headers.get("Authorization", ""),
            )
            state.requests.append(request)
            status, headers, body = state.respond(request)
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = handle_one

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    with serving_loopback() as state:
        yield state


def plain_http(connection: Connection) -> ClickHouseExecutor:
    """The production opener minus TLS (the loopback server speaks plain HTTP)."""
    return open_clickhouse(connection, secure=False)


def test_ddl_goes_by_http_post_with_the_sql_in_the_body(loopback: Loopback) -> None:
    inputs = {
        "name": "reporting",  # not on the server: created
        "passwords_sha256_hex": [APP_NEW_HEX],
        "default_role": "analytics_read",
        "connection": loopback.connection(),
    }
    UserProvider(plain_http).create(inputs)
    ddl = [r for r in loopback.requests if not r.sql.startswith("SELECT")]
    assert [(r.method, r.body) for r in ddl] == [
        ("POST", f"CREATE USER `reporting` IDENTIFIED WITH sha256_hash BY '{APP_NEW_HEX}' DEFAULT ROLE NONE"),
        ("POST", "GRANT `analytics_read` TO `reporting`"),
        ("POST", "SET DEFAULT ROLE `analytics_read` TO `reporting`"),
    ]
    # Never in the URL (proxies and access logs record URLs); credentials only in the header.
    basic = "Basic " + base64.b64encode(f"provisioner:{ADMIN_PASSWORD}".encode()).decode()
    for request in loopback.requests:
        assert "query" not in request.params and request.authorization == basic
        assert all(APP_NEW_HEX not in v and ADMIN_PASSWORD not in v for v in request.params.values())


def test_reads_go_with_server_side_parameters(loopback: Loopback) -> None:
    provider = DatabaseProvider(plain_http)
    found = provider.read("system", {"name": "system", "connection": loopback.connection()})
    gone = provider.read("analytics", {"name": "analytics", "connection": loopback.connection()})
    assert (found.id, gone.id, gone.outs) == ("system", "", {})
    reads = [r for r in loopback.requests if "system.databases" in r.sql]
    assert [r.params["param_name"] for r in reads] == ["system", "analytics"]
    assert all("{name:String}" in r.sql and "'system'" not in r.sql for r in reads)


def test_a_live_user_is_read_over_http_and_a_rotation_start_adds_the_new_password(loopback: Loopback) -> None:
    state = {
        "name": "app",
        "passwords_sha256_hex": [APP_HEX],
        "default_role": "analytics_read",
        "connection": loopback.connection(),
    }
    read = UserProvider(plain_http).read("app", state)
    # users.xml users have DEFAULT ROLE ALL: the read reports it as drift (decoded from Native over HTTP).
    assert read.outs is not None and read.outs["drift"] == ["default roles ALL, declared: analytics_read"]
    UserProvider(plain_http).update("app", state, {**state, "passwords_sha256_hex": [APP_HEX, APP_NEW_HEX]})
    assert [r.body for r in loopback.requests if r.method == "POST" and not r.sql.startswith("SELECT")] == [
        f"ALTER USER `app` ADD IDENTIFIED WITH sha256_hash BY '{APP_NEW_HEX}'",
        "SET DEFAULT ROLE `analytics_read` TO `app`",
    ]


def test_clickhouse_errors_over_http_are_clean_and_not_retried(loopback: Loopback) -> None:
    echoed = (
        "Code: 497. DB::Exception: default: Not enough privileges: "
        f"ALTER USER app ADD IDENTIFIED WITH sha256_hash BY '{APP_NEW_HEX}'. (ACCESS_DENIED)"
    )
    loopback.fail["ALTER USER"] = (497, echoed)
    state = {
        "name": "app",
        "passwords_sha256_hex": [APP_HEX],
        "default_role": "analytics_read",
        "connection": loopback.connection(),
    }
    with pytest.raises(ClickHouseSQLError) as err:
        UserProvider(plain_http).update(
            "app", state, {**state, "passwords_sha256_hex": [APP_HEX, APP_NEW_HEX]}
        )
    message = str(err.value)
    assert message.startswith("user `app`: ALTER USER failed with ClickHouse error code 497: Code: 497.")
    assert "ACCESS_DENIED" in message and APP_NEW_HEX not in message and APP_HEX not in message
    assert sum(r.sql.startswith("ALTER USER") for r in loopback.requests) == 1


def test_a_server_error_on_a_read_names_the_object(loopback: Loopback) -> None:
    loopback.fail["SELECT name FROM system.roles"] = (
        497,
        "Code: 497. DB::Exception: provisioner: Not enough privileges. To execute this query, it's "
        "necessary to have the grant SHOW ROLES ON *.*. (ACCESS_DENIED)",
    )
    with pytest.raises(ClickHouseSQLError) as err:
        RoleProvider(plain_http).read(
            "analytics_read",
            {"name": "analytics_read", "databases": ["analytics"], "connection": loopback.connection()},
        )
    assert str(err.value).startswith(
        "role `analytics_read`: reading system.roles failed with ClickHouse error code 497"
    )
    assert err.value.code == 497


def test_the_default_factory_opens_https_to_the_given_port(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[dict[str, Any]] = []

    class FakeClient:
        def close(self) -> None:
            return None

    def fake_get_client(**kwargs: Any) -> FakeClient:
        opened.append(kwargs)
        return FakeClient()

    monkeypatch.setattr(clickhouse_connect, "get_client", fake_get_client)
    executor = connect({**CONNECTION, "port": 8443.0})  # type: ignore[typeddict-item]
    assert isinstance(executor, ClickHouseExecutor)
    assert len(opened) == 1
    assert {k: opened[0][k] for k in ("host", "port", "username", "password", "secure")} == {
        "host": HOST,
        "port": 8443,
        "username": "default",
        "password": ADMIN_PASSWORD,
        "secure": True,
    }
    assert isinstance(opened[0]["port"], int)


def test_each_retry_is_reported_once_naming_the_object_it_is_for(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeClock()
    opener, _ = failing_opener([transport_error(), transport_error()])
    reported: list[str] = []
    real_connect = client.connect

    def connect_fast(connection: Connection, on_retry: Callable[[str], None] | None = None) -> Any:
        return real_connect(connection, sleep=fake.sleep, clock=fake.clock, opener=opener, on_retry=on_retry)

    monkeypatch.setattr(client, "connect", connect_fast)
    executor = client.reporting_connect("user `app`", report=reported.append)(CONNECTION)
    assert isinstance(executor, NullExecutor)
    assert reported == [
        f"user `app`: ClickHouse at {HOST}:8443 is not reachable yet (attempt 1, 0s so far): retrying in 2s",
        f"user `app`: ClickHouse at {HOST}:8443 is not reachable yet (attempt 2, 2s so far): retrying in 4s",
    ]
    assert not any(ADMIN_PASSWORD in line for line in reported)


def test_the_drivers_own_logger_stays_quiet_while_the_service_is_unreachable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on: refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = Connection(host="127.0.0.1", port=port, username="provisioner", password=ADMIN_PASSWORD)
    with caplog.at_level(logging.DEBUG), pytest.raises(OperationalError):
        client.open_clickhouse(closed, secure=False)
    assert logging.getLogger(client.DRIVER_LOGGER).getEffectiveLevel() == logging.ERROR
    assert [
        r for r in caplog.records if r.name.startswith(client.DRIVER_LOGGER) and r.levelno < logging.ERROR
    ] == []
