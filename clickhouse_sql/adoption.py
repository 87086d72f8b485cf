"""No silent adoption: a create that finds its object already on the server stops, unless adopted.

A create runs when no state holds the resource. If the object exists anyway, this stack did not
make it: it was made by hand, by another tool or stack, or this stack's state was lost. Converging
it would silently reset it to the declaration (a hand-managed user's password replaced, its roles
revoked) and make it this stack's (removing the consumer later drops it). So the create stops with
one clean error that names the object, what differs from the declaration, and the explicit config
that adopts it (`consumers.<name>.adopt: true`, passed to the resource as `adopt`, with the config
path as `adopt_with`). An adopted object is converged as declared, like any update.

The one object this project makes outside `pulumi up` is a role: `make provisioner` creates the
project's roles empty (no privileges, no granted roles, no settings) before the first `up`, so a
role found exactly in that state is this project's own (`SqlProvider.pristine`); one that holds
anything is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from clickhouse_sql import client

if TYPE_CHECKING:
    from clickhouse_sql.base import SqlProvider

ADOPT = "adopt"  # input: take over an object found at create (explicit, from settings)
ADOPT_WITH = "adopt_with"  # input (informational, never diffed): the config path that sets `adopt`
UNREADABLE = {
    "user": "its password cannot be read back (ClickHouse returns no hash); adopting replaces it "
    "with the consumer's generated one",
}


def inputs(adopt: bool, adopt_with: str) -> dict[str, Any]:
    """The resource inputs; `adopt_with` only names the config path in the error (never diffed)."""
    return {ADOPT: bool(adopt), ADOPT_WITH: str(adopt_with)}


def differences(provider: SqlProvider, live: Any, p: Mapping[str, Any]) -> list[str]:
    """What an adoption would change: the drift against the declaration, and what cannot be compared."""
    found = list(provider.drift(live, p))
    if provider.kind == "role":  # its privileges on the managed databases belong to Grants, not drift
        managed = set(p.get("databases") or [])
        found += [f"holds {priv.describe()}" for priv in live.privileges if priv.database in managed]
    if provider.kind in UNREADABLE:
        found.append(UNREADABLE[provider.kind])
    return found


def message(provider: SqlProvider, live: Any, p: Mapping[str, Any]) -> str:
    label = provider.label(p)
    shown = "; ".join(differences(provider, live, p)) or "nothing visible"
    path = p.get(ADOPT_WITH)
    if isinstance(path, str) and path:
        fix = (
            f"to take it over on purpose, set `{path}: true` (pulumi config set --path '{path}' true) "
            "and run `pulumi up` again: it is then converged as declared, and removing the consumer "
            "later drops it; otherwise rename the consumer, or have an admin drop the object"
        )
    else:
        fix = (
            "an admin revokes what differs in the SQL console (or drops it and re-runs `make "
            "provisioner`, which makes the project's roles empty), then `pulumi up` again"
        )
    if provider.kind == "role" and path:
        fix = (
            f"if this project made it (e.g. this stack's state was lost), set `{path}: true` (pulumi "
            f"config set --path '{path}' true) and run `pulumi up` again: it is then converged as "
            "declared (privileges elsewhere revoked, its Grants re-applied); otherwise an admin "
            "revokes what differs in the SQL console, or drops it and re-runs `make provisioner`"
        )
    return (
        f"{label} already exists on the server, but no state of this stack holds it (made by hand, "
        f"by another tool or stack, or this stack's state was lost), so the create stopped and "
        f"changed nothing. What differs from the declaration: {shown}. Fix: {fix}."
    )


def check(provider: SqlProvider, live: Any, p: Mapping[str, Any]) -> None:
    """Raise one clean ClickHouseSQLError unless the found object may be converged."""
    if not provider.adoptable or bool(p.get(ADOPT)) or provider.pristine(live, p):
        return
    raise client.ClickHouseSQLError(message(provider, live, p), None)
