"""`make provisioner` and `make admin-hash`: the statements, the grant set on a real ClickHouse
access check, and that the admin password reaches nothing but the ClickHouse login.

The grant set is checked by ClickHouse itself (chdb, embedded ClickHouse 26.x): a users.xml gives
chdb's only user, `default`, exactly the provisioner's grants, the project's roles WITH ADMIN OPTION
included (active: users.xml users have every granted role as default); ClickHouse checks privileges before
it touches the (read-only) access storage, so a statement the grants allow fails with a storage
error, and one they do not allow fails with ACCESS_DENIED (497). chdb runs in a subprocess: its
configured server must not share a process with the suite's other chdb sessions.
"""

from __future__ import annotations

import functools
import io
import json
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from settings.passwords import sha256_b64, sha256_hex
from tools import admin_hash, provisioner
from tools.project import PROJECT, ROOT

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
    import chdb  # here, not at collection: loading embedded ClickHouse takes a while

    query: Any = chdb.query  # untyped
    assert str(query("SELECT formatQuery({s:String})", "TSVRaw", params={"s": sql})).strip(), sql


def test_statements_parse_in_clickhouse() -> None:
    for add in (False, True):
        for sql in provisioner.statements("analytics", HEX, add_password=add):
            assert_parses(sql)
    assert_parses("SHOW GRANTS FOR provisioner")


def test_the_exact_grants() -> None:
    assert provisioner.grant_statements("analytics") == [
        "GRANT analytics_read, analytics_write TO provisioner WITH ADMIN OPTION WITH REPLACE OPTION",
        "GRANT CREATE USER, ALTER USER, DROP USER ON * TO provisioner WITH REPLACE OPTION",
        "REVOKE CREATE USER, ALTER USER, DROP USER ON default FROM provisioner",
        "REVOKE CREATE USER, ALTER USER, DROP USER ON provisioner FROM provisioner",
        "REVOKE CREATE USER, ALTER USER, DROP USER ON `sql-console`* FROM provisioner",
        "GRANT CREATE ROLE, ALTER ROLE, DROP ROLE ON analytics_* TO provisioner",
        "GRANT CREATE SETTINGS PROFILE, ALTER SETTINGS PROFILE, DROP SETTINGS PROFILE, "
        "CREATE QUOTA, ALTER QUOTA, DROP QUOTA, SHOW USERS, SHOW ROLES, SHOW SETTINGS PROFILES, "
        "SHOW QUOTAS ON *.* TO provisioner",
        "GRANT CREATE DATABASE ON analytics.* TO provisioner",
        "GRANT SELECT, INSERT, CREATE TABLE, ALTER TABLE, DROP TABLE ON analytics.* TO provisioner "
        "WITH GRANT OPTION",
    ]
    assert not [sql for sql in provisioner.grant_statements("analytics") if "ROLE ADMIN" in sql]


def test_the_roles_exist_with_no_profile_and_are_active_in_its_sessions_before_the_grants() -> None:
    sqls = provisioner.statements("analytics", HEX)
    assert sqls[:6] == [
        f"CREATE USER IF NOT EXISTS provisioner IDENTIFIED WITH sha256_hash BY '{HEX}'",
        f"ALTER USER provisioner IDENTIFIED WITH sha256_hash BY '{HEX}' DEFAULT ROLE ALL",
        "CREATE DATABASE IF NOT EXISTS analytics",
        "CREATE ROLE IF NOT EXISTS analytics_read",
        "CREATE ROLE IF NOT EXISTS analytics_write",
        "DROP SETTINGS PROFILE IF EXISTS analytics_read_profile, analytics_write_profile",
    ]
    assert sqls[6:] == provisioner.grant_statements("analytics")
    # The same role names WarehouseAccess declares (another database: other names).
    assert provisioner.project_roles("shop") == ["shop_read", "shop_write"]


def test_readme_shows_exactly_these_statements() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### The provisioning user", 1)[1]
    block = section.split("```sql\n", 1)[1].split("```", 1)[0]
    shown = [line.removesuffix(";") for line in block.splitlines() if line.strip()]
    assert shown == provisioner.statements("analytics", provisioner.PLACEHOLDER)


