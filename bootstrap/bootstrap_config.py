"""The bootstrap stack's configuration: validation and the config-error report.

Self-contained on purpose (bootstrap/ is its own Pulumi project with its own virtualenv), but the
report has exactly the main project's format, so both projects fail the same way:

    stack 'shared' has 2 configuration problems:
      - <full key> = <value>: <rule>
          fix: <fix>

Every problem of a run is collected and reported together, raised as a `pulumi.RunError`
subclass so the engine prints the report alone, without a Python stack trace.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

DEFAULT_BUCKET_NAME = "salla-analytics-pulumi-state"
DEFAULT_RETENTION_DAYS = 30
MIN_RETENTION_DAYS, MAX_RETENTION_DAYS = 1, 3650
# The stacks of the main project (salla-analytics-infra) that get their own KMS key and IAM policies.
DEFAULT_STACKS = ("dev", "prod")
CONFIG_KEYS = ("bucketName", "objectLockRetentionDays", "stacks", "tags")

# Lowercase letters, digits and hyphens, 3-63 characters. Dots are legal in S3 but break TLS
# for virtual-hosted-style requests (the certificate is *.s3.amazonaws.com), so they are refused.
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
AWS_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
# Stack names of the main project: they become S3 key prefixes and KMS alias suffixes, so no
# dots (a `dev.x` stack would fall under the `dev.*` state-object pattern) and no slashes.
STACK_NAME = re.compile(r"^[a-z][a-z0-9-]*$")

# AWS tag limits: the tags reach AWS through the provider's default tags.
AWS_MAX_KEY, AWS_MAX_VALUE, AWS_RESERVED_PREFIX = 128, 256, "aws:"


# -- the report ---------------------------------------------------------------------------------


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


class Problems:
    """Collects every problem while the stack's config is validated."""

    def __init__(self) -> None:
        self.items: list[ConfigProblem] = []

    def add(self, key: str, value: Any, rule: str, fix: str) -> None:
        self.items.append(ConfigProblem(key=key, value=show(value), rule=rule, fix=fix))

    def __bool__(self) -> bool:
        return bool(self.items)


def render(stack: str, problems: list[ConfigProblem]) -> str:
    count = len(problems)
    noun = "problem" if count == 1 else "problems"
    return "\n".join([f"stack '{stack}' has {count} configuration {noun}:", *(p.render() for p in problems)])


class BootstrapConfigError(pulumi.RunError):
    """All config problems of one run. A RunError: the engine prints it without a stack trace."""

    def __init__(self, stack: str, problems: list[ConfigProblem]) -> None:
        self.stack = stack
        self.problems = list(problems)
        super().__init__(render(stack, self.problems))


# -- tags ---------------------------------------------------------------------------------------


def standard_tags(project: str, stack: str) -> dict[str, str]:
    return {"project": project, "environment": stack, "managed-by": "pulumi"}


def _valid_tag(key: str, value: Any) -> bool:
    if not isinstance(value, str) or not value or not key:
        return False
    return len(value) <= AWS_MAX_VALUE and len(key) <= AWS_MAX_KEY and not key.startswith(AWS_RESERVED_PREFIX)


def merged_tags(value: Any, *, project: str, stack: str, key: str, problems: Problems) -> dict[str, str]:
    """The standard tags plus the configured map `value`; standard tags cannot be overridden."""
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
        if not _valid_tag(k, v):
            rule = "must be a non-empty string (key up to 128, value up to 256 characters, no 'aws:' prefix)"
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


# -- the settings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BootstrapSettings:
    project: str
    stack: str
    region: str
    bucket_name: str
    object_lock_retention_days: int
    stacks: tuple[str, ...]
    tags: dict[str, str]


def _parsed(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _valid_days(value: Any) -> bool:
    whole = isinstance(value, int) and not isinstance(value, bool)
    return whole and MIN_RETENTION_DAYS <= value <= MAX_RETENTION_DAYS


def _all_keys() -> set[str]:
    return set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())


