"""A re-run of `make provisioner` leaves both users exactly as declared, whatever was granted by hand.

chdb cannot show it (its users.xml path ignores REPLACE, and it runs no GRANT), so the statements run
on tests.ch_model, which implements ClickHouse's REPLACE semantics as InterpreterGrantQuery does
(ops/provisioner_sql.py cites them): privileges WITH REPLACE OPTION replace all privileges; roles
WITH REPLACE OPTION replace all roles; roles WITH ADMIN OPTION WITH REPLACE OPTION only take the
admin option off the others.
"""

from __future__ import annotations

from ops import provisioner_sql
from settings.passwords import OBSERVER_USER, PROVISIONER_USER, sha256_hex
from tests.ch_model import ClickHouseModel

HEXES = {PROVISIONER_USER: sha256_hex("Pr0v-Passw0rd!one"), OBSERVER_USER: sha256_hex("0bs-Passw0rd!two")}
PROVISIONER_GRANTS = {
    "CREATE USER ON salla_*",
    "ALTER USER ON salla_*",
    "DROP USER ON salla_*",
    "CREATE ROLE ON analytics_*",
    "ALTER ROLE ON analytics_*",
    "DROP ROLE ON analytics_*",
    *(
        f"{access} ON *.*"
        for access in (
            "CREATE SETTINGS PROFILE",
            "ALTER SETTINGS PROFILE",
            "DROP SETTINGS PROFILE",
            "CREATE QUOTA",
            "ALTER QUOTA",
            "DROP QUOTA",
            "SHOW USERS",
            "SHOW ROLES",
            "SHOW SETTINGS PROFILES",
            "SHOW QUOTAS",
        )
    ),
    "CREATE DATABASE ON analytics.*",
    *(
        f"{access} ON analytics.* WITH GRANT OPTION"
        for access in ("SELECT", "INSERT", "CREATE TABLE", "ALTER TABLE", "DROP TABLE")
    ),
}
OBSERVER_GRANTS = {
    "SHOW USERS ON *.*",
    "SHOW ROLES ON *.*",
    "SHOW SETTINGS PROFILES ON *.*",
    "SHOW QUOTAS ON *.*",
    "SHOW DATABASES ON analytics.*",
}
# What someone granted by hand between two runs.
BY_HAND = (
    "CREATE ROLE IF NOT EXISTS default_role",
    "CREATE ROLE IF NOT EXISTS bi_role",
    "GRANT default_role TO provisioner",
    "GRANT bi_role TO provisioner WITH ADMIN OPTION",
    "GRANT SELECT ON other.* TO provisioner WITH GRANT OPTION",
    "GRANT CREATE USER, ALTER USER, DROP USER ON bi_tool TO provisioner",
    "GRANT ALTER USER ON * TO provisioner",
    "ALTER USER provisioner SETTINGS readonly = 1",
    "GRANT bi_role TO observer",
    "GRANT SELECT ON analytics.* TO observer",
    "ALTER USER observer SETTINGS readonly = 0",
)


def provision(model: ClickHouseModel, legacy: tuple[str, ...] = ()) -> None:
    for sql in provisioner_sql.statements("analytics", HEXES, legacy_users=legacy):
        model.command(sql)


def state(model: ClickHouseModel, user: str) -> tuple[dict[str, bool], set[str], list[object], bool]:
    found = model.users[user]
    return dict(found.roles), model.grants_of("user", user), list(found.settings), found.default_all


def declared() -> dict[str, object]:
    return {
        PROVISIONER_USER: ({"analytics_read": True, "analytics_write": True}, PROVISIONER_GRANTS, [], True),
        OBSERVER_USER: ({}, OBSERVER_GRANTS, [("readonly", "2", None, None, "CONST")], False),
    }


def test_a_first_run_declares_both_users_exactly() -> None:
    model = ClickHouseModel(provisioner=False)  # the statements run as the admin
    provision(model)
    assert {user: state(model, user) for user in declared()} == declared()
    assert model.passwords(PROVISIONER_USER) == [HEXES[PROVISIONER_USER]]
    assert model.roles == {"analytics_read", "analytics_write"}


def test_a_rerun_takes_away_whatever_was_granted_by_hand() -> None:
    model = ClickHouseModel(provisioner=False)
    provision(model)
    model.seed(*BY_HAND, f"ALTER USER provisioner ADD IDENTIFIED WITH sha256_hash BY '{'b' * 64}'")
    assert state(model, PROVISIONER_USER)[0]["default_role"] is False  # the seed took effect
    assert "SELECT ON other.* WITH GRANT OPTION" in model.grants_of("user", PROVISIONER_USER)
    provision(model)
    assert {user: state(model, user) for user in declared()} == declared()
    assert model.passwords(PROVISIONER_USER) == [HEXES[PROVISIONER_USER]]


def test_the_migration_grants_come_and_go_with_legacy() -> None:
    model = ClickHouseModel(provisioner=False)
    provision(model, ("app", "ai"))
    former = {f"{verb} USER ON {user}" for verb in ("CREATE", "ALTER", "DROP") for user in ("app", "ai")}
    assert model.grants_of("user", PROVISIONER_USER) == PROVISIONER_GRANTS | former
    provision(model)
    assert model.grants_of("user", PROVISIONER_USER) == PROVISIONER_GRANTS


def test_admin_option_with_replace_alone_would_keep_a_role_granted_by_hand() -> None:
    """Why the roles are replaced in two statements: the former single statement (WITH ADMIN OPTION
    WITH REPLACE OPTION) revokes only the admin option of the other roles (InterpreterGrantQuery)."""
    model = ClickHouseModel(provisioner=False)
    provision(model)
    model.seed(*BY_HAND[:4])
    model.command(
        "GRANT analytics_read, analytics_write TO provisioner WITH ADMIN OPTION WITH REPLACE OPTION"
    )
    assert model.users[PROVISIONER_USER].roles == {
        "analytics_read": True,
        "analytics_write": True,
        "default_role": False,  # still granted: the escalation a re-run did not take away
        "bi_role": False,
    }
    model.command("GRANT analytics_read, analytics_write TO provisioner WITH REPLACE OPTION")
    assert model.users[PROVISIONER_USER].roles == {"analytics_read": False, "analytics_write": False}
