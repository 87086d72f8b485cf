"""The namespace migration (`legacySqlUser`, docs/provisioning.md) with the access inventory, on the
stateful model with the real providers, deployed as CI deploys (refresh, then up):

- step 1 (key set): `salla_app` is created beside the former `app`, whose objects are in the state
  already under their former resource names, so no create runs for them and adoption never stops
  the deploy; the inventory counts the former objects as declared, so it reports nothing and
  revokes nothing from `app` while consumers still use it;
- step 2 (key removed): the former objects are dropped; the inventory, updated before Pulumi runs
  the deletes, repairs nothing it was not told about, and the next refresh finds nothing.
"""

from __future__ import annotations

import hashlib
from typing import Any

from clickhouse_sql.base import SqlProvider
from clickhouse_sql.inventory import AccessInventoryProvider
from settings.consumers import SQL_NAMESPACE
from tests.ch_model import ClickHouseModel
from tests.drift_cases import deploy, preview_refresh
from tests.sql_engine import CONNECTION, Engine, declare

Declaration = list[tuple[str, type[SqlProvider], dict[str, Any]]]

NEW, FORMER = "salla_app", "app"
PASSWORD = [hashlib.sha256(b"app-password").hexdigest()]


def inventory(users: list[str]) -> tuple[str, type[SqlProvider], dict[str, Any]]:
    """The inventory WarehouseAccess declares for these users (their profiles and quotas too)."""
    return (
        "inventory",
        AccessInventoryProvider,
        {
            "name": "analytics",
            "roles": ["analytics_read", "analytics_write"],
            "namespace": SQL_NAMESPACE,
            "users": users,
            "profiles": [f"{u}_limits" for u in users],
            "quotas": [f"{u}_quota" for u in users],
            "operators": ["provisioner"],
            "connection": dict(CONNECTION),
        },
    )


def step_one(declared_to_inventory: list[str]) -> Declaration:
    """`legacySqlUser: true`: the new user, the former one (retiring), and the inventory."""
    users = {NEW: (PASSWORD, "read"), FORMER: (PASSWORD, "read")}
    return [*declare(users, retiring=frozenset({FORMER})), inventory(declared_to_inventory)]


def migrated_stack() -> Engine:
    """A stack deployed before the namespace: the consumer's user was `app` (no inventory yet)."""
    engine = Engine(ClickHouseModel())
    engine.up(declare({FORMER: (PASSWORD, "read")}))
    return engine


def test_step_one_creates_only_the_new_objects_and_the_inventory_reports_nothing() -> None:
    engine = migrated_stack()
    decl = step_one([FORMER, NEW])  # what the component declares (tests/test_access_inventory_program)
    first = deploy(engine, decl)
    assert not [sql for sql in first if sql.startswith("stops:")], first  # no adoption error
    assert [sql for sql in first if f"`{FORMER}" in sql] == []  # the former objects: no statement
    assert engine.model.users[FORMER].roles == {"analytics_read": False}
    assert {NEW, FORMER} <= set(engine.model.users)
    # The former objects were updated (their flag), never created: adoption had nothing to check.
    assert {name for name in engine.diffs if name.startswith(f"{FORMER}-")} == {
        f"{FORMER}-user",
        f"{FORMER}-limits",
        f"{FORMER}-quota",
    }
    # The inventory finds nothing, and the next CI deploys run no SQL at all.
    assert preview_refresh(engine, decl) == []
    assert engine.state["inventory"][2]["drift"] == []
    assert deploy(engine, decl) == [] and deploy(engine, decl) == []
    assert engine.model.users[FORMER].roles == {"analytics_read": False}
    assert engine.model.profiles[f"{FORMER}_limits"].to == [FORMER]
    assert engine.model.quotas[f"{FORMER}_quota"].to == [FORMER]


def test_without_the_former_objects_declared_the_inventory_would_revoke_the_role_from_app() -> None:
    """The control: why WarehouseAccess gives the inventory the former names too."""
    engine = migrated_stack()
    decl = step_one([NEW])
    deploy(engine, decl)
    assert any(
        line.startswith(f"inventory: user {FORMER} holds role analytics_read")
        for line in preview_refresh(engine, decl)
    )
    assert f"REVOKE `analytics_read` FROM `{FORMER}`" in deploy(engine, decl)
    assert engine.model.users[FORMER].roles == {}


def test_step_two_drops_the_former_objects_and_the_inventory_repairs_nothing_it_was_not_told() -> None:
    engine = migrated_stack()
    deploy(engine, step_one([FORMER, NEW]))
    deploy(engine, step_one([FORMER, NEW]))
    step_two = [*declare({NEW: (PASSWORD, "read")}), inventory([NEW])]
    # As Pulumi orders it: updates first (the inventory's `users` changed), the removed resources'
    # deletes last. The update sees `app` still holding its role: stored as drift, nothing run.
    engine.refresh()
    ran = len(engine.model.statements)
    provider = AccessInventoryProvider(engine.model.factory)
    _cls, id_, olds = engine.state["inventory"]
    news = dict(provider.check({}, step_two[-1][2]).inputs or {})
    updated = provider.update(id_, olds, news)
    assert engine.model.statements[ran:] == []
    engine.state["inventory"] = (AccessInventoryProvider, id_, dict(updated.outs or {}))
    for name in [n for n in reversed(list(engine.state)) if n.startswith(f"{FORMER}-")]:
        cls, id_, outs = engine.state.pop(name)
        cls(engine.model.factory).delete(id_, outs)
    assert set(engine.model.users) == {NEW} and set(engine.model.profiles) == {f"{NEW}_limits"}
    assert set(engine.model.quotas) == {f"{NEW}_quota"}
    # The next refresh finds nothing; the CI deploy after it runs no SQL.
    assert preview_refresh(engine, step_two) == []
    assert deploy(engine, step_two) == []
