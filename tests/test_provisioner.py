"""`make provisioner` and `make admin-hash`: the statements, both users' grant sets on a real
ClickHouse access check, and that no password reaches anything but the ClickHouse login.

The grant sets are checked by ClickHouse itself (chdb, embedded ClickHouse 26.x): a users.xml gives
chdb's only user, `default`, exactly the grants `make provisioner` gives the provisioner (or the
observer), the project's roles WITH ADMIN OPTION included (active: users.xml users have every
granted role as default); ClickHouse checks privileges before it touches the (read-only) access
storage, so a statement the grants allow fails with a storage error, and one they do not allow
fails with ACCESS_DENIED (497). chdb runs in a subprocess: its configured server must not share a
process with the suite's other chdb sessions. What chdb cannot show (users.xml ignores REPLACE, and
nothing can be granted at run time) is checked on tests.ch_model (test_provisioner_replace).
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

from clickhouse_sql import inventory_queries, statements
from clickhouse_sql.inventory import alter_to
from clickhouse_sql.profiles import Applies
from clickhouse_sql.queries import Query
from ops import admin_hash, provisioner, provisioner_sql
from ops.provisioner_sql import PLACEHOLDERS
from settings.passwords import OBSERVER_USER, PROVISIONER_USER, sha256_b64, sha256_hex
from tools.project import PROJECT, ROOT

ADMIN = "Typed-Adm1n-Passw0rd!"
PROV = "Pr0visioner-Passw0rd!x"
OBS = "0bserver-Passw0rd!y"
HEX, OBS_HEX = sha256_hex(PROV), sha256_hex(OBS)
HEXES = {PROVISIONER_USER: HEX, OBSERVER_USER: OBS_HEX}
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
    for add in (None, PROVISIONER_USER, OBSERVER_USER):
        for sql in provisioner_sql.statements("analytics", HEXES, add_password=add, legacy_users=["app"]):
            assert_parses(sql)
    assert_parses("SHOW GRANTS FOR provisioner")


GLOBAL = (
    "CREATE SETTINGS PROFILE, ALTER SETTINGS PROFILE, DROP SETTINGS PROFILE, CREATE QUOTA, ALTER QUOTA, "
    "DROP QUOTA, SHOW USERS, SHOW ROLES, SHOW SETTINGS PROFILES, SHOW QUOTAS ON *.*"
)


def test_the_exact_grants_of_both_users() -> None:
    assert provisioner_sql.grant_statements("analytics") == [
        "GRANT analytics_read, analytics_write TO provisioner WITH REPLACE OPTION",
        "GRANT analytics_read, analytics_write TO provisioner WITH ADMIN OPTION",
        "GRANT CREATE USER, ALTER USER, DROP USER ON salla_* TO provisioner WITH REPLACE OPTION",
        "GRANT CREATE ROLE, ALTER ROLE, DROP ROLE ON analytics_* TO provisioner",
        f"GRANT {GLOBAL} TO provisioner",
        "GRANT CREATE DATABASE ON analytics.* TO provisioner",
        "GRANT SELECT, INSERT, CREATE TABLE, ALTER TABLE, DROP TABLE ON analytics.* TO provisioner "
        "WITH GRANT OPTION",
    ]
    # During the migration only: the former user names, each exactly (no pattern).
    legacy = provisioner_sql.grant_statements("analytics", ["app", "data_pipeline"])
    assert legacy[3:5] == [
        "GRANT CREATE USER, ALTER USER, DROP USER ON app TO provisioner",
        "GRANT CREATE USER, ALTER USER, DROP USER ON data_pipeline TO provisioner",
    ]
    assert legacy[:3] + legacy[5:] == provisioner_sql.grant_statements("analytics")
    assert not [sql for sql in legacy if "ROLE ADMIN" in sql]
    assert provisioner_sql.observer_grant_statements("analytics") == [
        "REVOKE ALL FROM observer",
        "GRANT SHOW USERS, SHOW ROLES, SHOW SETTINGS PROFILES, SHOW QUOTAS ON *.* TO observer "
        "WITH REPLACE OPTION",
        "GRANT SHOW DATABASES ON analytics.* TO observer",
    ]


def test_both_users_converge_before_the_roles_are_active() -> None:
    sqls = provisioner_sql.statements("analytics", HEXES)
    assert sqls[:8] == [
        f"CREATE USER IF NOT EXISTS provisioner IDENTIFIED WITH sha256_hash BY '{HEX}'",
        f"ALTER USER provisioner IDENTIFIED WITH sha256_hash BY '{HEX}' DEFAULT ROLE ALL SETTINGS NONE",
        f"CREATE USER IF NOT EXISTS observer IDENTIFIED WITH sha256_hash BY '{OBS_HEX}' "
        "DEFAULT ROLE NONE SETTINGS readonly = 2 CONST",
        f"ALTER USER observer IDENTIFIED WITH sha256_hash BY '{OBS_HEX}' "
        "DEFAULT ROLE NONE SETTINGS readonly = 2 CONST",
        "CREATE DATABASE IF NOT EXISTS analytics",
        "CREATE ROLE IF NOT EXISTS analytics_read",
        "CREATE ROLE IF NOT EXISTS analytics_write",
        "DROP SETTINGS PROFILE IF EXISTS analytics_read_profile, analytics_write_profile",
    ]
    assert sqls[8:] == [
        *provisioner_sql.grant_statements("analytics"),
        *provisioner_sql.observer_grant_statements("analytics"),
    ]
    # The same role names WarehouseAccess declares (another database: other names).
    assert provisioner_sql.project_roles("shop") == ["shop_read", "shop_write"]


def test_docs_show_exactly_these_statements() -> None:
    doc = (ROOT / "docs" / "provisioning.md").read_text()
    block = doc.split("## The statements", 1)[1].split("```sql\n", 1)[1].split("```", 1)[0]
    shown = [line.removesuffix(";") for line in block.splitlines() if line.strip()]
    assert shown == provisioner_sql.statements("analytics", PLACEHOLDERS)


@pytest.mark.parametrize(
    ("database", "legacy", "message"),
    [
        ("analytics; DROP USER default", [], "not a ClickHouse database name"),
        ("analytics", ["observer"], "cannot be a former consumer user name"),
        ("analytics", ["app; DROP USER x"], "cannot be a former consumer user name"),
    ],
)
def test_bad_names_are_refused(database: str, legacy: list[str], message: str) -> None:
    with pytest.raises(provisioner_sql.ProvisionerError, match=message):
        provisioner_sql.statements(database, HEXES, legacy_users=legacy)


# -- the grant sets, checked by ClickHouse ------------------------------------------------------

_PROBE = textwrap.dedent(
    """
    import json, sys, tempfile, chdb
    sessions = []
    for config, setup, sqls in json.loads(sys.argv[1]):
        uri = ":memory:"
        if setup:  # a data directory holding tables, made by an unrestricted session first
            uri = tempfile.mkdtemp(prefix="chdb-data-")
            plain = chdb.connect(uri)
            for sql in setup:
                plain.cursor().execute(sql)
            plain.close()
        connection = chdb.connect(uri + "?config-file=" + config)
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


