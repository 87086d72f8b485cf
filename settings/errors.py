"""Config problems: each names the full key, the bad value, the rule and the fix.

Validation itself is pydantic's (the models in settings/); this module turns a pydantic ValidationError
into the report a user reads. Rules of this project raise `rule(...)` errors that carry their own
wording and fix; pydantic's built-in errors are worded here, once. Values are never echoed for a
config key the engine reports as secret, at any depth below it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

import pulumi
from pydantic import ValidationError
from pydantic_core import PydanticCustomError

# Placeholder shown instead of a secret's value.
REDACTED = "<redacted>"
# Marks "no value given" in a rule's context (None is a legitimate bad value).
_UNSET = "__unset__"
RULE_ERROR = "config_rule"
Loc = tuple[str | int, ...]


def show(value: Any) -> str:
    """Render a config value for an error message (compact, JSON-like)."""
    if isinstance(value, str):
        return f'"{value}"'
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


@dataclass(frozen=True)
class Problem:
    """One problem a validator found: relative location, rule and fix (the value is optional)."""

    rule: str
    fix: str
    at: tuple[str | int, ...] = ()
    value: Any = _UNSET
    # Value-free wording for a rule or fix that quotes the value, shown under a secret key.
    safe_rule: str | None = None
    safe_fix: str | None = None


def rule(
    text: str,
    fix: str,
    *,
    at: Sequence[str | int] = (),
    value: Any = _UNSET,
    safe_rule: str | None = None,
    safe_fix: str | None = None,
) -> Problem:
    """A problem; `safe_rule`/`safe_fix` stand in for `text`/`fix` under a secret key (when they quote it)."""
    return Problem(text, fix, tuple(at), value, safe_rule, safe_fix)


def fail(*problems: Problem) -> NoReturn:
    """Raise one pydantic error carrying every problem a validator found."""
    raise PydanticCustomError(RULE_ERROR, "{rule}", {"rule": problems[0].rule, "problems": problems})


@dataclass(frozen=True)
class ConfigProblem:
    """One invalid config value, as the user sees it."""

    key: str
    value: str
    rule: str
    fix: str

    def render(self) -> str:
        return f"  - {self.key} = {self.value}: {self.rule}\n      fix: {self.fix}"


class ConfigErrors(pulumi.RunError):
    """All config problems of one run. A RunError: the engine prints it without a stack trace."""

    def __init__(self, stack: str, problems: Iterable[ConfigProblem]) -> None:
        self.stack = stack
        self.problems = list(problems)
        super().__init__(self.render())

    def render(self) -> str:
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        lines = [f"stack '{self.stack}' has {count} configuration {noun}:"]
        lines.extend(p.render() for p in self.problems)
        return "\n".join(lines)


def dotted(loc: Sequence[str | int]) -> str:
    """('dataWarehouse', 'ipAllowList', 0, 'cidr') -> 'dataWarehouse.ipAllowList[0].cidr'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# pydantic's own error types, worded once: type -> rule.
BUILTIN_RULES = {
    "bool_type": "must be true or false",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "string_type": "must be a non-empty string",
    "string_too_short": "must be a non-empty string",
    "list_type": "must be a list",
    "dict_type": "must be a map",
    "model_type": "must be a map of settings",
    "model_attributes_type": "must be a map of settings",
}


class Explain(Protocol):
    """What the report needs to know about a location: its key, whether it is secret, its fixes."""

    def key(self, loc: Loc) -> str: ...

    def is_secret(self, loc: Loc) -> bool: ...

    def missing(self, loc: Loc) -> tuple[str, str]:
        """(rule, fix) for a required value that is not set."""
        ...

    def unknown(self, loc: Loc) -> tuple[str, str]:
        """(rule, fix) for a key the settings do not have."""
        ...

    def fix(self, loc: Loc) -> str:
        """The fix for a value of the wrong type."""
        ...

    def fill(self, fix: str, loc: Loc) -> str:
        """A rule's fix with its placeholders ({stack}, {project}, {set:<example>}) filled in."""
        ...


def problems_of(error: ValidationError, explain: Explain) -> list[ConfigProblem]:
    """Every problem in a ValidationError, worded; one per location and rule."""
    found: list[ConfigProblem] = []
    for err in error.errors(include_url=False):
        loc = tuple(err["loc"])
        if err["type"] == RULE_ERROR:
            for p in (err.get("ctx") or {})["problems"]:
                where = loc + p.at
                value = err["input"] if p.value == _UNSET else p.value
                secret = explain.is_secret(where)
                rule_text = p.safe_rule if secret and p.safe_rule else p.rule
                fix = p.safe_fix if secret and p.safe_fix else p.fix
                found.append(_problem(explain, where, value, rule_text, explain.fill(fix, where)))
            continue
        if err["type"] == "missing":
            rule_text, fix = explain.missing(loc)
            found.append(_problem(explain, loc, None, rule_text, fix))
        elif err["type"] == "extra_forbidden":
            rule_text, fix = explain.unknown(loc)
            found.append(_problem(explain, loc, err["input"], rule_text, fix))
        else:
            rule_text = BUILTIN_RULES.get(err["type"], err["msg"])
            if err["type"] == "literal_error":
                expected = str((err.get("ctx") or {}).get("expected", ""))
                rule_text = "must be one of " + expected.replace("'", "").replace(" or ", ", ")
            found.append(_problem(explain, loc, err["input"], rule_text, explain.fix(loc)))
    unique: dict[tuple[str, str], ConfigProblem] = {}
    for p in found:
        unique.setdefault((p.key, p.rule), p)
    return list(unique.values())


def _problem(explain: Explain, loc: Loc, value: Any, rule_text: str, fix: str) -> ConfigProblem:
    shown = REDACTED if value is not None and explain.is_secret(loc) else show(value)
    return ConfigProblem(key=explain.key(loc), value=shown, rule=rule_text, fix=fix)
