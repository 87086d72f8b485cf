"""Talking to ClickHouse: the executor protocol, the clickhouse-connect executor, bounded retry,
and clean (scrubbed) errors.

Nothing here is stored on a provider: the providers call `connect` (a module-level function,
pickled by reference) per operation, and the `Connection` (the endpoint from the resource's
inputs plus the login read from the environment at call time, clickhouse_sql.login) only ever
lives in the operation's local variables.

Transport, verified in the installed clickhouse-connect 1.12.0 sources:
- `HttpClient.command(cmd)` (driver/_backendclient.py) binds the command and calls
  `HttpSyncBackend.execute_command`, which shapes the request with
  `httpcommon.plan_command_request`: with no `data`/external data the bound command becomes the
  request *body* and `method = "POST" if payload or form_files else "GET"`, i.e. every DDL
  statement is sent by HTTP POST with the SQL in the body (never in the URL).
  `_request_is_read_only` classifies DDL as not replayable, so the driver never re-sends it.
- `Client.query(sql, parameters={...})` with `{name:Type}` placeholders is server-side binding:
  the values travel as `param_<name>` URL parameters, the SQL text is not interpolated.
- Transport failures surface as `OperationalError` without a ClickHouse code; server-side errors
  as `DatabaseError` with `.code` set from the `X-ClickHouse-Exception-Code` header and a text
  containing "Code: <n>. DB::Exception: ...".
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, Protocol, TypedDict

from clickhouse_sql import login
from clickhouse_sql.queries import Query

ALLOW_LIST_HINT = (
    "the machine running `pulumi up` must be allowed by `dataWarehouse.ipAllowList` — in CI the "
    'deploy runner\'s static egress range (see README "Reaching ClickHouse from CI")'
)
REDACTED = "<redacted>"
ACCESS_DENIED = 497
ACCESS_DENIED_HINT = (
    ". The provisioning user may only grant and revoke the consumers' data privileges on the "
    "warehouse database: something outside that (e.g. granted by hand elsewhere) must be revoked "
    "by an admin; `pulumi refresh` shows it under this object's `drift`"
)
# The consumers' users are in this namespace (settings.consumers.SQL_NAMESPACE is this constant):
# the provisioner may alter or drop a user outside it only with the migration grants.
NAMESPACE = "salla_"
_USER_LABEL = re.compile(r"user `([^`]+)`")


def access_denied_hint(label: str, stack: str | None) -> str:
    """Why the provisioner may be refused here: a user outside the namespace, or a data privilege."""
    user = _USER_LABEL.fullmatch(label)
    if user is None or user[1].startswith(NAMESPACE):
        return ACCESS_DENIED_HINT
    return (
        f". `{user[1]}` is outside the `{NAMESPACE}*` namespace, the only users the provisioner may "
        "alter or drop: if it is a consumer's former name (`app`, `data_pipeline`, `ai`) during the "
        f"namespace migration, run `make provisioner STACK={stack or '<stack>'} LEGACY=1` (it grants the "
        "former names; docs/provisioning.md#migrating-to-the-salla_-namespace), then re-run; a user "
        "made by hand is not this project's to change"
    )


# clickhouse-connect logs every failed request at WARNING ("Unexpected Http Driver Exception",
# driver/_backend/http_sync.py, logger `clickhouse_connect.driver._backend.http_sync`): while a new
# service starts, those are expected; `connect` reports its retries itself, once each.
DRIVER_LOGGER = "clickhouse_connect"


class Endpoint(TypedDict):
    """Where to run the SQL: the service's HTTPS endpoint (the resources' `connection` input)."""

    host: str
    port: int


class Connection(TypedDict):
    """Where and as whom to run the SQL, for one operation: the endpoint and the login from the
    environment (`provisioner` or `observer`, never `default`). Never an input, output or attribute."""

    host: str
    port: int
    username: str
    password: str


class Executor(Protocol):
    """Runs statements on one ClickHouse service. Implementations raise clickhouse-connect errors."""

    def command(self, sql: str) -> None: ...

    def query(self, sql: str, parameters: Mapping[str, str]) -> list[tuple[Any, ...]]: ...

    def close(self) -> None: ...


ExecutorFactory = Callable[[Connection], Executor]


class ClickHouseSQLError(Exception):
    """ClickHouse rejected a statement: names the object and the error code, never a secret."""

    def __init__(self, message: str, code: int | None) -> None:
        super().__init__(message)
        self.code = code


class ClickHouseUnreachableError(Exception):
    """The service could not be reached within the retry deadline (or the link broke mid-run)."""


# --- scrubbing --------------------------------------------------------------------------------

_HEX_RUN = re.compile(r"[0-9a-fA-F]{64,}")
_QUOTED_AFTER_BY = re.compile(r"(\bBY\s*)(?:'(?:[^'\\]|\\.)*'?|\"[^\"]*\"?)", re.IGNORECASE)
_CODE = re.compile(r"\bCode:\s*(\d+)")


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove secrets from an error text: the given values, anything quoted after `BY`, 64-hex runs."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    text = _QUOTED_AFTER_BY.sub(lambda m: f"{m.group(1)}'{REDACTED}'", text)
    return _HEX_RUN.sub(REDACTED, text)


def error_code(exc: BaseException) -> int | None:
    """The ClickHouse error code of a server-side error, None for transport errors."""
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    match = _CODE.search(str(exc))
    return int(match.group(1)) if match else None


def failures() -> tuple[type[Exception], ...]:
    """What an executor raises when a statement or the connection fails.

    The driver is imported here, not at module level: the program itself (and `make validate`)
    only declares these resources; the driver is needed where the provider runs SQL.
    """
    from clickhouse_connect.driver.exceptions import Error as DriverError

    return (DriverError, ClickHouseUnreachableError, ConnectionError, TimeoutError)


def is_transient(exc: BaseException) -> bool:
    """True for "cannot reach the service (yet)": transport errors and gateway statuses, no SQL error."""
    from clickhouse_connect.driver.exceptions import Error as DriverError
    from clickhouse_connect.driver.exceptions import OperationalError

    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    if error_code(exc) is not None:
        return False
    if isinstance(exc, OperationalError):
        return True
    return isinstance(exc, DriverError) and re.search(r"HTTP status (502|503|504)\b", str(exc)) is not None


def statement_verb(sql: str) -> str:
    """The leading keywords of a statement (`ALTER USER`): no identifiers or literals, safe in errors."""
    words: list[str] = []
    for word in sql.split():
        if not (word.isalpha() and word.isupper()) or len(words) == 6:
            break
        words.append(word)
    kept = [w for w in words if w not in {"IF", "NOT", "EXISTS", "OR", "REPLACE"}]
    return " ".join(kept) or "statement"


# --- the clickhouse-connect executor ----------------------------------------------------------


class ClickHouseExecutor:
    """An `Executor` over one clickhouse-connect HTTP(S) client.

    DDL goes through `client.command` (HTTP POST, SQL in the body; see the module docstring for
    what was verified in the driver), reads through `client.query` with server-side parameters.
    """

    def __init__(self, client: Any) -> None:
        self._client = client

    def command(self, sql: str) -> None:
        self._client.command(sql)

    def query(self, sql: str, parameters: Mapping[str, str]) -> list[tuple[Any, ...]]:
        result = self._client.query(sql, parameters=dict(parameters))
        return [tuple(row) for row in result.result_rows]

    def close(self) -> None:
        self._client.close()


def open_clickhouse(connection: Connection, *, secure: bool = True) -> ClickHouseExecutor:
    """One client to `connection` (HTTPS unless told otherwise; opening it already queries the server)."""
    import clickhouse_connect

    logging.getLogger(DRIVER_LOGGER).setLevel(logging.ERROR)
    client = clickhouse_connect.get_client(
        host=connection["host"],
        port=int(connection["port"]),
        username=connection["username"],
        password=connection["password"],
        secure=secure,
        connect_timeout=10,
        send_receive_timeout=120,
        autogenerate_session_id=False,
        client_name="salla-analytics-infra",
    )
    return ClickHouseExecutor(client)


# --- bounded retry ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff for reaching a service: 2 s, 4 s, ... capped at 30 s, for at most 10 min."""

    initial_delay: float = 2.0
    max_delay: float = 30.0
    multiplier: float = 2.0
    deadline: float = 600.0