def _xml_grants(statements: Sequence[str], user: str) -> str:
    """A user's grants as users.xml takes them: for the current user, no grantee.

    Users from users.xml have every granted role as a default role: the `DEFAULT ROLE ALL` of
    `statements`, so the project's roles are active in the session, as on the service. A users.xml
    user starts with nothing, so the observer's `REVOKE ALL FROM observer` has nothing to do there.
    """
    queries = [sql.replace(f" TO {user}", "") for sql in statements if not sql.startswith("REVOKE ALL FROM")]
    assert all(user not in q for q in queries), queries
    return "".join(f"<query>{q}</query>" for q in queries)


# The service's roles: the project's two, another one named like them, Cloud's admin role.
ROLES = {
    "analytics_read": "GRANT SELECT ON analytics.*",
    "analytics_write": "GRANT SELECT, INSERT ON analytics.*",
    "analytics_other": "GRANT SELECT ON analytics.*",
    "default_role": "GRANT ALL ON *.*",
}
# The service's other users: a consumer's (namespaced and former), one made by hand for a BI tool,
# the observer, the provisioner itself, a SQL console user. (chdb's `default` runs the statements.)
OTHER_USERS = ["salla_app", "app", "bi_tool", "observer", "provisioner"]
# Drift the access inventory finds and repairs: the hand-made user holds the project's writer role.
HELD_BY_HAND = {"bi_tool": "analytics_write"}


