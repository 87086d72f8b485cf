"""The two migrations of issue 19 done together, on a stack that still has
`clickhouseProvisionerPassword` and consumer SQL users with their former names (`app`):

- the configuration problem (settings/sql_login.py) and docs/sql-login.md name the same commands
  in the same order, and that order starts with `make provisioner ... LEGACY=1` (a plain run
  replaces the provisioner's grants and loses ALTER/DROP USER on the former users);
- if that step was skipped, the deploy that drops `app` fails with ACCESS_DENIED, and the
  provider's message names `LEGACY=1`, not the data privileges (which do not apply).

The deploy runs the real providers on tests/ch_model.py, with the provisioner's user grants as
`make provisioner` leaves them: ALTER/DROP USER only on `salla_*` (and, with LEGACY=1, on the former
names); tests/test_provisioner.py proves in chdb that ClickHouse refuses the rest with 497.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest

from clickhouse_sql import ClickHouseSQLError, client
from settings.consumers import SQL_NAMESPACE, sql_user_name
from tests.ch_model import ACCESS_DENIED, ClickHouseModel, ModelError
from tests.sql_engine import Engine, declare
from tests.test_sql_login import OLD_PASSWORD, P
from tools.harness import ROOT, Secret, run_program

# The commands both runbooks name, in the order they name them.
COMMANDS = re.compile(
    r"make provisioner STACK=[^\s`:,.]+(?P<legacy> LEGACY=1)?"
    r"|pulumi config (?P<config>get|rm)"
    r"|pulumi config set --path '(?P<set>consumers\.<name>\.legacySqlUser)' true"
    r"|(?P<up>pulumi up)\b"
)
ORDER = [
    "make provisioner LEGACY=1",  # first: grants on salla_* and on the former names
    "make provisioner",  # (the same step, for a stack without former names)
    "pulumi config get",  # (keeping the current password)
    "pulumi config rm",
    "legacySqlUser true",  # in the same commit as the rm
    "pulumi up",
    "make provisioner",  # last: without LEGACY, the migration grants go
]


def commands(text: str) -> list[str]:
    found = []
    for m in COMMANDS.finditer(text):
        if m["config"]:
            found.append(f"pulumi config {m['config']}")
        elif m["set"]:
            found.append("legacySqlUser true")
        elif m["up"]:
            found.append("pulumi up")
        else:
            found.append("make provisioner" + (" LEGACY=1" if m["legacy"] else ""))
    return found


def test_the_error_and_the_doc_name_the_same_steps_with_the_namespace_migration_first() -> None:
    run = run_program("prod", {f"{P}clickhouseProvisionerPassword": Secret(OLD_PASSWORD)})
    assert run.error is not None and OLD_PASSWORD not in run.error
    assert commands(run.error) == ORDER, run.error
    assert "docs/provisioning.md#migrating-to-the-salla_-namespace" in run.error
    doc = (ROOT / "docs" / "sql-login.md").read_text()
    section = doc[doc.index("## Migrating an existing stack") :]
    section = section[: section.index("\n## ", 1)]
    assert commands(section) == ORDER
    assert "(provisioning.md#migrating-to-the-salla_-namespace)" in section
    # The anchor exists: GitHub's slug of the heading.
    assert "\n## Migrating to the `salla_` namespace\n" in (ROOT / "docs" / "provisioning.md").read_text()


# -- skipping LEGACY=1: the provider's message says so -----------------------------------------------
USER_STATEMENT = re.compile(
    r"(?:(?:CREATE|ALTER|DROP) USER (?:IF (?:NOT )?EXISTS )?|SET DEFAULT ROLE .* TO )`?(\w+)`?"
)


class NamespaceGrants(ClickHouseModel):
    """The model, with the provisioner's user grants scoped to the namespace once `scoped`."""

    def __init__(self) -> None:
        super().__init__()
        self.scoped = False  # before: the former release's broad grants
        self.former: set[str] = set()  # the names LEGACY=1 grants

    def apply(self, sql: str) -> None:
        m = USER_STATEMENT.match(sql)
        if self.scoped and m and not m[1].startswith(SQL_NAMESPACE) and m[1] not in self.former:
            verb = sql.split(" IF ")[0].split(" `")[0]
            raise ModelError(
                ACCESS_DENIED,
                f"provisioner: Not enough privileges. To execute this query, it's necessary to have "
                f"the grant {verb} ON {m[1]}. (ACCESS_DENIED)",
            )
        super().apply(sql)


def _in_stack(decl: list[tuple[str, Any, dict[str, Any]]]) -> list[tuple[str, Any, dict[str, Any]]]:
    return [(name, cls, {**inputs, "stack": "prod"}) for name, cls, inputs in decl]


@pytest.mark.parametrize("legacy", [False, True], ids=["provisioner-without-LEGACY", "with-LEGACY"])
def test_dropping_a_former_user_without_the_migration_grants_names_legacy(legacy: bool) -> None:
    app = [hashlib.sha256(b"app-pw").hexdigest()]
    model = NamespaceGrants()
    engine = Engine(model)
    engine.up(_in_stack(declare({"app": (app, "read")})))  # the former release
    model.scoped = True  # `make provisioner STACK=prod`, with or without LEGACY=1
    model.former = {"app"} if legacy else set()
    # Create the new beside the old: no statement on `app`, so it passes either way.
    engine.up(
        _in_stack(declare({"salla_app": (app, "read"), "app": (app, "read")}, retiring=frozenset({"app"})))
    )
    drop = _in_stack(declare({"salla_app": (app, "read")}))
    if legacy:
        assert "DROP USER IF EXISTS `app`" in engine.up(drop) and "app" not in model.users
        return
    with pytest.raises(ClickHouseSQLError) as refused:
        engine.up(drop)
    message = str(refused.value)
    assert message.startswith("user `app`: ") and "error code 497" in message
    assert "`app` is outside the `salla_*` namespace" in message
    assert "run `make provisioner STACK=prod LEGACY=1`" in message
    assert "provisioning.md#migrating-to-the-salla_-namespace" in message
    assert "data privileges" not in message  # the other hint, which does not apply here
    assert "app" in model.users


def test_other_access_denied_errors_keep_the_data_privileges_hint() -> None:
    for label in ("user `salla_app`", "grant on `analytics`.* to role `analytics_read`", "role `x`"):
        assert client.access_denied_hint(label, "prod") == client.ACCESS_DENIED_HINT
    assert "LEGACY=1" in client.access_denied_hint("user `bi_tool`", None)
    assert "STACK=<stack> LEGACY=1" in client.access_denied_hint("user `bi_tool`", None)
    # The hint's namespace is the one the consumers' users are named in (defined once).
    assert client.access_denied_hint(f"user `{sql_user_name('app')}`", "prod") == client.ACCESS_DENIED_HINT