def endpoint(connection: Mapping[str, Any]) -> str:
    return f"{connection.get('host')}:{connection.get('port')}"


def connect(
    connection: Connection,
    *,
    policy: RetryPolicy = RetryPolicy(),
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    opener: Callable[[Connection], Executor] = open_clickhouse,
    on_retry: Callable[[str], None] | None = None,
) -> Executor:
    """The default `ExecutorFactory`: open a client, retrying while the service is unreachable.

    A new ClickHouse Cloud service takes minutes to accept connections, so transport errors are
    retried with exponential backoff until `policy.deadline`; then one `ClickHouseUnreachableError`
    names host:port, the attempts and the elapsed time, and the IP allow list requirement.
    Errors ClickHouse itself returns (a code: wrong password, ...) are raised at once.
    Each retry is reported once through `on_retry` (what it waits for, the attempt, the delay).
    `sleep` and `clock` are injectable so the behaviour is testable without waiting.
    """
    started = clock()
    delay = policy.initial_delay
    attempts = 0
    while True:
        attempts += 1
        try:
            return opener(connection)
        except Exception as exc:
            if not is_transient(exc):
                raise
            last_error = scrub(str(exc), [connection.get("password", "")])
        elapsed = clock() - started
        if elapsed + delay > policy.deadline:
            raise ClickHouseUnreachableError(
                f"cannot reach ClickHouse at {endpoint(connection)}: {attempts} attempts over "
                f"{elapsed:.0f}s failed (last error: {last_error}). A new ClickHouse Cloud service "
                f"takes a few minutes to accept connections; if it stays unreachable, {ALLOW_LIST_HINT}."
            ) from None
        if on_retry is not None:
            on_retry(
                f"ClickHouse at {endpoint(connection)} is not reachable yet (attempt {attempts}, "
                f"{elapsed:.0f}s so far): retrying in {delay:.0f}s"
            )
        sleep(delay)
        delay = min(delay * policy.multiplier, policy.max_delay)