Results = dict[str, tuple[int, list[list[Any]]]]


def _users_xml(grants: str, readonly: int) -> str:
    plain = "<password/><profile>default</profile><quota>default</quota>"
    return (
        f"<clickhouse><profiles><default><readonly>{readonly}</readonly></default><plain/></profiles>"
        "<quotas><default/></quotas><users>"
        f"<default>{plain}<grants>{grants}</grants></default>"
        + "".join(
            f"<{u}><password/><profile>plain</profile><quota>default</quota>"
            + (f"<grants><query>GRANT {HELD_BY_HAND[u]}</query></grants>" if u in HELD_BY_HAND else "")
            + f"</{u}>"
            for u in OTHER_USERS
        )
        + f"<sql-console_admin>{plain}<grants><query>GRANT default_role</query></grants></sql-console_admin>"
        "</users><roles>"
        + "".join(
            f"<{role}><grants><query>{grant}</query></grants></{role}>" for role, grant in ROLES.items()
        )
        + "</roles></clickhouse>"
    )


Session = tuple[str, int, Sequence[str], Sequence[str]]  # grants, readonly level, setup, statements


def _run(sessions: Sequence[Session]) -> list[Results]:
    """Per session: ClickHouse's error code (0: ran) and rows per statement, run by a user holding
    `grants`. `readonly` is the session's readonly level (what a settings profile would impose);
    `setup` (if any) makes tables first, in a data directory. One chdb process, one after the other."""
    assert all(len(set(sqls)) == len(sqls) for *_, sqls in sessions), "results are keyed by statement"
    with tempfile.TemporaryDirectory() as tmp:
        jobs = []
        for index, (grants, readonly, setup, sqls) in enumerate(sessions):
            users = Path(tmp) / f"users{index}.xml"
            users.write_text(_users_xml(grants, readonly))
            config = Path(tmp) / f"config{index}.xml"
            config.write_text(f"<clickhouse><users_config>{users}</users_config></clickhouse>")
            jobs.append([str(config), list(setup), list(sqls)])
        result = subprocess.run(
            [sys.executable, "-c", _PROBE, json.dumps(jobs)],
            capture_output=True,
            text=True,
            check=True,
            timeout=180,
        )
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    return [
        {sql: (int(code), rows) for sql, (code, rows) in zip(sqls, results, strict=True)}
        for (*_, sqls), results in zip(sessions, answers, strict=True)
    ]


