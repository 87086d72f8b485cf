"""Cross-cutting guardrails: protected data stores and cost-allocation tags."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from .config import switch
from .types import CLICKHOUSE_SERVICE, REDIS_DATABASE, TAGGABLE

DATA_STORES = frozenset({CLICKHOUSE_SERVICE, REDIS_DATABASE})
# Set by the program (only it may: settings refuse it in `tags`) on a service it is retiring.
LIFECYCLE_TAG, RETIRING = "lifecycle", "retiring"
STANDARD_TAGS = ("project", "environment", "managed-by")


def unprotected_live(args: ResourceValidationArgs, types: frozenset[str]) -> bool:
    """A resource of `types`, on a stack whose config requires protection, that is neither protected
    nor marked `retiring` (the program's own objects carry that output while a consumer is removed)."""
    if args.resource_type not in types or not args.get_config().get("requireProtect", False):
        return False
    return not (args.opts.protect or args.props.get("retiring") is True)


def validate_protected(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in DATA_STORES or not args.get_config().get("requireProtect", False):
        return
    if args.opts.protect:
        return
    tags = args.props.get("tags")
    if isinstance(tags, Mapping) and tags.get(LIFECYCLE_TAG) == RETIRING:
        return  # the program is retiring it (DR runbook A8): the plan shows the tag and the delete
    report("Production data store must be protected against deletion (protect: true).", None)


def _tags(args: ResourceValidationArgs) -> dict[str, Any]:
    """The resource's own tags plus the provider's default tags (how AWS applies them)."""
    tags: dict[str, Any] = {}
    if args.provider is not None:
        default_tags = args.provider.props.get("defaultTags")
        if isinstance(default_tags, str):  # provider inputs of object type arrive JSON-encoded
            try:
                default_tags = json.loads(default_tags)
            except json.JSONDecodeError:
                default_tags = None
        if isinstance(default_tags, Mapping):
            tags.update(default_tags.get("tags") or {})
    own = args.props.get("tags")
    if isinstance(own, Mapping):
        tags.update(own)
    return tags


def validate_required_tags(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in TAGGABLE:
        return
    required = [*STANDARD_TAGS, *args.get_config().get("extraTags", [])]
    tags = _tags(args)
    missing = [key for key in required if not str(tags.get(key) or "").strip()]
    if missing:
        report("Missing cost-allocation tags: " + ", ".join(missing) + ".", None)


data_stores_protected = ResourceValidationPolicy(
    name="data-stores-protected",
    description="Where the stack requires it, the ClickHouse service and Redis database are protected.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate_protected,
    config_schema=switch("requireProtect"),
)

required_tags = ResourceValidationPolicy(
    name="required-tags",
    description="Taggable resources carry project, environment, managed-by and the configured tags.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate_required_tags,
    config_schema=PolicyConfigSchema(
        properties={"extraTags": {"type": "array", "items": {"type": "string"}, "default": []}}
    ),
)
