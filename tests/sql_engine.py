"""A minimal engine for the SQL providers: declare resources, then `up` and `refresh` them the way
the Pulumi engine drives a dynamic provider (check -> diff -> create/update/replace/delete; read),
with the real provider methods, against tests.ch_model. Used by the converge/drift/rotation tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from clickhouse_sql.base import PreciseDiff, SqlProvider
from clickhouse_sql.database import DatabaseProvider
from clickhouse_sql.grant import GrantProvider
from clickhouse_sql.quota import QuotaProvider
from clickhouse_sql.role import RoleProvider
from clickhouse_sql.settings_profile import SettingsProfileProvider
from clickhouse_sql.user import UserProvider
from tests.ch_model import ClickHouseModel

HOST = "abc123xyz.us-east-1.aws.clickhouse.cloud"
# The endpoint only: the login comes from the environment (tests/conftest.py, tests/sql_login_env.py).
CONNECTION: dict[str, Any] = {"host": HOST, "port": 8443.0}
WRITE = ["SELECT", "INSERT", "CREATE TABLE", "ALTER TABLE", "DROP TABLE"]
READ_SETTINGS = [
    {"name": "readonly", "value": 2, "const": True},
    {"name": "max_memory_usage", "value": 4 * 1024**3, "min": 1, "max": 4 * 1024**3},
    {"name": "max_execution_time", "value": 60, "min": 1, "max": 60},
    {"name": "max_result_rows", "value": 1_000_000, "min": 1, "max": 1_000_000},
]
WRITE_SETTINGS = [
    {"name": "max_memory_usage", "value": 16 * 1024**3, "min": 1, "max": 16 * 1024**3},
    {"name": "max_execution_time", "value": 1800, "min": 1, "max": 1800},
]


def declare(
    users: Mapping[str, tuple[list[str], str]],
    retiring: frozenset[str] = frozenset(),
    adopt: frozenset[str] = frozenset(),
) -> list[tuple[str, type[SqlProvider], dict[str, Any]]]:
    """What WarehouseAccess declares: users = {user: (password hashes, access)}; the users in
    `retiring` are marked `retire: true` (their user, profile and quota get `retiring: true`), the
    users in `adopt` `adopt: true` (their user, profile and quota get `adopt: true`)."""
    c = dict(CONNECTION)
    decl: list[tuple[str, type[SqlProvider], dict[str, Any]]] = [
        ("database", DatabaseProvider, {"name": "analytics", "connection": c}),
        (
            "role-read",
            RoleProvider,
            {"name": "analytics_read", "databases": ["analytics"], "connection": c},
        ),
        (
            "role-write",
            RoleProvider,
            {"name": "analytics_write", "databases": ["analytics"], "connection": c},
        ),
        (
            "grant-read",
            GrantProvider,
            {"role": "analytics_read", "database": "analytics", "privileges": ["SELECT"], "connection": c},
        ),
        (
            "grant-write",
            GrantProvider,
            {"role": "analytics_write", "database": "analytics", "privileges": WRITE, "connection": c},
        ),
    ]
    for user, (hashes, access) in users.items():
        read = access == "read"
        decl += [
            (
                f"{user}-user",
                UserProvider,
                {
                    "name": user,
                    "passwords_sha256_hex": list(hashes),
                    "default_role": f"analytics_{access}",
                    "connection": c,
                    "retiring": user in retiring,
                    "adopt": user in adopt,
                    "adopt_with": f"consumers.{user}.adopt",
                },
            ),
            (
                f"{user}-limits",
                SettingsProfileProvider,
                {
                    "name": f"{user}_limits",
                    "user": user,
                    "settings": READ_SETTINGS if read else WRITE_SETTINGS,
                    "limits_source": "defaults",
                    "connection": c,
                    "retiring": user in retiring,
                    "adopt": user in adopt,
                    "adopt_with": f"consumers.{user}.adopt",
                },
            ),
            (
                f"{user}-quota",
                QuotaProvider,
                {
                    "name": f"{user}_quota",
                    "user": user,
                    "interval_seconds": 3600.0,
                    "limits": {
                        "queries": 10_000.0 if read else 50_000.0,
                        "read_rows": 1e10 if read else 1e11,
                    },
                    "limits_source": "defaults",
                    "connection": c,
                    "retiring": user in retiring,
                    "adopt": user in adopt,
                    "adopt_with": f"consumers.{user}.adopt",
                },
            ),
        ]
    return decl


@dataclass
class Engine:
    model: ClickHouseModel
    state: dict[str, tuple[type[SqlProvider], str, dict[str, Any]]] = field(default_factory=dict)
    diffs: dict[str, PreciseDiff] = field(default_factory=dict)

    def provider(self, cls: type[SqlProvider]) -> SqlProvider:
        return cls(self.model.factory)

    def up(self, declared: list[tuple[str, type[SqlProvider], dict[str, Any]]]) -> list[str]:
        """One `pulumi up` (refresh off); returns the statements it ran."""
        before = len(self.model.statements)
        self.diffs = {}
        names = {name for name, _, _ in declared}
        for name in [n for n in reversed(list(self.state)) if n not in names]:
            cls, id_, outs = self.state.pop(name)
            self.provider(cls).delete(id_, outs)
        for name, cls, inputs in declared:
            provider = self.provider(cls)
            checked = provider.check({}, inputs)
            assert not checked.failures, checked.failures
            news = dict(checked.inputs or {})
            if name not in self.state:
                created = provider.create(news)
                self.state[name] = (cls, created.id, dict(created.outs or {}))
                continue
            _, id_, olds = self.state[name]
            diff = provider.diff(id_, olds, news)
            assert isinstance(diff, PreciseDiff)
            self.diffs[name] = diff
            if not diff.changes:
                continue
            if diff.replaces:
                provider.delete(id_, olds)
                created = provider.create(news)
                self.state[name] = (cls, created.id, dict(created.outs or {}))
            else:
                updated = provider.update(id_, olds, news)
                self.state[name] = (cls, id_, dict(updated.outs or {}))
        return self.model.statements[before:]

    def refresh(self) -> dict[str, list[str]]:
        """`pulumi refresh`: read every resource; returns the drift each one reports (gone: ["gone"])."""
        found: dict[str, list[str]] = {}
        for name, (cls, id_, outs) in list(self.state.items()):
            read = self.provider(cls).read(id_, outs)
            if not read.id:
                del self.state[name]
                found[name] = ["gone"]
                continue
            self.state[name] = (cls, read.id, dict(read.outs or {}))
            if read.outs and read.outs.get("drift"):
                found[name] = list(read.outs["drift"])
        return found

    def changed(self) -> list[str]:
        return sorted(name for name, diff in self.diffs.items() if diff.changes)
