"""`make provisioner` and `make admin-hash`: the statements, the grant set on a real ClickHouse
access check, and that the admin password reaches nothing but the ClickHouse login.

The grant set is checked by ClickHouse itself (chdb, embedded ClickHouse 26.x): a users.xml gives
chdb's only user, `default`, exactly the provisioner's grants; ClickHouse checks privileges before
it touches the (read-only) access storage, so a statement the grants allow fails with a storage
error, and one they do not allow fails with ACCESS_DENIED (497). chdb runs in a subprocess: its
configured server must not share a process with the suite's other chdb sessions.
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import chdb
import dill  # type: ignore[import-untyped]
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError
from pulumi.runtime import rpc

from settings.passwords import sha256_b64, sha256_hex
from tests.helpers import run_ok
from tools import admin_hash, provisioner
from tools.project import PROJECT

ADMIN = "Typed-Adm1n-Passw0rd!"
PROV = "Pr0visioner-Passw0rd!x"
HEX = sha256_hex(PROV)
ACCESS_DENIED = 497
# 0: ran; 495: ACCESS_STORAGE_READONLY; 514: ACCESS_STORAGE_FOR_INSERTION_NOT_FOUND; 511: UNKNOWN_ROLE
STORAGE_ONLY = {0, 495, 514, 511}
OUTPUTS = {"clickhouse_host": "abc.us-east-1.aws.clickhouse.cloud", "clickhouse_https_port": 8443}


# -- the statements ----------------------------------------------------------------------------


def assert_parses(sql: str) -> None:
    """ClickHouse's parser (chdb) accepts the statement: formatQuery raises on a syntax error."""
    query: Any = chdb.query  # untyped
    assert str(query("SELECT formatQuery({s:String})", "TSVRaw", params={"s": sql})).strip(), sql


def test_statements_parse_in_clickhouse() -> None:
    for add in (False, True):
        for sql in provisioner.statements("analytics", HEX, add_password=add):
            assert_parses(sql)
    assert_parses("SHOW GRANTS FOR provisioner")


def test_the_exact_grants() -> None:
    assert provisioner.grant_statements("analytics") == [
        "GRANT NONE TO provisioner WITH REPLACE OPTION",
        "GRANT CREATE USER, ALTER USER, DROP USER ON * TO provisioner WITH REPLACE OPTION",
        "REVOKE CREATE USER, ALTER USER, DROP USER ON default FROM provisioner",
        "REVOKE CREATE USER, ALTER USER, DROP USER ON provisioner FROM provisioner",
        "REVOKE CREATE USER, ALTER USER, DROP USER ON `sql-console`* FROM provisioner",
        "GRANT CREATE ROLE, ALTER ROLE, DROP ROLE ON analytics_* TO provisioner",
        "GRANT ROLE ADMIN, CREATE SETTINGS PROFILE, ALTER SETTINGS PROFILE, DROP SETTINGS PROFILE, "
        "CREATE QUOTA, ALTER QUOTA, DROP QUOTA, SHOW USERS, SHOW ROLES, SHOW SETTINGS PROFILES, "
        "SHOW QUOTAS ON *.* TO provisioner",
        "GRANT CREATE DATABASE ON analytics.* TO provisioner",
        "GRANT SELECT, INSERT, CREATE TABLE, ALTER TABLE, DROP TABLE ON analytics.* TO provisioner "
        "WITH GRANT OPTION",
    ]


def test_a_bad_database_name_is_refused() -> None:
    with pytest.raises(provisioner.ProvisionerError, match="not a ClickHouse database name"):
        provisioner.statements("analytics; DROP USER default", HEX)


# -- the grant set, checked by ClickHouse --------------------------------------------------------

_PROBE = textwrap.dedent(
    """
    import json, sys, chdb
    connection = chdb.connect(":memory:?config-file=" + sys.argv[1])
    cursor = connection.cursor()
    codes = []
    for sql in json.loads(sys.argv[2]):
        try:
            cursor.execute(sql)
            codes.append(0)
        except Exception as exc:
            text = str(exc)
            codes.append(int(text.split("Code: ", 1)[1].split(".", 1)[0]) if "Code: " in text else -1)
    print(json.dumps(codes))
    """
)


