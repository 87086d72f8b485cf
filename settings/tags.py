"""The tagging scheme shared by the program and bootstrap/: standard tags + the stack's `tags` map."""

from __future__ import annotations

from typing import Any

from .errors import Problems

# AWS tag limits (bootstrap/ tags AWS resources through the provider's default tags).
AWS_MAX_KEY, AWS_MAX_VALUE, AWS_RESERVED_PREFIX = 128, 256, "aws:"


def _valid_tag(key: str, value: Any, aws_limits: bool) -> bool:
    if not isinstance(value, str) or not value or not key:
        return False
    return not aws_limits or (
        len(value) <= AWS_MAX_VALUE and len(key) <= AWS_MAX_KEY and not key.startswith(AWS_RESERVED_PREFIX)
    )


def standard_tags(project: str, stack: str) -> dict[str, str]:
    return {"project": project, "environment": stack, "managed-by": "pulumi"}


def merged_tags(
    value: Any, *, project: str, stack: str, key: str, problems: Problems, aws_limits: bool = False
) -> dict[str, str]:
    """Standard tags plus the configured map `value` (read from config `key`).

    Standard tags cannot be overridden; every problem is recorded in `problems`.
    """
    standard = standard_tags(project, stack)
    if value is None:
        return standard
    if not isinstance(value, dict):
        problems.add(
            key, value, "must be a map of tag names to values", "e.g. tags: {cost-center: analytics}"
        )
        return standard
    merged = dict(standard)
    for k, v in value.items():
        path = f"{key}.{k}"
        fix = f"pulumi config set --path 'tags.{k}' <value> --stack {stack}"
        if not _valid_tag(k, v, aws_limits):
            rule = "must be a non-empty string"
            if aws_limits:
                rule += " (key up to 128, value up to 256 characters, no 'aws:' prefix)"
            problems.add(path, v, rule, fix)
        elif k in standard and v != standard[k]:
            problems.add(
                path,
                v,
                f"is a standard tag set by the program ({standard[k]!r})",
                f"remove tags.{k} from the stack config",
            )
        else:
            merged[k] = v
    return merged