H = "a" * 64
# What the SQL provider does (one of each kind) on the namespaced objects: none may need more.
ALLOWED = [
    f"CREATE USER IF NOT EXISTS salla_app2 IDENTIFIED WITH sha256_hash BY '{H}'",
    f"CREATE USER `salla_app3` IDENTIFIED WITH sha256_hash BY '{H}' DEFAULT ROLE NONE",  # quoted, as sent
    f"ALTER USER salla_app IDENTIFIED WITH sha256_hash BY '{H}'",
    f"ALTER USER salla_app ADD IDENTIFIED WITH sha256_hash BY '{H}'",
    "ALTER USER salla_app DEFAULT ROLE analytics_read",
    "DROP USER IF EXISTS salla_app",
    "CREATE ROLE IF NOT EXISTS analytics_read",  # exists already: still checked (CREATE ROLE needed)
    "CREATE ROLE IF NOT EXISTS analytics_write",
    "ALTER ROLE analytics_read SETTINGS NONE",
    "DROP ROLE IF EXISTS analytics_read",
    "GRANT SELECT, INSERT, CREATE TABLE, ALTER TABLE, DROP TABLE ON analytics.* TO analytics_read",
    "REVOKE INSERT ON analytics.* FROM analytics_read",
    "REVOKE GRANT OPTION FOR SELECT ON analytics.* FROM analytics_read",
    "GRANT analytics_read TO salla_app",
    "GRANT analytics_write TO salla_app",
    "REVOKE analytics_read FROM salla_app",
    "REVOKE analytics_read FROM analytics_write",
    "SET DEFAULT ROLE analytics_read TO salla_app",
    "CREATE SETTINGS PROFILE OR REPLACE salla_app_limits SETTINGS readonly = 2 CONST, "
    "max_memory_usage = 1 MIN 1 MAX 1 TO salla_app",
    "DROP SETTINGS PROFILE IF EXISTS analytics_read_profile",
    "ALTER USER salla_app SETTINGS NONE",
    "ALTER USER salla_app SETTINGS PROFILE 'default'",
    "CREATE QUOTA OR REPLACE salla_app_quota FOR INTERVAL 3600 second MAX queries = 1000 TO salla_app",
    "DROP QUOTA IF EXISTS salla_app_quota",
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
# Users outside the namespace: the provisioner may neither alter them, nor drop them, nor apply a
# settings profile to them (`default` is also the session's own user here), nor create one.
OUTSIDE = ["default", "provisioner", "observer", "bi_tool", "`sql-console_admin`"]
FAIL_CLOSED = [
    form.format(user=user)
    for user in OUTSIDE
    for form in (
        f"ALTER USER {{user}} IDENTIFIED WITH sha256_hash BY '{H}'",
        f"ALTER USER {{user}} ADD IDENTIFIED WITH sha256_hash BY '{H}'",
        "ALTER USER {user} DEFAULT ROLE NONE",
        "ALTER USER {user} SETTINGS PROFILE 'default'",
        "ALTER USER {user} SETTINGS readonly = 1",
        "SET DEFAULT ROLE NONE TO {user}",
        "DROP USER IF EXISTS {user}",
    )
] + [f"CREATE USER IF NOT EXISTS {user} IDENTIFIED WITH sha256_hash BY '{H}'" for user in ("bi2", "salla")]
# The former names: managed only with `make provisioner LEGACY=1` (during the migration).
LEGACY = [f"ALTER USER app IDENTIFIED WITH sha256_hash BY '{H}'", "DROP USER IF EXISTS app"]
# Escalations the grants must refuse.
DENIED = [
    "CREATE ROLE IF NOT EXISTS admins",
    "DROP ROLE IF EXISTS default_role",
    # Roles: only the project's two, which it holds WITH ADMIN OPTION (no ROLE ADMIN).
    "GRANT default_role TO provisioner",
    "GRANT default_role TO salla_app",
    "GRANT analytics_other TO salla_app",
    "REVOKE default_role FROM `sql-console_admin`",
    "GRANT ALL ON *.* TO salla_app",
    "GRANT SELECT ON system.* TO analytics_read",
    "GRANT SELECT ON other.* TO analytics_read",
    "CREATE DATABASE IF NOT EXISTS other",
    "DROP DATABASE analytics",
]
# What ClickHouse cannot scope (module docstring of ops.provisioner_sql): CREATE/ALTER QUOTA and
# SETTINGS PROFILE are global and `... TO <user>` checks nothing on the user. These pass the access
# check (fail only at chdb's read-only storage): the documented limit, asserted so that a
# ClickHouse that starts checking them shows up here.
GLOBAL_ONLY = [
    "CREATE SETTINGS PROFILE OR REPLACE p SETTINGS readonly = 1 TO bi_tool",
    "CREATE QUOTA OR REPLACE q FOR INTERVAL 3600 second MAX queries = 1 TO default",
]

READ_ONLY = 164  # READONLY: the session is read-only
CURRENT_ROLES = "SELECT role_name, with_admin_option FROM system.current_roles ORDER BY role_name"
PROBE = [CURRENT_ROLES, "SELECT getSetting('readonly')", "CREATE DATABASE IF NOT EXISTS analytics"]

# The observer: every read refresh makes, and nothing else.
TABLES = [
    "CREATE DATABASE analytics",
    "CREATE TABLE analytics.events (x Int32) ENGINE = MergeTree ORDER BY x",
]
OBSERVER_READS = [
    *(
        f"SELECT count() FROM system.{table}"
        for table in (
            "users",
            "roles",
            "grants",
            "role_grants",
            "settings_profiles",
            "settings_profile_elements",
            "quotas",
            "quota_limits",
        )
    ),
    "SELECT name FROM system.databases WHERE name = 'analytics'",
    "SHOW GRANTS FOR salla_app",
    "SHOW GRANTS FOR analytics_read",
]
OBSERVER_DENIED = [
    "SELECT * FROM analytics.events",
    "INSERT INTO analytics.events VALUES (1)",
    "CREATE TABLE analytics.t (x Int32) ENGINE = Memory",
    "DROP TABLE analytics.events",
    "TRUNCATE TABLE analytics.events",
    "CREATE DATABASE IF NOT EXISTS other",
    f"CREATE USER IF NOT EXISTS salla_x IDENTIFIED WITH sha256_hash BY '{H}'",
    f"ALTER USER salla_app IDENTIFIED WITH sha256_hash BY '{H}'",
    "DROP USER IF EXISTS salla_app",
    "CREATE ROLE IF NOT EXISTS analytics_x",
    "GRANT SELECT ON analytics.* TO salla_app",
    "GRANT analytics_read TO salla_app",
    "CREATE SETTINGS PROFILE OR REPLACE p SETTINGS readonly = 1 TO salla_app",
    "CREATE QUOTA OR REPLACE q FOR INTERVAL 3600 second MAX queries = 1 TO salla_app",
]


def _inline(query: Query) -> str:
    """A provider read with its server-side parameters written in (the probe sends plain SQL)."""
    sql = query.sql
    for key, value in query.parameters.items():
        assert "'" not in value
        sql = sql.replace(f"{{{key}:String}}", f"'{value}'")
    return sql


# The access inventory (clickhouse_sql.inventory): its reads, as the observer makes them in a
# refresh (the same SQL, parameters inlined), and the repairs the deploy after it runs as the
# provisioner, built by the inventory's own builders: revoking the project's role from a user outside
# the namespace, dropping an undeclared namespace user, dropping or narrowing (`ALTER ... TO`) a
# settings profile or quota that applies to a consumer (`plain`, `default`: users.xml's own).
INVENTORY_READS = [
    _inline(query)
    for query in (
        inventory_queries.role_holders("analytics_read"),
        inventory_queries.role_holders("analytics_write"),
        inventory_queries.namespace_users("salla_"),
        inventory_queries.all_profiles(),
        inventory_queries.all_quotas(),
    )
]
INVENTORY_REPAIRS = [
    statements.revoke_role("analytics_write", "bi_tool", "user"),
    statements.drop_user("salla_stray"),
    statements.drop_settings_profile("plain"),
    statements.drop_quota("default"),
    alter_to("SETTINGS PROFILE", "plain", Applies(True, (), ("bi_tool",)), {"salla_app"}),
    alter_to("QUOTA", "default", Applies(False, ("bi_tool", "salla_app"), ()), {"salla_app"}),
]


def _provisioner_grants(legacy: Sequence[str] = ()) -> str:
    return _xml_grants(provisioner_sql.grant_statements("analytics", legacy), PROVISIONER_USER)


@functools.cache
def sessions() -> list[Results]:
    """Every statement the tests below ask about, in one chdb process and fresh sessions: the
    provisioner's (the provider's statements and the escalations), its session itself, one whose
    roles would carry `readonly = 2`, one with the migration's grants, and the observer's."""
    observer = _xml_grants(provisioner_sql.observer_grant_statements("analytics"), OBSERVER_USER)
    return _run(
        [
            (
                _provisioner_grants(),
                0,
                [],
                [*ALLOWED, *FAIL_CLOSED, *LEGACY, *DENIED, *GLOBAL_ONLY, *INVENTORY_REPAIRS],
            ),
            (_provisioner_grants(), 0, [], PROBE),
            (_provisioner_grants(), 2, [], ALLOWED[:5]),
            (_provisioner_grants(["app"]), 0, [], [*LEGACY, *FAIL_CLOSED]),
            # readonly = 2: the observer's `SETTINGS readonly = 2 CONST`.
            (observer, 2, TABLES, [*OBSERVER_READS, *INVENTORY_READS, *OBSERVER_DENIED, *INVENTORY_REPAIRS]),
            (observer, 0, TABLES, [*OBSERVER_DENIED, *INVENTORY_REPAIRS]),  # by the grants alone, too
        ]
    )


def _codes(results: Results, sqls: Sequence[str]) -> dict[str, int]:
    return {sql: results[sql][0] for sql in sqls}


def test_clickhouse_allows_what_the_provider_does_and_refuses_escalation() -> None:
    codes = _codes(sessions()[0], [*ALLOWED, *DENIED])
    # Allowed: it ran, or failed only where chdb's read-only access storage begins.
    assert {sql: codes[sql] for sql in ALLOWED if codes[sql] not in STORAGE_ONLY} == {}
    assert {sql: codes[sql] for sql in DENIED if codes[sql] != ACCESS_DENIED} == {}


def test_the_provisioner_cannot_touch_a_user_outside_the_namespace() -> None:
    """bi_tool (made by hand), default, observer, itself, a console user: no password, default role,
    settings profile or drop; the former names only with the migration's grants."""
    plain, _, _, legacy, *_ = sessions()
    assert {
        sql: code for sql, code in _codes(plain, [*FAIL_CLOSED, *LEGACY]).items() if code != ACCESS_DENIED
    } == {}
    assert {sql: code for sql, code in _codes(legacy, FAIL_CLOSED).items() if code != ACCESS_DENIED} == {}
    assert {sql: code for sql, code in _codes(legacy, LEGACY).items() if code not in STORAGE_ONLY} == {}


def test_profiles_and_quotas_stay_global_as_documented() -> None:
    codes = _codes(sessions()[0], GLOBAL_ONLY)
    assert set(codes.values()) <= STORAGE_ONLY, codes


def test_the_project_roles_are_active_with_admin_option_and_the_session_is_writable() -> None:
    _, results, read_only, *_ = sessions()
    assert [results[sql][0] for sql in PROBE] == [0, 0, 0], [results[sql] for sql in PROBE]
    assert results[CURRENT_ROLES][1] == [["analytics_read", 1], ["analytics_write", 1]]
    assert results[PROBE[1]][1] == [[0]] and results[PROBE[2]][1] == []
    # What a settings profile on one of its (active) roles did before roles lost `readonly`: every
    # DDL the provider runs is refused. The harness sees it (so the check above can fail).
    assert {code for code, _ in read_only.values()} == {READ_ONLY}


def test_the_observer_reads_what_refresh_needs_and_nothing_else() -> None:
    *_, observer, grants_only = sessions()
    assert {sql: observer[sql][0] for sql in OBSERVER_READS if observer[sql][0] != 0} == {}
    # system.databases lists the database (SHOW DATABASES on it); SHOW GRANTS answers.
    assert observer["SELECT name FROM system.databases WHERE name = 'analytics'"][1] == [["analytics"]]
    assert observer["SHOW GRANTS FOR analytics_read"][1] == [
        ["GRANT SELECT ON analytics.* TO analytics_read"]
    ]
    # No table data, no DDL, no access management: refused by its grants (and its readonly).
    assert {
        sql: code for sql, code in _codes(grants_only, OBSERVER_DENIED).items() if code != ACCESS_DENIED
    } == {}
    assert {
        sql: code
        for sql, code in _codes(observer, OBSERVER_DENIED).items()
        if code not in (ACCESS_DENIED, READ_ONLY)
    } == {}


def test_the_observer_reads_what_the_inventory_reads_and_may_repair_nothing() -> None:
    *_, observer, grants_only = sessions()
    assert {sql: observer[sql][0] for sql in INVENTORY_READS if observer[sql][0] != 0} == {}
    holders_read, holders_write, namespace, profiles, quotas = (observer[sql][1] for sql in INVENTORY_READS)
    # It sees a hand-made holder of a project role (not only its own grants), the namespace's users,
    # every profile and quota with whom they apply to.
    assert (holders_read, holders_write) == ([], [["bi_tool", None, 0]])
    assert namespace == [["salla_app"]]
    assert [row[0] for row in profiles] == ["default", "plain"] and [row[0] for row in quotas] == ["default"]
    # users.xml's quota applies to its users, the consumer's among them (chdb's DB-API: arrays as text).
    assert all(len(row) == 4 for row in profiles + quotas) and "'salla_app'" in quotas[0][2]
    # The repairs are refused to it: by its grants alone, and (readonly = 2) before or by them.
    assert {
        sql: code for sql, code in _codes(grants_only, INVENTORY_REPAIRS).items() if code != ACCESS_DENIED
    } == {}
    assert {
        sql: code
        for sql, code in _codes(observer, INVENTORY_REPAIRS).items()
        if code not in (ACCESS_DENIED, READ_ONLY)
    } == {}


def test_the_provisioner_may_run_every_repair_the_inventory_makes() -> None:
    """Its grants pass ClickHouse's access check for each (they fail only at chdb's read-only
    storage): REVOKE of a project role from a user outside the namespace needs only the role WITH
    ADMIN OPTION, not ALTER USER on that user; profiles and quotas are global grants."""
    codes = _codes(sessions()[0], INVENTORY_REPAIRS)
    assert {sql: code for sql, code in codes.items() if code not in STORAGE_ONLY} == {}


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
        return [(f"GRANT SHOW USERS ON *.* TO {sql.rsplit(' ', 1)[1]}",)]

    def close(self) -> None:
        self.closed = True


def fake_pulumi(argv: Sequence[str]) -> str:
    if argv[:2] == ["stack", "output"]:
        return json.dumps(OUTPUTS)
    raise AssertionError(argv)  # nothing else: no password comes from the stack config


def always_reviewed(root: Path, remote: str, *, break_glass: bool) -> str | None:
    return None


def run_tool(
    argv: list[str],
    recorder: Recorder,
    *,
    answer: str = "yes",
    typed: Sequence[str] = (PROV, PROV, OBS, OBS, ADMIN),
    env: Mapping[str, str] | None = None,
    reviewed: Any = always_reviewed,
    pulumi: Any = fake_pulumi,
) -> tuple[int, str, str, list[str]]:
    """Run the tool; `typed`: what the getpass prompts get, in order. Returns the prompts too."""
    out, err = io.StringIO(), io.StringIO()
    answers, prompts = iter(typed), []

    def prompt(text: str) -> str:
        prompts.append(text)
        return next(answers)

    code = provisioner.main(
        argv,
        pulumi=pulumi,
        ask=lambda _: answer,
        prompt=prompt,
        opener=recorder.open,
        env=env or {},
        reviewed=reviewed,
        out=out,
        err=err,
    )
    return code, out.getvalue(), err.getvalue(), prompts


SECRET_FORMS = [ADMIN, sha256_hex(ADMIN), sha256_b64(ADMIN), PROV, HEX, OBS, OBS_HEX]


def test_shows_the_statements_then_runs_them_as_default_with_the_typed_passwords() -> None:
    recorder = Recorder()
    code, out, err, prompts = run_tool(["--stack", "prod"], recorder)
    assert code == 0, err
    assert len(prompts) == 5 and "provisioner" in prompts[0] and "observer" in prompts[2]
    assert recorder.connections == [
        {"host": OUTPUTS["clickhouse_host"], "port": 8443, "username": "default", "password": ADMIN}
    ]
    assert recorder.commands == provisioner_sql.statements("analytics", HEXES) and recorder.closed
    for sql in provisioner_sql.statements("analytics", PLACEHOLDERS):
        assert f"  {sql};" in out
    assert "CLICKHOUSE_SQL_PASSWORD of the GitHub environment 'production'" in out
    assert "CLICKHOUSE_SQL_PASSWORD of the GitHub environment 'production-plan'" in out
    assert not [form for form in SECRET_FORMS if form in out + err]


def test_passwords_from_the_environment_are_not_asked_for() -> None:
    recorder = Recorder()
    env = {"CLICKHOUSE_PROVISIONER_PASSWORD": PROV, "CLICKHOUSE_OBSERVER_PASSWORD": OBS}
    code, out, err, prompts = run_tool(["--stack", "dev"], recorder, typed=[ADMIN], env=env)
    assert code == 0, err
    assert len(prompts) == 1 and "admin" in prompts[0]
    assert recorder.commands == provisioner_sql.statements("analytics", HEXES)
    assert not [form for form in SECRET_FORMS if form in out + err]


def test_nothing_runs_and_no_admin_password_is_asked_without_yes() -> None:
    recorder = Recorder()
    code, out, err, prompts = run_tool(["--stack", "prod"], recorder, answer="y")
    assert (code, recorder.connections, recorder.commands) == (1, [], [])
    assert "nothing was run" in err and "CREATE USER IF NOT EXISTS provisioner" in out
    assert not [p for p in prompts if "admin" in p]


def test_host_flags_the_rotation_step_and_the_migration_grants() -> None:
    recorder = Recorder()
    argv = ["--stack", "dev", "--host", "restored.example", "--rotate", "observer"]
    code, out, _, prompts = run_tool(argv, recorder, typed=[OBS, OBS, ADMIN])
    assert code == 0
    assert (recorder.connections[0]["host"], recorder.connections[0]["port"]) == ("restored.example", 8443)
    assert recorder.commands == [f"ALTER USER observer ADD IDENTIFIED WITH sha256_hash BY '{OBS_HEX}'"]
    assert len(prompts) == 3 and "dev-preview" in out
    recorder = Recorder()
    code, _, _, _ = run_tool(["--stack", "prod", "--legacy"], recorder)
    assert code == 0
    legacy = [sql for sql in recorder.commands if " ON salla_* " not in sql and "USER, DROP USER ON" in sql]
    assert legacy == [
        f"GRANT CREATE USER, ALTER USER, DROP USER ON {user} TO provisioner"
        for user in ("app", "data_pipeline", "ai")
    ]


def test_a_clickhouse_error_is_scrubbed_of_every_secret() -> None:
    from clickhouse_connect.driver.exceptions import DatabaseError

    leak = f"Code: 516. DB::Exception: default: Authentication failed: password {ADMIN} hash {HEX} {OBS}"
    recorder = Recorder(fail_with=DatabaseError(leak))
    code, out, err, _ = run_tool(["--stack", "prod"], recorder)
    assert code == 1 and "Authentication failed" in err and recorder.closed
    assert not [form for form in SECRET_FORMS if form in out + err]


@pytest.mark.parametrize(
    ("typed", "env", "message"),
    [
        (["weak", "weak"], {}, "password of `provisioner` (CLICKHOUSE_PROVISIONER_PASSWORD or the prompt)"),
        ([PROV, PROV + "x"], {}, "the two passwords typed for `provisioner` differ"),
        ([PROV, PROV, PROV, PROV], {}, "two different passwords"),
        (
            [],
            {"CLICKHOUSE_PROVISIONER_PASSWORD": PROV, "CLICKHOUSE_OBSERVER_PASSWORD": "short"},
            "`observer`",
        ),
    ],
)
def test_a_bad_password_stops_before_anything_runs(
    typed: list[str], env: dict[str, str], message: str
) -> None:
    recorder = Recorder()
    code, out, err, _ = run_tool(["--stack", "prod"], recorder, typed=typed, env=env)
    assert code == 2 and message in err, err
    assert recorder.connections == [] and "will run" not in out
    assert not [t for t in [*typed, *env.values()] if t in err]


def test_unreviewed_code_is_refused_before_any_prompt() -> None:
    from ops.reviewed_code import UnreviewedCode

    def refuse(root: Path, remote: str, *, break_glass: bool) -> str | None:
        if break_glass:
            return "WARNING: BREAK-GLASS: ..."
        raise UnreviewedCode("make provisioner runs only reviewed code, ...")

    recorder = Recorder()
    code, out, err, prompts = run_tool(["--stack", "prod"], recorder, reviewed=refuse)
    assert (code, prompts, recorder.connections, out) == (2, [], [], "")
    assert "runs only reviewed code" in err
    code, _, err, prompts = run_tool(["--stack", "prod", "--break-glass"], recorder, reviewed=refuse)
    assert code == 0 and err.startswith("WARNING: BREAK-GLASS") and len(prompts) == 5


def test_no_terminal_is_a_clean_stop() -> None:
    def no_tty(_: str) -> str:
        raise EOFError

    err = io.StringIO()
    code = provisioner.main(
        ["--stack", "dev", "--host", "h.example"],
        pulumi=fake_pulumi,
        ask=lambda _: "yes",
        prompt=no_tty,
        env={},
        reviewed=always_reviewed,
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
