"""The SQL providers against a stateful model of ClickHouse access control (tests.ch_model), driven
like the engine drives them (tests.sql_engine): the server ends up holding exactly what is declared,
a no-change `up` runs no statement (also right after each rotation step), refresh sees every
difference, and the seeded day-2 cases converge."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from clickhouse_sql.base import MISSING
from clickhouse_sql.client import ClickHouseSQLError, ClickHouseUnreachableError
from clickhouse_sql.role import RoleProvider
from tests.ch_model import SHA256, ClickHouseModel, Row
from tests.sql_engine import Engine, declare


def hex_of(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


H1, H2, P, A, OTHER = (hex_of(p) for p in ("app-one", "app-two", "pipeline", "ai", "by-hand"))
USERS = {"app": ([H1], "read"), "data_pipeline": ([P], "write"), "ai": ([A], "read")}

# Everything statements run in this module (the chdb parser test checks them all).
RUN: list[str] = []


@pytest.fixture
def model() -> ClickHouseModel:
    return ClickHouseModel()


@pytest.fixture
def engine(model: ClickHouseModel) -> Engine:
    return Engine(model)


def up(
    engine: Engine, users: dict[str, tuple[list[str], str]] = USERS, adopt: frozenset[str] = frozenset()
) -> list[str]:
    ran = engine.up(declare(users, adopt=adopt))
    RUN.extend(ran)
    return ran


def assert_exactly_declared(model: ClickHouseModel, users: dict[str, tuple[list[str], str]] = USERS) -> None:
    assert model.roles == {"analytics_read", "analytics_write"}
    assert model.grants_of("role", "analytics_read") == {"SELECT ON analytics.*"}
    assert model.grants_of("role", "analytics_write") == {
        f"{p} ON analytics.*" for p in ["SELECT", "INSERT", "CREATE TABLE", "ALTER TABLE", "DROP TABLE"]
    }
    assert model.role_roles.get("analytics_read", set()) == set()
    # No settings profile applies to a role (the provisioner holds the roles): only to consumers.
    assert {to for profile in model.profiles.values() for to in profile.to} == set(users)
    assert set(model.users) == set(users)
    for user, (hashes, access) in users.items():
        state = model.users[user]
        assert state.auth == [(SHA256, h) for h in hashes]
        assert state.roles == {f"analytics_{access}": False}
        assert (state.default_all, state.default_list) == (False, [f"analytics_{access}"])
        assert model.grants_of("user", user) == set() and state.settings == []
        assert model.profiles[f"{user}_limits"].to == [user]
        readonly = [e for e in model.profiles[f"{user}_limits"].elements if e[0] == "readonly"]
        assert readonly == ([("readonly", "2", None, None, "CONST")] if access == "read" else [])
        assert model.quotas[f"{user}_quota"].to == [user]
        assert model.quotas[f"{user}_quota"].duration == 3600


def test_fresh_stack_then_a_no_change_up_runs_nothing(engine: Engine, model: ClickHouseModel) -> None:
    ran = up(engine)
    assert ran[:5] == [
        "CREATE DATABASE IF NOT EXISTS `analytics`",
        "CREATE ROLE IF NOT EXISTS `analytics_read`",
        "CREATE ROLE IF NOT EXISTS `analytics_write`",
        "GRANT SELECT ON `analytics`.* TO `analytics_read`",
        "GRANT SELECT, INSERT, CREATE TABLE, ALTER TABLE, DROP TABLE ON `analytics`.* TO `analytics_write`",
    ]
    assert ran[5:9] == [
        f"CREATE USER `app` IDENTIFIED WITH sha256_hash BY '{H1}' DEFAULT ROLE NONE",
        "GRANT `analytics_read` TO `app`",
        "SET DEFAULT ROLE `analytics_read` TO `app`",
        "CREATE SETTINGS PROFILE OR REPLACE `app_limits` SETTINGS readonly = 2 CONST, max_memory_usage = "
        "4294967296 MIN 1 MAX 4294967296, max_execution_time = 60 MIN 1 MAX 60, max_result_rows = 1000000 "
        "MIN 1 MAX 1000000 TO `app`",
    ]
    assert len(ran) == 5 + 3 * 5
    assert_exactly_declared(model)
    assert up(engine) == [] and engine.changed() == []
    assert engine.refresh() == {}
    assert up(engine) == [] and engine.changed() == []


def test_the_first_up_converges_on_the_roles_make_provisioner_created(
    engine: Engine, model: ClickHouseModel
) -> None:
    model.seed("CREATE ROLE IF NOT EXISTS `analytics_read`", "CREATE ROLE IF NOT EXISTS `analytics_write`")
    ran = up(engine)
    assert not [sql for sql in ran if "CREATE ROLE" in sql]
    assert len(ran) == 3 + 3 * 5
    assert_exactly_declared(model)
    assert engine.refresh() == {} and up(engine) == []


def test_a_role_state_with_the_old_readonly_profile_drops_it(engine: Engine, model: ClickHouseModel) -> None:
    up(engine)
    # What a deployment before roles lost `readonly` left: the profile and `readonly` in the state.
    model.seed(
        "CREATE SETTINGS PROFILE OR REPLACE `analytics_read_profile` SETTINGS readonly = 2 CONST "
        "TO `analytics_read`"
    )
    cls, id_, outs = engine.state["role-read"]
    engine.state["role-read"] = (cls, id_, {**outs, "readonly": 2.0})
    assert up(engine) == ["DROP SETTINGS PROFILE IF EXISTS `analytics_read_profile`"]
    assert engine.changed() == ["role-read"] and engine.diffs["role-read"].diffs == ["readonly"]
    assert "readonly" not in engine.state["role-read"][2]
    assert_exactly_declared(model)
    assert up(engine) == [] and engine.changed() == []


def test_a_stale_role_profile_is_drift_and_the_next_up_drops_it(
    engine: Engine, model: ClickHouseModel
) -> None:
    up(engine)
    model.seed(
        "CREATE SETTINGS PROFILE OR REPLACE `analytics_read_profile` SETTINGS readonly = 2 CONST "
        "TO `analytics_read`"
    )
    assert engine.refresh() == {"role-read": ["profile analytics_read_profile: exists, declared: none"]}
    assert up(engine) == ["DROP SETTINGS PROFILE IF EXISTS `analytics_read_profile`"]
    assert engine.refresh() == {} and up(engine) == []
    # Deleting a role also drops a stale profile of its name (IF EXISTS: nothing, usually).
    model.seed(
        "CREATE SETTINGS PROFILE OR REPLACE `analytics_read_profile` SETTINGS readonly = 2 CONST "
        "TO `analytics_read`"
    )
    _, id_, outs = engine.state["role-read"]
    model.grantable = None  # as an admin: the role is still granted to consumers
    engine.provider(RoleProvider).delete(id_, outs)
    assert "analytics_read_profile" not in model.profiles and "analytics_read" not in model.roles


def test_a_role_that_is_dropped_and_made_again_needs_make_provisioner(
    engine: Engine, model: ClickHouseModel
) -> None:
    up(engine)
    model.seed("DROP ROLE IF EXISTS `analytics_read`")  # e.g. by hand: the provisioner's grant goes too
    found = engine.refresh()  # kept in the state with the drift MISSING: the next up makes it again
    assert found["role-read"] == found["grant-read"] == [MISSING]
    with pytest.raises(ClickHouseSQLError, match="code 497"):
        up(engine)  # the role is made again, but granting it to `app` needs ADMIN OPTION on it
    model.admin_roles.add("analytics_read")  # `make provisioner` again
    up(engine)
    assert_exactly_declared(model)
    assert engine.refresh() == {} and up(engine) == []


def test_pre_existing_profiles_with_other_settings_are_replaced(
    engine: Engine, model: ClickHouseModel
) -> None:
    model.seed(
        "CREATE ROLE IF NOT EXISTS `analytics_read`",
        "CREATE ROLE IF NOT EXISTS `analytics_write`",
        "CREATE USER `someone` IDENTIFIED WITH sha256_hash BY '" + OTHER + "'",
        "CREATE SETTINGS PROFILE OR REPLACE `app_limits` SETTINGS max_memory_usage = 0 TO `someone`",
    )
    with pytest.raises(
        ClickHouseSQLError,
        match=r"settings profile `app_limits` already exists .* "
        r"has max_memory_usage = 0 \(not declared\).*consumers\.app\.adopt: true",
    ):
        up(engine)  # found at create: never taken over silently
    ran = up(engine, adopt=frozenset({"app"}))
    assert [s for s in ran if "`app_limits`" in s] == [
        "CREATE SETTINGS PROFILE OR REPLACE `app_limits` SETTINGS readonly = 2 CONST, max_memory_usage = "
        "4294967296 MIN 1 MAX 4294967296, max_execution_time = 60 MIN 1 MAX 60, max_result_rows = "
        "1000000 MIN 1 MAX 1000000 TO `app`"
    ]
    model.users.pop("someone")
    assert_exactly_declared(model)
    assert up(engine) == []


def test_an_extra_privilege_in_the_managed_database_is_revoked(
    engine: Engine, model: ClickHouseModel
) -> None:
    up(engine)
    model.seed(
        "GRANT INSERT ON `analytics`.* TO `analytics_read`",
        "GRANT SELECT ON `analytics`.* TO `analytics_read` WITH GRANT OPTION",
    )
    assert engine.refresh() == {
        "grant-read": [
            "holds GRANT INSERT ON `analytics`.* (not declared)",
            "has GRANT OPTION for SELECT (not declared)",
        ]
    }
    assert up(engine) == [
        "REVOKE INSERT ON `analytics`.* FROM `analytics_read`",
        "REVOKE GRANT OPTION FOR SELECT ON `analytics`.* FROM `analytics_read`",
    ]
    assert_exactly_declared(model)
    assert engine.refresh() == {} and up(engine) == []


def test_an_extra_privilege_on_another_database_is_found_and_revoked(
    engine: Engine, model: ClickHouseModel
) -> None:
    up(engine)
    model.seed("GRANT INSERT ON `other`.* TO `analytics_read`")
    assert engine.refresh() == {"role-read": ["holds GRANT INSERT ON `other`.* (not declared)"]}
    # The provisioning user holds no grant option outside analytics.*, so ClickHouse refuses the REVOKE:
    with pytest.raises(
        ClickHouseSQLError,
        match=r"role `analytics_read`: REVOKE INSERT ON failed with ClickHouse error code 497: "
        r".* by an admin",
    ):
        up(engine)
    model.grantable = None  # as an admin (or with the grant option) the same run converges it
    assert "REVOKE INSERT ON `other`.* FROM `analytics_read`" in up(engine)
    assert_exactly_declared(model)
    model.seed("GRANT SELECT ON *.* TO `analytics_write`")
    assert engine.refresh() == {"role-write": ["holds GRANT SELECT ON *.* (not declared)"]}
    assert up(engine) == ["REVOKE SELECT ON *.* FROM `analytics_write`"]
    assert engine.refresh() == {}


def test_a_user_with_an_extra_role_and_default_role_all_is_reset(
    engine: Engine, model: ClickHouseModel
) -> None:
    model.seed(
        "CREATE ROLE IF NOT EXISTS `analytics_read`",
        "CREATE ROLE IF NOT EXISTS `analytics_write`",
        f"CREATE USER `app` IDENTIFIED WITH sha256_hash BY '{H1}'",
        "GRANT `analytics_read` TO `app`",
        "GRANT `analytics_write` TO `app`",
        "SET DEFAULT ROLE ALL TO `app`",
    )
    ran = up(engine, adopt=frozenset({"app"}))
    assert [s for s in ran if "`app`" in s and "PROFILE" not in s and "QUOTA" not in s] == [
        f"ALTER USER `app` IDENTIFIED WITH sha256_hash BY '{H1}'",  # passwords of an unknown user: reset
        "REVOKE `analytics_write` FROM `app`",
        "SET DEFAULT ROLE `analytics_read` TO `app`",
    ]
    assert_exactly_declared(model)


def test_drift_added_by_hand_is_seen_by_refresh_and_removed_by_the_next_up(
    engine: Engine, model: ClickHouseModel
) -> None:
    up(engine)
    model.seed(
        "GRANT `analytics_write` TO `ai`",
        "SET DEFAULT ROLE ALL TO `ai`",
        "GRANT INSERT ON `analytics`.`events` TO `ai`",
        "ALTER USER `ai` ADD IDENTIFIED WITH plaintext_password BY 'x'",
        "ALTER USER `ai` SETTINGS max_threads = 64",
        "CREATE QUOTA OR REPLACE `ai_quota` FOR INTERVAL 3600 second MAX queries = 1 TO `ai`",
        "CREATE SETTINGS PROFILE OR REPLACE `ai_limits` SETTINGS readonly = 2 CONST TO `ai`",
    )
    drift = engine.refresh()
    assert drift["ai-user"] == [
        "authenticates with 2 method(s) (sha256_password, plaintext_password), "
        "declared: 1 sha256 password(s)",
        "has role analytics_write granted (not declared)",
        "default roles ALL, declared: analytics_read",
        "holds GRANT INSERT ON `analytics`.`events` directly (not declared)",
        "has 1 setting(s) set on the user itself (not declared)",
    ]
    assert drift["ai-quota"] == [
        "limits 3600s: queries = 1, declared: 3600s: queries = 10000, read_rows = 1e+10"
    ]
    assert drift["ai-limits"][0].startswith("lacks max_memory_usage")
    assert set(drift) == {"ai-user", "ai-quota", "ai-limits"}
    up(engine)
    assert engine.changed() == ["ai-limits", "ai-quota", "ai-user"]
    assert_exactly_declared(model)
    assert engine.refresh() == {} and up(engine) == []


def test_a_user_made_by_hand_with_another_password_gets_the_declared_one(
    engine: Engine, model: ClickHouseModel
) -> None:
    model.seed(f"CREATE USER `app` IDENTIFIED WITH sha256_hash BY '{OTHER}'")
    with pytest.raises(ClickHouseSQLError) as refused:
        up(engine)
    assert str(refused.value) == (
        "user `app` already exists on the server, but no state of this stack holds it (made by hand, by "
        "another tool or stack, or this stack's state was lost), so the create stopped and changed "
        "nothing. What differs from the declaration: lacks role analytics_read; default roles ALL, "
        "declared: analytics_read; its password cannot be read back (ClickHouse returns no hash); "
        "adopting replaces it with the consumer's generated one. Fix: to take it over on purpose, set "
        "`consumers.app.adopt: true` (pulumi config set --path 'consumers.app.adopt' true) and run "
        "`pulumi up` again: it is then converged as declared, and removing the consumer later drops "
        "it; otherwise rename the consumer, or have an admin drop the object."
    )
    assert model.passwords("app") == [OTHER] and "app_limits" not in model.profiles
    up(engine, adopt=frozenset({"app"}))
    assert model.passwords("app") == [H1]
    assert_exactly_declared(model)


def test_an_interrupted_create_is_finished_by_the_next_up(engine: Engine, model: ClickHouseModel) -> None:
    model.seed("CREATE ROLE IF NOT EXISTS `analytics_read`")  # role made, nothing else, nothing in the state
    model.fail_on = "CREATE USER `ai`"
    with pytest.raises(
        ClickHouseUnreachableError, match=r"user `ai`: the connection .* failed during CREATE USER"
    ):
        up(engine)
    assert "app" in model.users and "ai" not in model.users
    model.fail_on = None
    ran = up(engine)
    assert ran[:3] == [
        f"CREATE USER `ai` IDENTIFIED WITH sha256_hash BY '{A}' DEFAULT ROLE NONE",
        "GRANT `analytics_read` TO `ai`",
        "SET DEFAULT ROLE `analytics_read` TO `ai`",
    ]
    assert_exactly_declared(model)
    assert up(engine) == []


def test_rotation_started_and_finished_in_two_deploys(engine: Engine, model: ClickHouseModel) -> None:
    up(engine)
    started = {**USERS, "app": ([H1, H2], "read")}
    assert up(engine, started) == [f"ALTER USER `app` ADD IDENTIFIED WITH sha256_hash BY '{H2}'"]
    assert model.passwords("app") == [H1, H2]
    assert up(engine, started) == [] and engine.changed() == []  # a no-change up mid-rotation
    assert engine.refresh() == {}
    finished = {**USERS, "app": ([H2], "read")}
    assert up(engine, finished) == [f"ALTER USER `app` IDENTIFIED WITH sha256_hash BY '{H2}'"]
    assert model.passwords("app") == [H2]
    assert up(engine, finished) == [] and engine.changed() == []
    assert_exactly_declared(model, finished)


def test_a_removed_consumer_is_dropped(engine: Engine, model: ClickHouseModel) -> None:
    up(engine)
    remaining = {k: v for k, v in USERS.items() if k != "ai"}
    assert up(engine, remaining) == [
        "DROP QUOTA IF EXISTS `ai_quota`",
        "DROP SETTINGS PROFILE IF EXISTS `ai_limits`",
        "DROP USER IF EXISTS `ai`",
    ]
    assert_exactly_declared(model, remaining)
    assert up(engine, remaining) == []


def test_retire_step_one_is_an_update_that_stores_retiring_and_runs_no_sql(
    engine: Engine, model: ClickHouseModel
) -> None:
    up(engine)
    connections, statements = model.connections, len(model.statements)
    assert engine.up(declare(USERS, retiring=frozenset({"ai"}))) == []
    # The engine keeps a resource's old outputs when diff reports no change: the stack policies read
    # `retiring` from outputs, so the marker must be a change, stored by an update.
    assert engine.changed() == ["ai-limits", "ai-quota", "ai-user"]
    assert {n: engine.diffs[n].diffs for n in engine.changed()} == {
        n: ["retiring"] for n in ("ai-limits", "ai-quota", "ai-user")
    }
    assert all(not engine.diffs[n].replaces for n in engine.changed())
    assert {n: engine.state[n][2]["retiring"] for n in ("ai-user", "ai-limits", "ai-quota", "app-user")} == {
        "ai-user": True,
        "ai-limits": True,
        "ai-quota": True,
        "app-user": False,
    }
    assert (model.connections, len(model.statements)) == (connections, statements)  # not even a read
    assert engine.up(declare(USERS, retiring=frozenset({"ai"}))) == [] and engine.changed() == []
    assert engine.refresh() == {} and engine.state["ai-user"][2]["retiring"] is True
    assert_exactly_declared(model)
    # Changing one's mind (retire: false) is the same kind of update; step 2 drops the objects.
    assert up(engine) == [] and engine.changed() == ["ai-limits", "ai-quota", "ai-user"]
    assert engine.state["ai-user"][2]["retiring"] is False
    remaining = {k: v for k, v in USERS.items() if k != "ai"}
    assert up(engine, remaining) == [
        "DROP QUOTA IF EXISTS `ai_quota`",
        "DROP SETTINGS PROFILE IF EXISTS `ai_limits`",
        "DROP USER IF EXISTS `ai`",
    ]


def test_retiring_with_another_change_still_converges_that_change(
    engine: Engine, model: ClickHouseModel
) -> None:
    up(engine)
    started = {**USERS, "ai": ([A, H2], "read")}
    ran = engine.up(declare(started, retiring=frozenset({"ai"})))
    assert ran == [f"ALTER USER `ai` ADD IDENTIFIED WITH sha256_hash BY '{H2}'"]
    assert engine.diffs["ai-user"].diffs == ["passwords_sha256_hex", "retiring"]
    assert engine.state["ai-user"][2]["retiring"] is True


def test_states_before_the_password_list_migrate_without_a_password_change(
    engine: Engine, model: ClickHouseModel
) -> None:
    up(engine)
    cls, id_, outs = engine.state["app-user"]
    legacy = {k: v for k, v in outs.items() if k not in ("passwords_sha256_hex", "drift", "retiring")}
    engine.state["app-user"] = (
        cls,
        id_,
        {**legacy, "password_sha256_hex": H1, "previous_password_sha256_hex": None},
    )
    assert up(engine) == []  # an update that stores the new shape, no SQL
    assert engine.changed() == ["app-user"] and up(engine) == []


UNADDRESSABLE = [
    # (grantee, row made by hand, the resource whose converge meets it, its label, the privilege shown)
    (
        ("role", "analytics_read"),
        Row("SELECT", "other", "prefix*"),
        "role-read",
        "role `analytics_read`",
        "GRANT SELECT ON `other`.'prefix*'",
    ),
    (
        ("role", "analytics_read"),
        Row("SELECT", "analytics", "ev*"),
        "grant-read",
        "grant on `analytics`.* to role `analytics_read`",
        "GRANT SELECT ON `analytics`.'ev*'",
    ),
    (("user", "app"), Row("S3", None), "app-user", "user `app`", "GRANT S3 ON *.*"),
]


@pytest.mark.parametrize(("grantee", "row", "resource", "label", "shown"), UNADDRESSABLE)
def test_a_grant_no_revoke_can_address_is_drift_and_one_clean_error(
    engine: Engine,
    model: ClickHouseModel,
    grantee: tuple[str, str],
    row: Row,
    resource: str,
    label: str,
    shown: str,
) -> None:
    up(engine)
    model.privileges.setdefault(grantee, []).append(row)  # made by hand (e.g. a 25.x wildcard grant)
    drift = engine.refresh()  # the drift job reports it (no traceback)
    assert list(drift) == [resource] and drift[resource][0].startswith(f"holds {shown}")
    before = len(model.statements)
    with pytest.raises(ClickHouseSQLError) as err:
        up(engine)
    message = str(err.value)
    assert message.startswith(f"{label}: holds {shown}")
    assert (
        "cannot be revoked automatically" in message and "an admin revokes it in the SQL console" in message
    )
    assert err.value.__cause__ is None and err.value.__suppress_context__  # no chained ValueError
    assert model.statements[before:] == []  # nothing ran for that object before the error
    model.privileges[grantee].remove(row)  # the admin revoked it: the next up converges, then is quiet
    assert up(engine) == [] and engine.refresh() == {}


def legacy_state(engine: Engine, name: str, current: str, previous: str | None) -> None:
    """Rewrite a user's stored outputs as the provider before the password list wrote them."""
    cls, id_, outs = engine.state[name]
    legacy = {k: v for k, v in outs.items() if k not in ("passwords_sha256_hex", "drift", "retiring")}
    engine.state[name] = (
        cls,
        id_,
        {**legacy, "password_sha256_hex": current, "previous_password_sha256_hex": previous},
    )


