"""SettingsProfile: a consumer's limits, exactly these elements, applied to one user."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from clickhouse_sql import statements
from clickhouse_sql.base import RETIRING, SqlProvider
from clickhouse_sql.client import Session
from clickhouse_sql.profiles import LiveProfile, converge_profile, observe_profile, profile_drift
from clickhouse_sql.statements import Setting
from dynamic_props import plain

SOURCES = ("config", "defaults")  # where the limits come from (policy clickhouse-consumer-limits)


def _whole(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) or value < 0:
        raise ValueError(f"{what} must be a whole number >= 0, got {value!r}")
    return int(value)


def settings(value: Any) -> list[dict[str, Any]]:
    """Validate the elements: [{name, value, min?, max?, const?}], names unique, min <= value <= max."""
    if not isinstance(value, list | tuple) or not value:
        raise ValueError("settings must be a non-empty list of {name, value, min, max, const}")
    normal: list[dict[str, Any]] = []
    for item in value:
        if not isinstance(item, Mapping):
            raise ValueError("each setting must be a mapping {name, value, min, max, const}")
        name = statements.identifier(item.get("name"), "setting name")
        value_ = _whole(item.get("value"), name)
        low = None if item.get("min") is None else _whole(item["min"], f"{name} MIN")
        high = None if item.get("max") is None else _whole(item["max"], f"{name} MAX")
        entry = {
            "name": name,
            "value": value_,
            "min": low,
            "max": high,
            "const": bool(item.get("const", False)),
        }
        if (low is not None and value_ < low) or (high is not None and value_ > high):
            raise ValueError(f"setting {name}: value must lie within MIN and MAX")
        normal.append(entry)
    if len({e["name"] for e in normal}) != len(normal):
        raise ValueError("settings must name each setting once")
    return normal


def source(value: Any) -> str:
    if value not in SOURCES:
        raise ValueError(f"limits_source must be one of {list(SOURCES)}, got {value!r}")
    return str(value)


def as_settings(value: Any) -> list[Setting]:
    return [Setting(e["name"], e["value"], e["min"], e["max"], e["const"]) for e in settings(value)]


class SettingsProfileProvider(SqlProvider):
    """`CREATE SETTINGS PROFILE OR REPLACE <name> SETTINGS ... TO <user>`, only when it differs."""

    kind = "settings profile"
    keys = ("name", "user", "settings", "limits_source", "connection")
    identity = ("name",)
    mutable = ("user", "settings")
    flags = (RETIRING,)
    delete_before_replace = True
    adoptable = True
    validators: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "name": lambda v: statements.identifier(v, "settings profile name"),
        "user": lambda v: statements.identifier(v, "user name"),
        "settings": settings,
        "limits_source": source,
    }

    def observe(self, sql: Session, p: Mapping[str, Any]) -> LiveProfile | None:
        return observe_profile(sql, p["name"])

    def drift(self, live: LiveProfile, p: Mapping[str, Any]) -> list[str]:
        return profile_drift(live, as_settings(p["settings"]), p["user"])

    def converge(
        self, live: LiveProfile | None, p: Mapping[str, Any], olds: Mapping[str, Any] | None
    ) -> list[str]:
        return converge_profile(live, p["name"], as_settings(p["settings"]), "user", p["user"])

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        p = plain(_props)
        with self.session(p, who=self.writer(p, "writing")) as sql:
            sql.run(statements.drop_settings_profile(p["name"]))