def test_a_bad_database_name_is_refused() -> None:
    with pytest.raises(provisioner.ProvisionerError, match="not a ClickHouse database name"):
        provisioner.statements("analytics; DROP USER default", HEX)


# -- the grant set, checked by ClickHouse --------------------------------------------------------

_PROBE = textwrap.dedent(
    """
    import json, sys, chdb
    sessions = []
    for config, sqls in json.loads(sys.argv[1]):
        connection = chdb.connect(":memory:?config-file=" + config)
        cursor = connection.cursor()
        results = []
        for sql in sqls:
            try:
                cursor.execute(sql)
                results.append([0, [list(row) for row in cursor.fetchall() or []]])
            except Exception as exc:
                text = str(exc)
                code = int(text.split("Code: ", 1)[1].split(".", 1)[0]) if "Code: " in text else -1
                results.append([code, []])
        connection.close()
        sessions.append(results)
    print(json.dumps(sessions))
    """
)


def _xml_grants(database: str) -> str:
    """The provisioner's grants as users.xml takes them: for the current user, no grantee.

    Users from users.xml have every granted role as a default role: the `DEFAULT ROLE ALL` of
    `statements`, so the project's roles are active in the session, as on the service.
    """
    queries = [
        sql.replace(" TO provisioner", "").replace(" FROM provisioner", "")
        for sql in provisioner.grant_statements(database)
    ]
    return "".join(f"<query>{q}</query>" for q in queries)


# The service's roles: the project's two, another one named like them, Cloud's admin role.
ROLES = {
    "analytics_read": "GRANT SELECT ON analytics.*",
    "analytics_write": "GRANT SELECT, INSERT ON analytics.*",
    "analytics_other": "GRANT SELECT ON analytics.*",
    "default_role": "GRANT ALL ON *.*",
}


Results = dict[str, tuple[int, list[list[Any]]]]


def _users_xml(readonly: int) -> str:
    return (
        f"<clickhouse><profiles><default><readonly>{readonly}</readonly></default></profiles>"
        "<quotas><default/></quotas><users>"
        f"<default><password/><profile>default</profile><quota>default</quota><grants>{_xml_grants('analytics')}"
        "</grants></default>"
        "<app><password/><profile>default</profile><quota>default</quota></app>"
        "<provisioner><password/><profile>default</profile><quota>default</quota></provisioner>"
        "<sql-console_admin><password/><profile>default</profile><quota>default</quota>"
        "<grants><query>GRANT default_role</query></grants></sql-console_admin>"
        "</users><roles>"
        + "".join(
            f"<{role}><grants><query>{grant}</query></grants></{role}>" for role, grant in ROLES.items()
        )
        + "</roles></clickhouse>"
    )