def _xml_grants(database: str) -> str:
    """The provisioner's grants as users.xml takes them: for the current user, no grantee."""
    queries = [
        sql.replace(" TO provisioner", "").replace(" FROM provisioner", "")
        for sql in provisioner.grant_statements(database)
        if not sql.startswith("GRANT NONE")  # roles: users.xml grants none unless listed
    ]
    return "".join(f"<query>{q}</query>" for q in queries)


def access_codes(tmp_path: Path, sqls: Sequence[str], database: str = "analytics") -> dict[str, int]:
    """ClickHouse's error code per statement (0: ran), run by a user holding the provisioner's grants."""
    users = tmp_path / "users.xml"
    users.write_text(
        "<clickhouse><profiles><default/></profiles><quotas><default/></quotas><users>"
        f"<default><password/><profile>default</profile><quota>default</quota><grants>{_xml_grants(database)}"
        "</grants></default>"
        "<app><password/><profile>default</profile><quota>default</quota></app>"
        "<provisioner><password/><profile>default</profile><quota>default</quota></provisioner>"
        "<sql-console_admin><password/><profile>default</profile><quota>default</quota></sql-console_admin>"
        "</users><roles>"
        "<analytics_read><grants><query>GRANT SELECT ON analytics.*</query></grants></analytics_read>"
        "<default_role><grants><query>GRANT ALL ON *.*</query></grants></default_role>"
        "</roles></clickhouse>"
    )
    config = tmp_path / "config.xml"
    config.write_text(f"<clickhouse><users_config>{users}</users_config></clickhouse>")
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, str(config), json.dumps(list(sqls))],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return dict(zip(sqls, json.loads(result.stdout.strip().splitlines()[-1]), strict=True))


H = "a" * 64
# What the SQL provider does (one of each kind): none may need more than the grants.
ALLOWED = [
    f"CREATE USER IF NOT EXISTS app2 IDENTIFIED WITH sha256_hash BY '{H}'",
    f"ALTER USER app IDENTIFIED WITH sha256_hash BY '{H}'",
    f"ALTER USER app ADD IDENTIFIED WITH sha256_hash BY '{H}'",
    "ALTER USER app DEFAULT ROLE analytics_read",
    "DROP USER IF EXISTS app",
    "CREATE ROLE IF NOT EXISTS analytics_write",
    "DROP ROLE IF EXISTS analytics_read",
    "GRANT SELECT, INSERT, CREATE TABLE, ALTER TABLE, DROP TABLE ON analytics.* TO analytics_read",
    "REVOKE INSERT ON analytics.* FROM analytics_read",
    "GRANT analytics_read TO app",
    "REVOKE analytics_read FROM app",
    "CREATE SETTINGS PROFILE IF NOT EXISTS p SETTINGS readonly = 2 CONST TO analytics_read",
    "CREATE QUOTA IF NOT EXISTS app_quota FOR INTERVAL 1 hour MAX queries = 1000 TO app",
    "CREATE DATABASE IF NOT EXISTS analytics",
    "SELECT count() FROM system.users",
    "SELECT count() FROM system.roles",
    "SELECT count() FROM system.grants",
    "SELECT count() FROM system.role_grants",
    "SELECT count() FROM system.settings_profiles",
    "SELECT count() FROM system.settings_profile_elements",
    "SELECT count() FROM system.quotas",
    "SELECT count() FROM system.quota_limits",
    "SELECT count() FROM system.databases",
]
# Escalations the grants must refuse.
DENIED = [
    f"ALTER USER default IDENTIFIED WITH sha256_hash BY '{H}'",
    "DROP USER default",
    f"ALTER USER provisioner IDENTIFIED WITH sha256_hash BY '{H}'",
    f"ALTER USER `sql-console_admin` IDENTIFIED WITH sha256_hash BY '{H}'",
    "CREATE ROLE IF NOT EXISTS admins",
    "DROP ROLE IF EXISTS default_role",
    "GRANT ALL ON *.* TO app",
    "GRANT SELECT ON system.* TO analytics_read",
    "GRANT SELECT ON other.* TO analytics_read",
    "CREATE DATABASE IF NOT EXISTS other",
    "DROP DATABASE analytics",
]


