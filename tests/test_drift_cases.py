"""The seeded drift cases (tests.drift_cases) against the stateful model: what `preview --refresh`
reports, what the CI deploys (refresh + up) run, that the repaired stack is exactly as declared and
that a no-op deploy then runs no SQL; and that docs/drift.md shows the table these cases generate.
Also the inventory's own rules: a create only lists, an update repairs only what a stored state
named, a shared profile loses only the consumers, a name no statement can carry is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from clickhouse_sql.client import ClickHouseSQLError
from clickhouse_sql.inventory import FOUND, REPAIR, AccessInventoryProvider
from clickhouse_sql.login import ClickHouseLoginError
from clickhouse_sql.role import RoleProvider
from tests import drift_cases, refresh_cost
from tests.ch_model import ClickHouseModel
from tests.drift_cases import (
    AI,
    APP,
    CASES,
    HASHES,
    PIPELINE,
    Case,
    declaration,
    deploy,
    preview_refresh,
    run,
)
from tests.sql_engine import Engine

ROOT = Path(__file__).resolve().parent.parent
STRAY = "salla_stray"

# The reader `ai`'s own profile and quota, as every convergence of its user re-creates them.
AI_LIMITS = [
    f"CREATE SETTINGS PROFILE OR REPLACE `{AI}_limits` SETTINGS readonly = 2 CONST, max_memory_usage = "
    f"4294967296 MIN 1 MAX 4294967296, max_execution_time = 60 MIN 1 MAX 60, max_result_rows = 1000000 "
    f"MIN 1 MAX 1000000 TO `{AI}`",
    f"CREATE QUOTA OR REPLACE `{AI}_quota` FOR INTERVAL 3600 second MAX queries = 10000, "
    f"read_rows = 10000000000 TO `{AI}`",
]

# The statements of the first deploy (refresh + up) after each seed, hashes as in the docs.
FIRST_DEPLOY = {
    CASES[0].title: ["REVOKE `analytics_write` FROM `backdoor`"],
    CASES[1].title: [f"REVOKE `analytics_write` FROM `{APP}`"],
    CASES[2].title: ["DROP SETTINGS PROFILE IF EXISTS `extra`"],
    CASES[3].title: ["DROP QUOTA IF EXISTS `extra`"],
    CASES[4].title: [
        f"CREATE USER `{AI}` IDENTIFIED WITH sha256_hash BY '{HASHES[AI]}' DEFAULT ROLE NONE",
        f"GRANT `analytics_read` TO `{AI}`",
        f"SET DEFAULT ROLE `analytics_read` TO `{AI}`",
        *AI_LIMITS,
    ],
    CASES[6].title: [
        f"ALTER USER `{AI}` IDENTIFIED WITH sha256_hash BY '{HASHES[AI]}'",
        f"REVOKE `analytics_write` FROM `{AI}`",
        f"GRANT `analytics_read` TO `{AI}`",
        f"SET DEFAULT ROLE `analytics_read` TO `{AI}`",
        *AI_LIMITS,
    ],
    CASES[7].title: [],  # listed only: dropped by the deploy after it (below)
}


def assert_exactly_declared(model: ClickHouseModel) -> None:
    """The namespace holds only the consumers, each with exactly its own role; no one else holds a
    project role (a hand-made user outside the namespace stays, without it); only their profiles/quotas."""
    assert {u for u in model.users if u.startswith("salla_")} == {APP, PIPELINE, AI}
    others = [u for u in model.users if u not in {APP, PIPELINE, AI}]
    assert all(set(model.users[u].roles).isdisjoint({"analytics_read", "analytics_write"}) for u in others)
    for user, access in ((APP, "read"), (PIPELINE, "write"), (AI, "read")):
        state = model.users[user]
        assert state.roles == {f"analytics_{access}": False} and state.default_list == [f"analytics_{access}"]
        assert [h for _, h in state.auth] == [HASHES[user]]
    assert set(model.profiles) == {f"{u}_limits" for u in (APP, PIPELINE, AI)}
    assert set(model.quotas) == {f"{u}_quota" for u in (APP, PIPELINE, AI)}
    assert all(profile.to == [name.removesuffix("_limits")] for name, profile in model.profiles.items())
    assert all(quota.to == [name.removesuffix("_quota")] for name, quota in model.quotas.items())


@pytest.mark.parametrize("case", CASES, ids=[c.title for c in CASES])
def test_a_seeded_case_is_reported_then_repaired_by_the_ci_deploy(case: Case) -> None:
    outcome, engine = run(case)
    assert outcome.preview, "preview --refresh must report the drift"
    if not case.converges:
        # Every deploy stops at the create, with one error naming the object and the config that adopts it.
        assert len(outcome.deploys) == drift_cases.DEPLOYS
        for ran in outcome.deploys:
            assert ran == [ran[-1]] and ran[-1].startswith(f"stops: user `{AI}` already exists")
            assert "has role analytics_write granted (not declared)" in ran[-1]
            assert "`consumers.ai.adopt: true`" in ran[-1] and no_hash_in(ran[-1])
        assert engine.model.users[AI].roles == {"analytics_write": False}  # untouched
        assert engine.model.passwords(AI) == [drift_cases.BY_HAND]
        return
    assert outcome.deploys[0] == FIRST_DEPLOY[case.title]
    assert outcome.settled_preview == [], "after the repair, preview --refresh finds nothing"
    assert_exactly_declared(engine.model)
    # A no-op deploy (refresh + up) runs no SQL DDL, and changes nothing in the state.
    before = len(engine.model.statements)
    assert deploy(engine, declaration(case.after, case.adopt)) == []
    assert engine.model.statements[before:] == [] and engine.changed() == []


def no_hash_in(text: str) -> bool:
    return drift_cases.BY_HAND not in text and all(h not in text for h in HASHES.values())


def test_an_undeclared_namespace_user_is_dropped_only_after_a_stored_refresh_named_it() -> None:
    outcome, engine = run(CASES[7])
    assert outcome.preview == [
        f"inventory: user {STRAY} is in the namespace salla_* but not declared: listed now; a later "
        "deploy whose refresh still finds it drops it (declare it to keep it)"
    ]
    assert outcome.deploys == [[], [f"DROP USER IF EXISTS `{STRAY}`"]]
    assert STRAY not in engine.model.users


def test_the_inventory_lists_at_create_and_repairs_only_what_a_stored_state_named() -> None:
    engine = Engine(ClickHouseModel())
    engine.model.seed(
        "CREATE ROLE IF NOT EXISTS `analytics_write`",
        f"CREATE USER `{STRAY}` IDENTIFIED WITH sha256_hash BY '{drift_cases.BY_HAND}'",
    )
    ran = engine.up(declaration())
    assert not [sql for sql in ran if STRAY in sql]  # the first inventory only lists
    assert engine.state["inventory"][2][FOUND] == [f"drop user {STRAY}"]
    # Granted by hand; an up without refresh: its update lists it, and repairs it only the next time.
    engine.model.seed(f"GRANT `analytics_write` TO `{STRAY}`")
    assert engine.up(declaration()) == []
    outs = engine.state["inventory"][2]
    assert outs[REPAIR] == [f"revoke analytics_write from user {STRAY}"]
    assert outs[FOUND] == [f"drop user {STRAY}"]
    assert engine.up(declaration()) == [
        f"REVOKE `analytics_write` FROM `{STRAY}`"
    ]  # named: no refresh needed
    assert deploy(engine, declaration()) == [f"DROP USER IF EXISTS `{STRAY}`"]
    assert deploy(engine, declaration()) == [] and preview_refresh(engine, declaration()) == []


def test_a_profile_shared_with_others_loses_only_the_consumers() -> None:
    engine = Engine(ClickHouseModel())
    engine.up(declaration())
    engine.model.seed(
        "CREATE USER `bi_tool` IDENTIFIED WITH sha256_hash BY '" + drift_cases.BY_HAND + "'",
        f"CREATE SETTINGS PROFILE OR REPLACE `shared` SETTINGS max_threads = 8 TO `{APP}`",
        f"ALTER SETTINGS PROFILE `shared` TO `bi_tool`, `{APP}`",
        "CREATE QUOTA OR REPLACE `everyone` FOR INTERVAL 60 second MAX queries = 5 TO `bi_tool`",
        "ALTER QUOTA `everyone` TO ALL EXCEPT `bi_tool`",
    )
    assert preview_refresh(engine, declaration()) == [
        f"inventory: settings profile shared applies to {APP} (not declared): it also applies to others, "
        f"so the next deploy takes {APP} out of it",
        "inventory: quota everyone applies to analytics_read, analytics_write, "
        f"{AI}, {APP}, {PIPELINE} (not declared): it also applies to others, so the next deploy takes "
        f"analytics_read, analytics_write, {AI}, {APP}, {PIPELINE} out of it",
    ]
    assert deploy(engine, declaration()) == [
        "ALTER SETTINGS PROFILE `shared` TO `bi_tool`",
        f"ALTER QUOTA `everyone` TO ALL EXCEPT `analytics_read`, `analytics_write`, `bi_tool`, `{AI}`, "
        f"`{APP}`, `{PIPELINE}`",
    ]
    assert engine.model.profiles["shared"].to == ["bi_tool"]  # bi_tool keeps what an admin gave it
    assert deploy(engine, declaration()) == []


def test_a_holder_whose_name_no_statement_can_carry_is_reported_not_repaired() -> None:
    engine = Engine(ClickHouseModel())
    engine.up(declaration())
    engine.model.seed(
        f"CREATE USER `BI-Tool` IDENTIFIED WITH sha256_hash BY '{drift_cases.BY_HAND}'",
        "GRANT `analytics_read` TO `BI-Tool`",
    )
    found = [
        "inventory: user BI-Tool holds role analytics_read (not declared): cannot be repaired "
        "automatically (a name outside ^[a-z][a-z0-9_]*$): an admin runs REVOKE analytics_read FROM "
        "BI-Tool in the SQL console"
    ]
    assert preview_refresh(engine, declaration()) == found
    assert deploy(engine, declaration()) == [] and preview_refresh(engine, declaration()) == found
    assert engine.state["inventory"][2][REPAIR] == []


def test_the_provisioning_user_holding_the_roles_is_not_drift() -> None:
    engine = Engine(ClickHouseModel())
    engine.model.seed(
        "CREATE ROLE IF NOT EXISTS `analytics_read`",
        "CREATE ROLE IF NOT EXISTS `analytics_write`",
        f"CREATE USER `provisioner` IDENTIFIED WITH sha256_hash BY '{drift_cases.BY_HAND}'",
        "GRANT `analytics_read` TO `provisioner` WITH ADMIN OPTION",
        "GRANT `analytics_write` TO `provisioner` WITH ADMIN OPTION",
    )
    engine.up(declaration())
    assert engine.state["inventory"][2]["drift"] == []
    assert preview_refresh(engine, declaration()) == [] and deploy(engine, declaration()) == []


def test_the_inventory_is_read_in_five_queries() -> None:
    engine = Engine(ClickHouseModel())
    engine.up(declaration())
    model = engine.model
    _cls, id_, outs = engine.state["inventory"]
    before = len(model.reads)
    AccessInventoryProvider(model.factory).read(id_, outs)
    assert len(model.reads) - before == 5


def test_a_refresh_of_the_prod_sql_objects_costs_15_connections_and_44_reads() -> None:
    # The figures docs/drift.md states (today's deploy, refresh off, reads nothing for them).
    reads, connections, per_kind = refresh_cost.counts()
    assert (connections, reads) == (15, 44)
    assert per_kind["access inventory"] == (1, 5) and per_kind["user"] == (3, 12)
    docs = (ROOT / "docs" / "drift.md").read_text()
    assert "15 connections and 44 reads" in docs


def test_docs_drift_shows_the_table_these_cases_generate() -> None:
    docs = (ROOT / "docs" / "drift.md").read_text()
    start, end = docs.index(drift_cases.START), docs.index(drift_cases.END) + len(drift_cases.END)
    assert docs[start:end] == drift_cases.section(), "regenerate: python -m tests.drift_cases"


def test_a_role_found_holding_something_stops_the_create_until_adopted() -> None:
    # `make provisioner` makes the roles empty (they converge); a role holding anything was not made so.
    engine = Engine(ClickHouseModel())
    engine.model.seed(
        "CREATE ROLE IF NOT EXISTS `analytics_read`", "CREATE ROLE IF NOT EXISTS `analytics_write`"
    )
    engine.model.seed("GRANT SELECT ON `analytics`.* TO `analytics_write`")
    decl = declaration()
    with pytest.raises(ClickHouseSQLError) as refused:
        engine.up(decl)
    text = str(refused.value)
    assert text.startswith("role `analytics_write` already exists on the server, but no state")
    assert "What differs from the declaration: holds GRANT SELECT ON `analytics`.*." in text
    assert "set `dataWarehouse.adoptRoles: true`" in text
    assert engine.model.statements == [
        "CREATE DATABASE IF NOT EXISTS `analytics`"
    ]  # the empty role converged
    for _name, cls, props in decl:
        if cls is RoleProvider:
            props["adopt"] = True
    engine.up(decl)
    assert engine.model.grants_of("role", "analytics_write") == {
        f"{p} ON analytics.*" for p in ("SELECT", "INSERT", "CREATE TABLE", "ALTER TABLE", "DROP TABLE")
    }
    assert deploy(engine, decl) == []


def test_a_user_create_that_fails_after_create_user_drops_it_again_so_the_next_up_needs_no_adopt() -> None:
    engine = Engine(ClickHouseModel())
    engine.up(declaration((APP, PIPELINE)))
    engine.model.fail_on = f"GRANT `analytics_read` TO `{AI}`"  # the link breaks after CREATE USER
    with pytest.raises(Exception, match=f"user `{AI}`: the connection .* failed during GRANT"):
        engine.up(declaration())
    assert engine.model.statements[-1] == f"DROP USER IF EXISTS `{AI}`" and AI not in engine.model.users
    engine.model.fail_on = None
    assert deploy(engine, declaration())[:1] == [
        f"CREATE USER `{AI}` IDENTIFIED WITH sha256_hash BY '{HASHES[AI]}' DEFAULT ROLE NONE"
    ]
    assert_exactly_declared(engine.model)
    assert deploy(engine, declaration()) == []


def test_the_observer_login_refreshes_the_inventory_and_a_repair_stops_before_any_sql(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As every SQL resource: the read-only `observer` (previews, plans, drift jobs) may refresh the
    inventory; its create, repairing update and delete are refused cleanly, before any connection."""
    _, engine = run(CASES[0])  # `backdoor` holds the writer role; repaired as `provisioner`
    engine.model.seed("GRANT `analytics_write` TO `backdoor`")
    monkeypatch.setenv("CLICKHOUSE_SQL_USER", "observer")
    monkeypatch.setenv("CLICKHOUSE_SQL_PASSWORD", "0bserver-Pw!")
    assert preview_refresh(engine, declaration()) == [
        "inventory: user backdoor holds role analytics_write (not declared): the next deploy revokes it"
    ]
    engine.refresh()  # stored: its repair is named
    provider = AccessInventoryProvider(engine.model.factory)
    _cls, id_, olds = engine.state["inventory"]
    connections, statements = engine.model.connections, len(engine.model.statements)
    for attempt, verb in (
        (lambda: provider.update(id_, olds, dict(olds)), "update"),
        (lambda: provider.create(dict(olds)), "create"),
        (lambda: provider.delete(id_, olds), "delete"),
    ):
        with pytest.raises(ClickHouseLoginError) as err:
            attempt()
        assert str(err.value).startswith(f"access inventory `analytics`: {verb} refused: ")
        assert "CLICKHOUSE_SQL_USER=observer is the read-only login" in str(err.value)
    assert (engine.model.connections, len(engine.model.statements)) == (connections, statements)
    assert "analytics_write" in engine.model.users["backdoor"].roles
