"""GitHub's CODEOWNERS rules: gitignore-style patterns, the last matching line wins.

As GitHub documents them (docs: "About code owners"): a pattern without a slash, or with only a
trailing one, matches at any depth; a slash at the start or in the middle anchors it at the
repository root; a trailing slash matches a directory (so everything below it) and never a file;
`*` matches within one path segment, `?` one character but `/`; `**` matches across segments
(`**/x`, `x/**`, `a/**/b`); a pattern that names a directory owns everything below it, except
that `dir/*` owns only the files directly in `dir` (GitHub's documented example). GitHub does
not support `!` negation, `[ ]` ranges or a `\\#` escape: lines using them are reported (GitHub
skips them), not guessed at. A matching line without owners leaves the path without an owner.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OWNER = re.compile(r"@[\w.-]+(/[\w.-]+)?|[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class Rule:
    line: int
    pattern: str
    owners: tuple[str, ...]
    regex: re.Pattern[str]


def _glob(body: str) -> str:
    """The regex of a pattern body (no leading/trailing slash handling)."""
    out, i = "", 0
    while i < len(body):
        if body.startswith("**/", i):  # zero or more whole directories
            out, i = out + "(?:[^/]+/)*", i + 3
        elif body.startswith("/**", i) and i + 3 == len(body):  # everything below
            out, i = out + "/.+", i + 3
        elif body.startswith("**", i):  # `**` not between slashes: like `*`
            out, i = out + "[^/]*", i + 2
        elif body[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif body[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(body[i]), i + 1
    return out


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A regex over repository-relative file paths (no leading slash) that the pattern owns."""
    directory = pattern.endswith("/")
    body = pattern.rstrip("/")
    anchored = "/" in body  # a leading or middle slash anchors; a trailing one was removed above
    body = body.lstrip("/")
    prefix = "" if anchored or body.startswith("**/") else "(?:.*/)?"
    # The pattern names the path itself or a directory above it (directories: only the latter);
    # GitHub's one departure from gitignore: `dir/*` owns the files directly in dir, not deeper.
    suffix = "/.+" if directory else "" if body.endswith("/*") else "(?:/.+)?"
    return re.compile(f"{prefix}{_glob(body)}{suffix}")


def parse(text: str) -> tuple[list[Rule], list[str]]:
    """The rules of a CODEOWNERS file, and the problems of lines GitHub would not use as written."""
    rules: list[Rule] = []
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split("#", 1)[0].split()
        pattern, owners = fields[0], tuple(fields[1:])
        if pattern.startswith(("!", "\\#")) or "[" in pattern or "\\" in pattern:
            problems.append(f"line {number}: {pattern!r} uses syntax CODEOWNERS does not support")
            continue
        bad = [o for o in owners if not OWNER.fullmatch(o)]
        if bad:
            problems.append(f"line {number}: invalid owner(s) {bad}")
        rules.append(Rule(number, pattern, owners, compile_pattern(pattern)))
    return rules, problems


def matching_rule(rules: list[Rule], path: str) -> Rule | None:
    """The rule that decides `path`'s owners: the last one that matches."""
    return next((r for r in reversed(rules) if r.regex.fullmatch(path)), None)


def owners_of(rules: list[Rule], path: str) -> tuple[str, ...]:
    rule = matching_rule(rules, path)
    return rule.owners if rule else ()