def _run(sessions: Sequence[tuple[int, Sequence[str]]]) -> list[Results]:
    """Per session (readonly level, statements): ClickHouse's error code (0: ran) and rows per
    statement, run by a user holding the provisioner's grants. `readonly` is the session's
    readonly level (what a settings profile on one of its roles would impose). One chdb process
    for all the sessions, one after the other."""
    assert all(len(set(sqls)) == len(sqls) for _, sqls in sessions), "results are keyed by statement"
    with tempfile.TemporaryDirectory() as tmp:
        jobs = []
        for index, (readonly, sqls) in enumerate(sessions):
            users = Path(tmp) / f"users{index}.xml"
            users.write_text(_users_xml(readonly))
            config = Path(tmp) / f"config{index}.xml"
            config.write_text(f"<clickhouse><users_config>{users}</users_config></clickhouse>")
            jobs.append([str(config), list(sqls)])
        result = subprocess.run(
            [sys.executable, "-c", _PROBE, json.dumps(jobs)],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    return [
        {sql: (int(code), rows) for sql, (code, rows) in zip(sqls, results, strict=True)}
        for (_, sqls), results in zip(sessions, answers, strict=True)
    ]


H = "a" * 64
# What the SQL provider does (one of each kind): none may need more than the grants.
ALLOWED = [
    f"CREATE USER IF NOT EXISTS app2 IDENTIFIED WITH sha256_hash BY '{H}'",
    f"ALTER USER app IDENTIFIED WITH sha256_hash BY '{H}'",
    f"ALTER USER app ADD IDENTIFIED WITH sha256_hash BY '{H}'",
    "ALTER USER app DEFAULT ROLE analytics_read",
    "DROP USER IF EXISTS app",
    "CREATE ROLE IF NOT EXISTS analytics_read",  # exists already: still checked (CREATE ROLE needed)
    "CREATE ROLE IF NOT EXISTS analytics_write",
    "ALTER ROLE analytics_read SETTINGS NONE",
    "DROP ROLE IF EXISTS analytics_read",
    "GRANT SELECT, INSERT, CREATE TABLE, ALTER TABLE, DROP TABLE ON analytics.* TO analytics_read",
    "REVOKE INSERT ON analytics.* FROM analytics_read",
    "REVOKE GRANT OPTION FOR SELECT ON analytics.* FROM analytics_read",
    "GRANT analytics_read TO app",
    "GRANT analytics_write TO app",
    "REVOKE analytics_read FROM app",
    "REVOKE analytics_read FROM analytics_write",
    "SET DEFAULT ROLE analytics_read TO app",
    "CREATE SETTINGS PROFILE OR REPLACE app_limits SETTINGS readonly = 2 CONST, "
    "max_memory_usage = 1 MIN 1 MAX 1 TO app",
    "DROP SETTINGS PROFILE IF EXISTS analytics_read_profile",
    "ALTER USER app SETTINGS NONE",
    "CREATE QUOTA OR REPLACE app_quota FOR INTERVAL 3600 second MAX queries = 1000 TO app",
    "DROP QUOTA IF EXISTS app_quota",
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
    # Roles: only the project's two, which it holds WITH ADMIN OPTION (no ROLE ADMIN).
    "GRANT default_role TO provisioner",
    "GRANT default_role TO app",
    "GRANT analytics_other TO app",
    "REVOKE default_role FROM `sql-console_admin`",
    "GRANT ALL ON *.* TO app",
    "GRANT SELECT ON system.* TO analytics_read",
    "GRANT SELECT ON other.* TO analytics_read",
    "CREATE DATABASE IF NOT EXISTS other",
    "DROP DATABASE analytics",
]


READ_ONLY = 164  # READONLY: the session is read-only
CURRENT_ROLES = "SELECT role_name, with_admin_option FROM system.current_roles ORDER BY role_name"
PROBE = [CURRENT_ROLES, "SELECT getSetting('readonly')", "CREATE DATABASE IF NOT EXISTS analytics"]


@functools.cache
def sessions() -> tuple[Results, Results, Results]:
    """Every statement the tests below ask about, in one chdb process and three fresh sessions:
    the provider's statements and the escalations, the provisioner's session itself, and one whose
    roles would carry `readonly = 2` (the provider's first DDL statements only)."""
    escalation, own, read_only = _run([(0, [*ALLOWED, *DENIED]), (0, PROBE), (2, ALLOWED[:5])])
    return escalation, own, read_only


def test_clickhouse_allows_what_the_provider_does_and_refuses_escalation() -> None:
    codes = {sql: code for sql, (code, _) in sessions()[0].items()}
    # Allowed: it ran, or failed only where chdb's read-only access storage begins.
    assert {sql: codes[sql] for sql in ALLOWED if codes[sql] not in STORAGE_ONLY} == {}
    assert {sql: codes[sql] for sql in DENIED if codes[sql] != ACCESS_DENIED} == {}


def test_the_project_roles_are_active_with_admin_option_and_the_session_is_writable() -> None:
    _, results, read_only = sessions()
    assert [results[sql][0] for sql in PROBE] == [0, 0, 0], [results[sql] for sql in PROBE]
    assert results[CURRENT_ROLES][1] == [["analytics_read", 1], ["analytics_write", 1]]
    assert results[PROBE[1]][1] == [[0]] and results[PROBE[2]][1] == []
    # What a settings profile on one of its (active) roles did before roles lost `readonly`: every
    # DDL the provider runs is refused. The harness sees it (so the check above can fail).
    assert {code for code, _ in read_only.values()} == {READ_ONLY}


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
    from clickhouse_connect.driver.exceptions import DatabaseError

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