def test_a_user_written_by_the_old_provider_refreshes_and_the_read_migrates_its_state(
    engine: Engine, model: ClickHouseModel
) -> None:
    up(engine)
    legacy_state(engine, "app-user", H1, None)
    assert engine.refresh() == {}  # the daily drift job (preview --refresh); was a KeyError
    outs = engine.state["app-user"][2]
    assert outs["passwords_sha256_hex"] == [H1] and outs["drift"] == [] and outs["retiring"] is False
    assert "password_sha256_hex" not in outs and "previous_password_sha256_hex" not in outs
    assert up(engine) == [] and engine.changed() == []  # the refreshed state is the new shape
    # Drift is still seen through a legacy state (an extra authentication method added by hand).
    legacy_state(engine, "app-user", H1, None)
    model.seed(f"ALTER USER `app` ADD IDENTIFIED WITH sha256_hash BY '{OTHER}'")
    assert engine.refresh() == {
        "app-user": [
            "authenticates with 2 method(s) (sha256_password, sha256_password), "
            "declared: 1 sha256 password(s)"
        ]
    }
    assert up(engine) == [f"ALTER USER `app` IDENTIFIED WITH sha256_hash BY '{H1}'"]
    assert model.passwords("app") == [H1]


def test_a_legacy_user_mid_rotation_converges_to_exactly_the_declared_list(
    engine: Engine, model: ClickHouseModel
) -> None:
    # The old provider's rotation: current = the new hash, previous = the outgoing one, still accepted.
    started = {**USERS, "app": ([H1, H2], "read")}
    up(engine, started)
    legacy_state(engine, "app-user", H2, H1)
    assert engine.refresh() == {}  # both methods on the server, both in the (legacy) state
    assert engine.state["app-user"][2]["passwords_sha256_hex"] == [H1, H2]  # outgoing first, newest last
    # Without a refresh, from the legacy state: declaring both keeps both (no SQL) ...
    legacy_state(engine, "app-user", H2, H1)
    assert up(engine, started) == [] and engine.changed() == ["app-user"]
    # ... and declaring only the new one finishes the rotation with one reset to exactly that list.
    legacy_state(engine, "app-user", H2, H1)
    finished = {**USERS, "app": ([H2], "read")}
    assert up(engine, finished) == [f"ALTER USER `app` IDENTIFIED WITH sha256_hash BY '{H2}'"]
    assert model.passwords("app") == [H2]
    assert up(engine, finished) == [] and engine.changed() == []
    assert_exactly_declared(model, finished)