def log_info(message: str) -> None:
    """pulumi.log.info: to the engine in a program, to stderr (which the CLI shows) in the provider host."""
    import pulumi

    pulumi.log.info(message)


def reporting_connect(label: str, report: Callable[[str], None] = log_info) -> ExecutorFactory:
    """`connect`, reporting each retry once with the object it is for (e.g. "user `app`: ...")."""

    def factory(connection: Connection) -> Executor:
        return connect(connection, on_retry=lambda message: report(f"{label}: {message}"))

    return factory


# --- labelled execution -----------------------------------------------------------------------


def clean_error(
    exc: Exception,
    label: str,
    verb: str,
    connection: Mapping[str, Any],
    secrets: Sequence[str],
    stack: str | None = None,
    write: bool = False,
) -> Exception:
    """One clean exception for a failed operation on `label` (e.g. "user `app`"), secrets scrubbed.

    A refused login (516) names `make provisioner` with this stack's values; ACCESS_DENIED on a
    write (`write`: a DDL statement) with another login than the provisioner's is the read-only
    login's message.
    """
    all_secrets = [connection.get("password", ""), *secrets]
    if isinstance(exc, ClickHouseUnreachableError):
        return ClickHouseUnreachableError(f"{label}: {scrub(str(exc), all_secrets)}")
    text = scrub(str(exc), all_secrets)
    code = error_code(exc)
    user = str(connection.get("username", ""))
    if code == login.AUTHENTICATION_FAILED:
        refused = login.refused_message(user, str(connection.get("host")), connection.get("port"), stack)
        return ClickHouseSQLError(f"{label}: {verb} failed: {scrub(refused, all_secrets)}", code)
    if code == ACCESS_DENIED and write and user != login.PROVISIONER:
        return ClickHouseSQLError(
            f"{label}: {verb} failed with ClickHouse error code {code} (ACCESS_DENIED): "
            f"{login.read_only_message(user)}",
            code,
        )
    if code is not None:
        detail = text[text.find("Code:") :] if "Code:" in text else text
        hint = access_denied_hint(label, stack) if code == ACCESS_DENIED else ""
        return ClickHouseSQLError(
            f"{label}: {verb} failed with ClickHouse error code {code}: {detail}{hint}", code
        )
    if is_transient(exc):
        return ClickHouseUnreachableError(
            f"{label}: the connection to {endpoint(connection)} failed during {verb} ({text}); every "
            "statement is idempotent, so re-running `pulumi up` is safe"
        )
    return ClickHouseSQLError(f"{label}: {verb} failed: {text}", None)


class Session:
    """Statements for one object over one executor; failures become `clean_error`s."""

    def __init__(
        self,
        executor: Executor,
        label: str,
        connection: Mapping[str, Any],
        secrets: Sequence[str],
        stack: str | None = None,
    ):
        self._executor = executor
        self._label = label
        self._connection = connection
        self._secrets = secrets
        self._stack = stack

    def run(self, *statements: str) -> None:
        """Run DDL statements in order; the first failure stops the run (nothing is retried)."""
        for sql in statements:
            try:
                self._executor.command(sql)
            except failures() as exc:
                raise clean_error(
                    exc,
                    self._label,
                    statement_verb(sql),
                    self._connection,
                    self._secrets,
                    self._stack,
                    write=True,
                ) from None

    def rows(self, query: Query) -> list[tuple[Any, ...]]:
        try:
            return self._executor.query(query.sql, query.parameters)
        except failures() as exc:
            verb = "reading " + query.sql.split(" FROM ", 1)[-1].split()[0]
            raise clean_error(exc, self._label, verb, self._connection, self._secrets, self._stack) from None


@contextmanager
def session(
    factory: ExecutorFactory,
    connection: Connection,
    label: str,
    secrets: Sequence[str],
    stack: str | None = None,
) -> Iterator[Session]:
    """Connect (with the factory's retry), yield a `Session`, always close the executor.

    Connection failures are cleaned like statement failures. `raise ... from None` everywhere:
    the dynamic provider host sends the whole traceback to the engine, so a chained driver
    exception (whose text may quote a statement) must not ride along.
    """
    try:
        executor = factory(connection)
    except failures() as exc:
        raise clean_error(exc, label, "connecting", connection, secrets, stack) from None
    try:
        yield Session(executor, label, connection, secrets, stack)
    finally:
        with suppress(Exception):
            executor.close()
