"""Settings profiles: the live state of one profile, its drift against a declaration, converge.

Shared by SettingsProfileProvider (a consumer's limits) and RoleProvider (a role's readonly profile).
A profile is declared as exactly these elements (settings with their constraints) applied to
exactly one user or role; anything else (another value, another constraint, an extra element,
an inherited profile, another grantee) is drift, and converging replaces the profile whole
(`CREATE SETTINGS PROFILE OR REPLACE`, one statement).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from clickhouse_sql import queries, statements
from clickhouse_sql.client import Session
from clickhouse_sql.statements import Setting


@dataclass(frozen=True)
class Applies:
    """Whom a profile or quota applies to (system.settings_profiles / system.quotas columns)."""

    all: bool
    names: tuple[str, ...]
    except_: tuple[str, ...]

    @classmethod
    def of(cls, row: Sequence[Any]) -> Applies:
        return cls(bool(row[0]), tuple(sorted(map(str, row[1] or []))), tuple(sorted(map(str, row[2] or []))))

    def drift(self, to: str) -> list[str]:
        if self.all or self.names != (to,) or self.except_:
            shown = "ALL" if self.all else ", ".join(self.names) or "nobody"
            if self.except_:
                shown += " EXCEPT " + ", ".join(self.except_)
            return [f"applies to {shown}, declared: {to}"]
        return []


Element = tuple[str | None, float | None, float | None, float | None, str, str | None]


def _number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")  # a non-numeric value never equals a declared number


def element_of(row: Sequence[Any]) -> Element:
    """A system.settings_profile_elements row (setting, value, min, max, writability, inherit)."""
    setting, value, low, high, writability, inherit = row
    return (
        None if setting is None else str(setting),
        _number(value),
        _number(low),
        _number(high),
        str(writability or "WRITABLE"),
        None if inherit is None else str(inherit),
    )


def declared_element(setting: Setting) -> Element:
    return (
        setting.name,
        float(setting.value),
        None if setting.min is None else float(setting.min),
        None if setting.max is None else float(setting.max),
        "CONST" if setting.const else "WRITABLE",
        None,
    )


def describe(element: Element) -> str:
    setting, value, low, high, writability, inherit = element
    if inherit is not None:
        return f"inherits profile {inherit}"
    text = f"{setting} = {value:g}" if value is not None else f"{setting}"
    text += f" MIN {low:g}" if low is not None else ""
    text += f" MAX {high:g}" if high is not None else ""
    return text + ("" if writability == "WRITABLE" else f" {writability}")


@dataclass(frozen=True)
class LiveProfile:
    applies: Applies
    elements: tuple[Element, ...]


def observe_profile(sql: Session, profile: str) -> LiveProfile | None:
    rows = sql.rows(queries.settings_profile(profile))
    if not rows:
        return None
    elements = tuple(element_of(row) for row in sql.rows(queries.profile_elements(profile)))
    return LiveProfile(Applies.of(rows[0]), elements)


def profile_drift(live: LiveProfile | None, settings: Sequence[Setting], to: str) -> list[str]:
    if live is None:
        return ["missing"] if settings else []
    if not settings:
        return ["exists, declared: none"]
    wanted = [declared_element(s) for s in settings]
    found = list(live.elements)
    problems = [f"has {describe(e)} (not declared)" for e in found if e not in wanted]
    problems += [f"lacks {describe(e)}" for e in wanted if e not in found]
    return problems + live.applies.drift(to)


def converge_profile(
    live: LiveProfile | None, profile: str, settings: Sequence[Setting], to_kind: str, to: str
) -> list[str]:
    if not profile_drift(live, settings, to):
        return []
    if not settings:
        return [statements.drop_settings_profile(profile)]
    return [statements.replace_settings_profile(profile, settings, to_kind, to)]