def _stacks(value: Any, *, key: str, stack: str, problems: Problems) -> tuple[str, ...]:
    """The main project's stacks: a non-empty list of unique stack names."""
    if not isinstance(value, list) or not value:
        problems.add(
            key,
            value,
            "must be a non-empty list of the main project's stack names",
            "e.g. stacks: [dev, prod] in Pulumi.shared.yaml",
        )
        return ()
    seen: dict[str, int] = {}
    names: list[str] = []
    for index, name in enumerate(value):
        item = f"{key}[{index}]"
        if not isinstance(name, str) or not STACK_NAME.match(name):
            problems.add(
                item,
                name,
                "must be a stack name: a lowercase letter, then lowercase letters, digits and hyphens",
                f"pulumi config set --path 'stacks[{index}]' <stack> --stack {stack}",
            )
        elif name in seen:
            problems.add(
                item,
                name,
                f"repeats stacks[{seen[name]}]: every stack gets exactly one key and one pair of policies",
                f"remove stacks[{index}] from the stack config",
            )
        else:
            seen[name] = index
            names.append(name)
    return tuple(names)


def load_settings() -> BootstrapSettings:
    """Validate the stack's config; raise BootstrapConfigError listing every problem."""
    project, stack = pulumi.get_project(), pulumi.get_stack()
    problems = Problems()

    def key(name: str) -> str:
        return f"{project}:{name}"

    def set_hint(name: str, example: str) -> str:
        return f"pulumi config set {name} {example} --stack {stack}"

    for full in sorted(_all_keys()):
        if full.startswith(f"{project}:") and full.split(":", 1)[1] not in CONFIG_KEYS:
            problems.add(
                full,
                runtime_config.get_config(full),
                "is not a setting this program reads",
                "remove it or fix the spelling; known keys: " + ", ".join(CONFIG_KEYS),
            )

    region = runtime_config.get_config("aws:region")
    if region is None or not AWS_REGION.match(region):
        problems.add(
            "aws:region",
            region,
            "is required and must be an AWS region such as us-east-1",
            set_hint("aws:region", "us-east-1"),
        )

    bucket = runtime_config.get_config(key("bucketName"))
    if bucket is None:
        bucket = DEFAULT_BUCKET_NAME
    elif not BUCKET_NAME.match(bucket):
        problems.add(
            key("bucketName"),
            bucket,
            "must be 3-63 lowercase letters, digits and hyphens, starting and ending with a letter or digit",
            set_hint(key("bucketName"), DEFAULT_BUCKET_NAME),
        )

    days_raw = runtime_config.get_config(key("objectLockRetentionDays"))
    days: Any = DEFAULT_RETENTION_DAYS if days_raw is None else _parsed(days_raw)
    if not _valid_days(days):
        problems.add(
            key("objectLockRetentionDays"),
            days,
            f"must be a whole number of days from {MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS}"
            " (Object Lock default retention, also the noncurrent-version expiry)",
            set_hint(key("objectLockRetentionDays"), str(DEFAULT_RETENTION_DAYS)),
        )

    stacks_raw = runtime_config.get_config(key("stacks"))
    stacks = _stacks(
        list(DEFAULT_STACKS) if stacks_raw is None else _parsed(stacks_raw),
        key=key("stacks"),
        stack=stack,
        problems=problems,
    )

    raw_tags = runtime_config.get_config(key("tags"))
    tags = merged_tags(
        None if raw_tags is None else _parsed(raw_tags),
        project=project,
        stack=stack,
        key=key("tags"),
        problems=problems,
    )
    if problems:
        raise BootstrapConfigError(stack, problems.items)
    assert region is not None and isinstance(days, int)  # checked above
    return BootstrapSettings(
        project=project,
        stack=stack,
        region=region,
        bucket_name=bucket,
        object_lock_retention_days=days,
        stacks=stacks,
        tags=tags,
    )