def test_clickhouse_allows_what_the_provider_does_and_refuses_escalation(tmp_path: Path) -> None:
    codes = access_codes(tmp_path, [*ALLOWED, *DENIED])
    # Allowed: it ran, or failed only where chdb's read-only access storage begins.
    assert {sql: code for sql, code in codes.items() if sql in ALLOWED and code not in STORAGE_ONLY} == {}
    assert {sql: code for sql, code in codes.items() if sql in DENIED and code != ACCESS_DENIED} == {}


def test_role_admin_is_global_and_can_grant_any_role(tmp_path: Path) -> None:
    # The limit README states: ROLE ADMIN cannot be scoped, so the provisioner could grant Cloud's
    # admin role to any user, itself included (granting a role checks no ALTER USER on the
    # grantee). The alternative, ADMIN OPTION on the project's roles, needs the roles active in
    # its sessions, and the read role's `readonly` profile would then block its DDL.
    codes = access_codes(tmp_path, ["GRANT default_role TO app", "GRANT default_role TO provisioner"])
    assert set(codes.values()) <= STORAGE_ONLY


# -- the tool, with a fake Pulumi CLI and a recording executor -----------------------------------


class Recorder:
    def __init__(self, fail_with: Exception | None = None) -> None:
        self.connections: list[Mapping[str, Any]] = []
        self.commands: list[str] = []
        self.closed = False
        self.fail_with = fail_with

    def open(self, connection: Mapping[str, Any]) -> Recorder:
        self.connections.append(dict(connection))
        return self

    def command(self, sql: str) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.commands.append(sql)

    def query(self, sql: str, parameters: Mapping[str, str]) -> list[tuple[Any, ...]]:
        return [("GRANT CREATE USER ON * TO provisioner",)]

    def close(self) -> None:
        self.closed = True


def fake_pulumi(config: str | None = PROV) -> Any:
    def run(argv: Sequence[str]) -> str:
        if argv[:2] == ["stack", "output"]:
            return json.dumps(OUTPUTS)
        if argv[:2] == ["config", "get"] and argv[2] == f"{PROJECT}:clickhouseProvisionerPassword":
            if config is None:
                raise provisioner.ProvisionerError("`pulumi config get` failed (exit 255)")
            return config + "\n"
        raise AssertionError(argv)

    return run


def run_tool(
    argv: list[str], recorder: Recorder, *, answer: str = "yes", config: str | None = PROV
) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = provisioner.main(
        argv,
        pulumi=fake_pulumi(config),
        ask=lambda _: answer,
        prompt=lambda _: ADMIN,
        opener=recorder.open,
        out=out,
        err=err,
    )
    return code, out.getvalue(), err.getvalue()


SECRET_FORMS = [ADMIN, sha256_hex(ADMIN), sha256_b64(ADMIN), PROV, HEX]


def test_shows_the_statements_then_runs_them_as_default_with_the_typed_password() -> None:
    recorder = Recorder()
    code, out, err = run_tool(["--stack", "prod"], recorder)
    assert code == 0, err
    assert recorder.connections == [
        {"host": OUTPUTS["clickhouse_host"], "port": 8443, "username": "default", "password": ADMIN}
    ]
    assert recorder.commands == provisioner.statements("analytics", HEX) and recorder.closed
    for sql in provisioner.statements("analytics", provisioner.PLACEHOLDER):
        assert f"  {sql};" in out
    assert not [form for form in SECRET_FORMS if form in out + err]


def test_nothing_runs_and_no_admin_password_is_asked_without_yes() -> None:
    recorder = Recorder()
    code, out, err = run_tool(["--stack", "prod"], recorder, answer="y")
    assert (code, recorder.connections, recorder.commands) == (1, [], [])
    assert "nothing was run" in err and "CREATE USER IF NOT EXISTS provisioner" in out


def test_host_flags_and_the_rotation_step() -> None:
    recorder = Recorder()
    code, _, _ = run_tool(["--stack", "dev", "--host", "restored.example", "--add-password"], recorder)
    assert code == 0
    assert (recorder.connections[0]["host"], recorder.connections[0]["port"]) == ("restored.example", 8443)
    assert recorder.commands == [f"ALTER USER provisioner ADD IDENTIFIED WITH sha256_hash BY '{HEX}'"]


def test_a_clickhouse_error_is_scrubbed_of_every_secret() -> None:
    leak = f"Code: 516. DB::Exception: default: Authentication failed: password {ADMIN} hash {HEX}"
    recorder = Recorder(fail_with=DatabaseError(leak))
    code, out, err = run_tool(["--stack", "prod"], recorder)
    assert code == 1 and "Authentication failed" in err and recorder.closed
    assert not [form for form in SECRET_FORMS if form in out + err]


