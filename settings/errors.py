"""Config error reporting: every problem names the key, the bad value and the fix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Placeholder shown instead of a secret's value in error messages.
REDACTED = "<redacted>"


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
class ConfigProblem:
    """One invalid config value."""

    key: str
    value: str
    rule: str
    fix: str

    def render(self) -> str:
        return f"  - {self.key} = {self.value}: {self.rule}\n      fix: {self.fix}"


class ConfigErrors(Exception):
    """All config problems of one run, reported together."""

    def __init__(self, stack: str, problems: list[ConfigProblem]) -> None:
        self.stack = stack
        self.problems = list(problems)
        super().__init__(self.render())

    def render(self) -> str:
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        lines = [f"stack '{self.stack}' has {count} configuration {noun}:"]
        lines.extend(p.render() for p in self.problems)
        return "\n".join(lines)


class Problems:
    """Collects problems while a stack's config is validated."""

    def __init__(self) -> None:
        self.items: list[ConfigProblem] = []

    def add(self, key: str, value: Any, rule: str, fix: str, *, secret: bool = False) -> None:
        shown = REDACTED if secret and value is not None else show(value)
        self.items.append(ConfigProblem(key=key, value=shown, rule=rule, fix=fix))

    def __bool__(self) -> bool:
        return bool(self.items)