# --- every statement the runs above emitted parses with ClickHouse's parser; reads resolve ---------


def test_every_statement_parses_and_every_read_resolves_in_chdb() -> None:
    import json

    import chdb

    engine = Engine(ClickHouseModel(provisioner=False))
    up(engine)
    engine.model.seed("GRANT INSERT ON `other`.`t` TO `analytics_read`", "GRANT `analytics_write` TO `app`")
    up(engine)
    up(engine, {**USERS, "app": ([H1, H2], "read")})
    engine.refresh()
    statements = sorted(set(RUN))
    assert len(statements) >= 25
    array = "[" + ",".join("'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'" for s in statements) + "]"
    query: Any = chdb.query  # untyped
    result = query(
        "SELECT s, formatQuery(s) FROM (SELECT arrayJoin({statements:Array(String)}) AS s)",
        "JSONCompactEachRow",
        params={"statements": array},
    )
    rows = [json.loads(line) for line in str(result).splitlines() if line.strip()]
    assert sorted(row[0] for row in rows) == statements and all(row[1] for row in rows)
    reads = {sql: params for sql, params in engine.model.reads}
    assert len(reads) >= 12
    for sql, params in reads.items():
        assert str(query(f"DESCRIBE TABLE ({sql})", "TSVRaw", params=params)).strip(), sql
