"""Database: `CREATE DATABASE IF NOT EXISTS`; never dropped (retain_on_delete, and delete runs no SQL)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from clickhouse_sql import queries, statements
from clickhouse_sql.base import SqlProvider
from clickhouse_sql.client import Session


class DatabaseProvider(SqlProvider):
    """A database. Only its existence is managed (its tables belong to the consumers)."""

    kind = "database"
    keys = ("name", "connection")
    identity = ("name",)
    mutable = ()
    validators: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "name": lambda v: statements.identifier(v, "database name")
    }

    def observe(self, sql: Session, p: Mapping[str, Any]) -> bool | None:
        return True if sql.rows(queries.database_exists(p["name"])) else None

    def converge(self, live: Any, p: Mapping[str, Any], olds: Mapping[str, Any] | None) -> list[str]:
        return [] if live else [statements.create_database(p["name"])]

    def drift(self, live: Any, p: Mapping[str, Any]) -> list[str]:
        return []
