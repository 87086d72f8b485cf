"""The ClickHouse access policies: prod keeps every SQL object and password, and states its limits.

Cases come from the real program with an overridden stack config, evaluated by the real pack
(tools.policy_eval); resources are hand-built only where the program refuses to produce the case.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import pytest

from policy.guardrails import POLICIES
from tests.ch_model import ClickHouseModel
from tests.helpers import run_ok, stack_value
from tests.sql_engine import Engine, declare
from tests.test_policies import UNKNOWN_STRING, findings, hand_built, violations
from tools.harness import Registration
from tools.policy_config import PolicyConfigError, load_policy_config, resolve
from tools.policy_eval import check_stack

POLICY = {p.name: p for p in POLICIES}
SQL = "pulumi-python:dynamic/clickhouse:"
USER, PROFILE, QUOTA, GRANT = (SQL + k for k in ("User", "SettingsProfile", "Quota", "Grant"))
PASSWORD = "random:index/randomPassword:RandomPassword"
IN_ACCESS = "salla:analytics:WarehouseAccess$"
ACCESS_POLICIES = (
    "clickhouse-access-protected",
    "clickhouse-passwords-protected",
    "clickhouse-consumer-limits",
)


def _by_policy(found: list[Any]) -> dict[str, list[str]]:
    return {p: sorted(f.resource for f in violations(found, p)) for p in ACCESS_POLICIES}


def test_prod_without_protect_is_blocked_for_every_sql_object_and_password() -> None:
    found = findings("prod", {"protect": False})
    run = run_ok("prod", {"protect": False})
    # The access inventory owns no object (its delete runs no SQL): not among the protected objects.
    sql = sorted(
        r.name for r in run.resources if r.type.startswith(SQL) and not r.name.endswith("-inventory")
    )
    passwords = sorted(r.name for r in run.of_type(PASSWORD))
    assert len(sql) == 14 and len(passwords) == 3  # database, 2 roles, 2 grants, 3 x (user, profile, quota)
    assert _by_policy(found) == {
        "clickhouse-access-protected": sql,
        "clickhouse-passwords-protected": passwords,
        "clickhouse-consumer-limits": [],
    }
    assert all(f.level == "mandatory" for f in found)
    # Dev's policy config asks for neither.
    assert _by_policy(findings("dev")) == {key: [] for key in ACCESS_POLICIES}


def test_a_retiring_consumer_may_be_unprotected_and_no_one_else() -> None:
    consumers = stack_value("prod", "consumers")
    consumers["ai"]["retire"] = True
    consumers["ai"]["passwords"] = ["initial", "2026-11"]  # mid-rotation: both passwords lose protect
    assert findings("prod", {"consumers": consumers}) == []
    # Without the marker the same unprotected user is blocked, in prod only.
    props = {"name": "ai", "retiring": False}
    blocked = hand_built("clickhouse-access-protected", USER, props, type_chain=IN_ACCESS)
    assert [(f.level, f.message.split(":")[0]) for f in blocked] == [
        ("mandatory", "Production ClickHouse User must be protected (protect")
    ]
    assert "retire: true" in blocked[0].message
    assert hand_built("clickhouse-access-protected", USER, {**props, "retiring": True}) == []
    assert hand_built("clickhouse-access-protected", USER, props, protect=True) == []
    assert hand_built("clickhouse-access-protected", USER, props, stack="dev") == []
    # Roles and grants have no retiring path: any unprotected one is blocked.
    assert hand_built("clickhouse-access-protected", GRANT, {"role": "analytics_read", "retiring": False})


def _reg(
    type_: str, name: str, protect: bool, chain: str = IN_ACCESS, retiring: object = False
) -> Registration:
    return Registration(
        urn=f"urn:pulumi:prod::salla-analytics-infra::{chain}{type_}::{name}",
        id=f"{name}-id",
        type=type_,
        name=name,
        custom=True,
        parent="",
        provider="",
        protect=protect,
        inputs={},
        wire_inputs={},
        secret_inputs=frozenset(),
        state={},
        wire_state={"retiring": retiring} if type_ == USER else {},  # stack policies get outputs
    )


def _password_findings(resources: list[Registration], stack: str = "prod") -> list[tuple[str, str]]:
    policy = "clickhouse-passwords-protected"
    settings = resolve(POLICIES, load_policy_config(stack))[policy]
    return [(f.resource, f.message) for f in check_stack(POLICY[policy], settings, resources)]


def test_a_password_is_unprotected_only_with_its_retiring_user() -> None:
    app_user = _reg(USER, "warehouse-access-app-user", protect=True)
    old = _reg(PASSWORD, "warehouse-access-app-password", protect=False)
    new = _reg(PASSWORD, "warehouse-access-app-password-2026-11", protect=False)
    found = _password_findings([app_user, old, new])
    assert [resource for resource, _ in found] == [old.name, new.name]
    assert "(warehouse-access-app-user: not retiring)" in found[0][1]
    # A rotation in progress: the outgoing password may be unprotected while the other one is not.
    assert _password_findings([app_user, old, dataclasses.replace(new, protect=True)]) == []
    assert [r for r, _ in _password_findings([app_user, old])] == [old.name]  # its only password
    # The user retiring (unprotected, retiring): its passwords may go; dev never asks.
    retiring = _reg(USER, app_user.name, protect=False, retiring=True)
    assert _password_findings([retiring, old, new]) == []
    assert _password_findings([app_user, old, new], stack="dev") == []
    # Unprotected but not retiring (blocked itself by clickhouse-access-protected): still blocked.
    assert len(_password_findings([dataclasses.replace(app_user, protect=False), old, new])) == 2
    # Unknown in preview: the user's protect decides (its own input is checked on the user).
    unknown = _reg(USER, app_user.name, protect=False, retiring=UNKNOWN_STRING)
    assert _password_findings([unknown, old]) == []
    # A password that belongs to no user, and passwords outside WarehouseAccess.
    orphan = _password_findings([retiring, _reg(PASSWORD, "warehouse-access-ai-password", protect=False)])
    assert [r for r, m in orphan if "belongs to no ClickHouse user" in m] == ["warehouse-access-ai-password"]
    assert _password_findings([_reg(PASSWORD, "elsewhere-password", protect=False, chain="")]) == []


def test_retire_step_one_passes_with_the_outputs_the_provider_stores() -> None:
    """Step 1 of removing a consumer, end to end: the user's outputs come from the real UserProvider
    driven like the engine (an unchanged diff keeps the old outputs), not from a hand-built state."""
    engine = Engine(ClickHouseModel())
    consumers = {"app": ([hashlib.sha256(b"app-pw").hexdigest()], "read")}
    engine.up(declare(consumers))
    engine.up(declare(consumers, retiring=frozenset({"app"})))
    outputs = engine.state["app-user"][2]
    user = _reg(USER, "warehouse-access-app-user", protect=False, retiring=outputs["retiring"])
    password = _reg(PASSWORD, "warehouse-access-app-password", protect=False)
    assert _password_findings([user, password]) == []  # before the fix: refused on every run
    assert outputs["retiring"] is True


def test_a_password_pairs_with_the_user_of_the_longest_consumer_name() -> None:
    # Consumers `app` (protected) and `app-password-x` (retiring): names share a prefix.
    app = _reg(USER, "warehouse-access-app-user", protect=True)
    other = _reg(USER, "warehouse-access-app-password-x-user", protect=False, retiring=True)
    password = _reg(PASSWORD, "warehouse-access-app-password-x-password", protect=False)
    assert _password_findings([app, other, password]) == []
    assert [r for r, _ in _password_findings([app, password])] == [password.name]


def test_during_the_namespace_migration_the_namespaced_user_owns_the_passwords() -> None:
    # `legacySqlUser: true`: the former user (unprotected, retiring) and the namespaced one share them.
    new = _reg(USER, "warehouse-access-app-sql-user", protect=True)
    former = _reg(USER, "warehouse-access-app-user", protect=False, retiring=True)
    password = _reg(PASSWORD, "warehouse-access-app-password", protect=True)
    rotating = _reg(PASSWORD, "warehouse-access-app-password-2026-11", protect=False)
    assert _password_findings([former, new, password, rotating]) == []
    assert _password_findings([new, former, password, rotating]) == []
    # Owned by the namespaced user: both unprotected is refused, although the former one retires.
    both = [former, new, dataclasses.replace(password, protect=False), rotating]
    assert [r for r, _ in _password_findings(both)] == [password.name, rotating.name]


def test_prod_consumer_without_explicit_limits_is_blocked() -> None:
    consumers = stack_value("prod", "consumers")
    del consumers["ai"]["limits"]
    consumers["app"]["limits"].pop("maxResultRows")  # one key from the defaults is not "set"
    found = findings("prod", {"consumers": consumers})
    assert _by_policy(found)["clickhouse-consumer-limits"] == [
        "warehouse-access-ai-sql-limits",
        "warehouse-access-ai-sql-quota",
        "warehouse-access-app-sql-limits",
        "warehouse-access-app-sql-quota",
    ]
    assert [f.policy for f in found] == ["clickhouse-consumer-limits"] * 4
    message = next(f.message for f in found if f.resource == "warehouse-access-ai-sql-quota")
    assert message.startswith("ClickHouse quota 'salla_ai_quota' takes limits from the access defaults")
    assert "queriesPerHour" in message


def test_dev_may_use_the_default_limits_but_not_under_prods_policy_config() -> None:
    run = run_ok("dev")
    assert {r.inputs["limits_source"] for r in [*run.of_type(PROFILE), *run.of_type(QUOTA)]} == {"defaults"}
    assert violations(findings("dev"), "clickhouse-consumer-limits") == []
    assert len(violations(findings("dev", policy_stack="prod"), "clickhouse-consumer-limits")) == 6


def test_committed_prod_states_every_limit_of_every_consumer() -> None:
    run = run_ok("prod")
    limited = [*run.of_type(PROFILE), *run.of_type(QUOTA)]
    assert len(limited) == 6 and {r.inputs["limits_source"] for r in limited} == {"config"}


@pytest.mark.parametrize(
    ("policy", "type_", "props"),
    [
        ("clickhouse-consumer-limits", QUOTA, {"name": "ai_quota", "limits_source": UNKNOWN_STRING}),
        ("clickhouse-access-protected", USER, {"name": "ai", "retiring": UNKNOWN_STRING}),
    ],
)
def test_unknown_values_yield_the_advisory(policy: str, type_: str, props: dict[str, Any]) -> None:
    found = hand_built(policy, type_, props)
    assert [(f.level, f.message.split(":")[0]) for f in found] == [("advisory", "can't run during preview")]


def test_policy_config_of_the_access_policies_is_validated() -> None:
    prod = resolve(POLICIES, load_policy_config("prod"))
    assert prod["clickhouse-consumer-limits"].config == {"requireConsumerLimits": True}
    assert resolve(POLICIES, load_policy_config("dev"))["clickhouse-access-protected"].config == {
        "requireProtect": False
    }
    with pytest.raises(PolicyConfigError) as err:
        resolve(POLICIES, {"clickhouse-consumer-limits": {"requireConsumerLimits": "yes"}})
    assert "clickhouse-consumer-limits.requireConsumerLimits = 'yes': 'yes' is not of type 'boolean'" in str(
        err.value
    )


def test_a_prod_rotation_unprotects_only_the_outgoing_password_and_passes_the_pack() -> None:
    """Finishing a rotation deletes the outgoing password: only it may (and must) lose protect."""
    consumers = stack_value("prod", "consumers")
    consumers["app"]["passwords"] = ["initial", "2026-12"]
    run = run_ok("prod", {"consumers": consumers})
    protect = {r.name: r.protect for r in run.resources if r.type == PASSWORD and "-app-" in r.name}
    assert protect == {"warehouse-access-app-password": False, "warehouse-access-app-password-2026-12": True}
    assert all(r.protect for r in run.resources if r.type == PASSWORD and "-app-" not in r.name)
    assert findings("prod", {"consumers": consumers}) == []
