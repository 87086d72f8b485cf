"""Quota: a consumer's quota, exactly `MAX queries = q, read_rows = r` per interval, applied to one user."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from clickhouse_sql import queries, statements
from clickhouse_sql.base import RETIRING, SqlProvider
from clickhouse_sql.client import Session
from clickhouse_sql.profiles import Applies
from clickhouse_sql.settings_profile import source
from dynamic_props import plain

# system.quota_limits columns after duration and is_randomized_interval (queries.QUOTA_LIMIT_COLUMNS)
LIMIT_COLUMNS = (
    "queries",
    "query_selects",
    "query_inserts",
    "errors",
    "result_rows",
    "result_bytes",
    "read_rows",
    "read_bytes",
    "execution_time",
    "written_bytes",
)


def interval(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) or value < 1:
        raise ValueError(f"interval_seconds must be a whole number of seconds >= 1, got {value!r}")
    return int(value)


def limits(value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping) or set(value) != set(statements.QUOTA_LIMITS):
        raise ValueError(f"limits must set exactly {list(statements.QUOTA_LIMITS)}")
    normal = {}
    for key in statements.QUOTA_LIMITS:
        v = value[key]
        if isinstance(v, bool) or not isinstance(v, int | float) or v != int(v) or v < 1:
            raise ValueError(f"limits.{key} must be a whole number >= 1, got {v!r}")
        normal[key] = int(v)
    return normal


@dataclass(frozen=True)
class LiveQuota:
    keyed: tuple[str, ...]
    applies: Applies
    intervals: tuple[tuple[int, bool, tuple[tuple[str, float], ...]], ...]  # duration, randomized, maxima


class QuotaProvider(SqlProvider):
    """`CREATE QUOTA OR REPLACE <name> FOR INTERVAL n second MAX ... TO <user>`, only when it differs."""

    kind = "quota"
    keys = ("name", "user", "interval_seconds", "limits", "limits_source", "connection")
    identity = ("name",)
    mutable = ("user", "interval_seconds", "limits")
    flags = (RETIRING,)
    delete_before_replace = True
    adoptable = True
    validators: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "name": lambda v: statements.identifier(v, "quota name"),
        "user": lambda v: statements.identifier(v, "user name"),
        "interval_seconds": interval,
        "limits": limits,
        "limits_source": source,
    }

    def observe(self, sql: Session, p: Mapping[str, Any]) -> LiveQuota | None:
        rows = sql.rows(queries.quota(p["name"]))
        if not rows:
            return None
        keyed, _durations, *applies = rows[0]
        intervals = tuple(
            (
                int(row[0]),
                bool(row[1]),
                tuple((k, float(v)) for k, v in zip(LIMIT_COLUMNS, row[2:], strict=True) if v is not None),
            )
            for row in sql.rows(queries.quota_limits(p["name"]))
        )
        return LiveQuota(tuple(map(str, keyed or [])), Applies.of(applies), intervals)

    @staticmethod
    def declared(p: Mapping[str, Any]) -> tuple[tuple[int, bool, tuple[tuple[str, float], ...]], ...]:
        wanted = limits(p["limits"])
        return (
            (
                interval(p["interval_seconds"]),
                False,
                tuple((k, float(wanted[k])) for k in LIMIT_COLUMNS if k in wanted),
            ),
        )

    def drift(self, live: LiveQuota, p: Mapping[str, Any]) -> list[str]:
        found = [f"keyed by {', '.join(live.keyed)} (declared: not keyed)"] if live.keyed else []
        if live.intervals != self.declared(p):
            shown = "; ".join(
                f"{d}s{' randomized' if r else ''}: " + ", ".join(f"{k} = {v:g}" for k, v in m)
                for d, r, m in live.intervals
            )
            found.append(
                f"limits {shown or 'none'}, declared: {self.declared(p)[0][0]}s: "
                + ", ".join(f"{k} = {v:g}" for k, v in self.declared(p)[0][2])
            )
        return found + live.applies.drift(p["user"])

    def converge(
        self, live: LiveQuota | None, p: Mapping[str, Any], olds: Mapping[str, Any] | None
    ) -> list[str]:
        if live is not None and not self.drift(live, p):
            return []
        return [
            statements.replace_quota(
                p["name"], interval(p["interval_seconds"]), limits(p["limits"]), p["user"]
            )
        ]

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        p = plain(_props)
        with self.session(p, who=self.writer(p, "writing")) as sql:
            sql.run(statements.drop_quota(p["name"]))