def test_a_weak_or_unreadable_provisioner_password_stops_before_the_admin_prompt() -> None:
    recorder = Recorder()
    code, _, err = run_tool(["--stack", "prod"], recorder, config="weak")
    assert (
        code == 2 and "does not meet the complexity rule" in err and "weak" not in err.replace("weak", "", 0)
    )
    assert recorder.connections == []
    # Not readable from the config: prompted (here: the admin stand-in, which passes the rule).
    code, _, err = run_tool(["--stack", "prod"], recorder, config=None)
    assert code == 0, err


def test_no_terminal_is_a_clean_stop() -> None:
    def no_tty(_: str) -> str:
        raise EOFError

    err = io.StringIO()
    code = provisioner.main(
        ["--stack", "dev", "--host", "h.example"],
        pulumi=fake_pulumi(None),
        ask=lambda _: "yes",
        prompt=no_tty,
        out=io.StringIO(),
        err=err,
    )
    assert code == 1 and "the prompts need a terminal" in err.getvalue()
    assert admin_hash.main([], prompt=no_tty, out=io.StringIO(), err=err) == 1


# -- make admin-hash -------------------------------------------------------------------------


def _admin_hash(*typed: str) -> tuple[int, str, str]:
    answers = iter(typed)
    out, err = io.StringIO(), io.StringIO()
    code = admin_hash.main(["--stack", "prod"], prompt=lambda _: next(answers), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_admin_hash_prints_only_the_hash_on_stdout() -> None:
    code, out, err = _admin_hash(ADMIN, ADMIN)
    assert (code, out) == (0, sha256_b64(ADMIN) + "\n")
    assert f"pulumi config set --secret {PROJECT}:clickhouseAdminPasswordHash --stack prod" in err
    assert ADMIN not in out + err and sha256_b64(ADMIN) not in err


@pytest.mark.parametrize(
    ("typed", "message"),
    [((ADMIN, ADMIN + "x"), "the two passwords differ"), (("short", "short"), "complexity rule")],
)
def test_admin_hash_refuses_without_printing_anything(typed: tuple[str, str], message: str) -> None:
    code, out, err = _admin_hash(*typed)
    assert (code, out) == (1, "") and message in err
    assert typed[0] not in err


# -- migration: the SQL resources' stored connection moves from `default` to `provisioner` ------


class SqlRecorder:
    """An executor factory that records every statement (reads answer nothing)."""

    def __init__(self) -> None:
        self.commands: list[str] = []

    def __call__(self, connection: Mapping[str, Any]) -> SqlRecorder:
        return self

    def command(self, sql: str) -> None:
        self.commands.append(sql)

    def query(self, sql: str, parameters: Mapping[str, str]) -> list[tuple[Any, ...]]:
        return []

    def close(self) -> None:
        return None


def test_migrating_to_the_provisioner_is_a_credentials_only_update_that_runs_no_sql() -> None:
    run = run_ok("dev")
    dynamic = [r for r in run.resources if r.type.startswith("pulumi-python:dynamic/clickhouse:")]
    assert {r.type.rsplit(":", 1)[1] for r in dynamic} == {
        "Database",
        "Role",
        "Grant",
        "User",
        "SettingsProfile",
        "Quota",
    }
    for res in dynamic:
        inputs = {k: rpc.unwrap_rpc_secret(v) for k, v in res.inputs.items() if k != "__provider"}
        stored = dill.loads(base64.b64decode(rpc.unwrap_rpc_secret(res.inputs["__provider"])))
        recorder = SqlRecorder()
        provider = type(stored)(recorder)
        assert inputs["connection"]["username"] == "provisioner"
        before = {**inputs, "connection": {**inputs["connection"], "username": "default", "password": ADMIN}}
        olds = provider.create(before).outs
        recorder.commands.clear()
        diff = provider.diff(res.name, olds, inputs)
        assert diff.changes and not diff.replaces and getattr(diff, "diffs", ["connection"]) == ["connection"]
        outs = provider.update(res.name, olds, inputs).outs
        assert recorder.commands == [], res.name
        assert outs is not None and outs["connection"]["username"] == "provisioner"
