"""The base of every settings model and the field rules they share (each raises `fail(rule(...))`)."""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
)
from pydantic.alias_generators import to_camel

from . import catalog
from .errors import fail, rule

DEFAULT_IP_DESCRIPTION = "allow-listed by salla-analytics-infra"
RESOURCE_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class Settings(BaseModel):
    """Base of every config section: camelCase keys, strict types, unknown keys are errors."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        strict=True,
        frozen=True,
    )


# -- field rules ----------------------------------------------------------------------------------


# In a rule's fix: "the `pulumi config set` command for this key with this example value".
SET_EXAMPLE = "{{set:{}}}"


def cidr_problem(source: str) -> str | None:
    """Why `source` is not a valid IP address or CIDR block (None when it is)."""
    try:
        ipaddress.ip_network(source, strict=True)
    except ValueError as exc:
        try:
            loose = ipaddress.ip_network(source, strict=False)
        except ValueError:
            return f"not a valid IP address or CIDR block ({exc})"
        return f"has host bits set; did you mean {loose}?"
    return None


def cidr(value: str) -> str:
    """The canonical text of a valid CIDR/IP ('10.0.0.1' -> '10.0.0.1/32'); its problem otherwise."""
    source = value.strip()
    if why := cidr_problem(source):
        fail(
            rule(
                why,
                "use CIDR notation such as 203.0.113.0/24",
                value=source,
                safe_rule="is not a valid IP address or CIDR block (without host bits)",
            )
        )
    return str(ipaddress.ip_network(source, strict=True))


def resource_name(example: str) -> AfterValidator:
    def check(value: str) -> str:
        if not RESOURCE_NAME.match(value):
            fail(rule("must be lowercase letters, digits and hyphens (max 63)", f"e.g. {example}"))
        return value

    return AfterValidator(check)


def one_of(what: str, allowed: frozenset[int] | frozenset[str] | tuple[str, ...]) -> AfterValidator:
    def check(value: Any) -> Any:
        if value not in allowed:
            shown = catalog.sorted_values(allowed)
            fail(rule(f"is not {what}", "use one of: " + shown))
        return value

    return AfterValidator(check)


SQL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def sql_name(what: str, example: str) -> Any:
    def check(value: str) -> str:
        if not SQL_NAME.match(value):
            fail(
                rule(
                    f"must be a ClickHouse {what} name: lowercase letters, digits, '_' (max 63)",
                    "e.g. " + example,
                )
            )
        return value

    return check


def https_url(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        fail(
            rule(
                f"not a URL ({exc})",
                "use an https URL such as https://pipeline.example.com/qstash",
                safe_rule="not a URL",
            )
        )
    why = None
    if parts.scheme != "https":
        why = "must use the https scheme"
    elif not parts.hostname:
        why = "has no host"
    elif parts.username or parts.password:
        why = "must not embed credentials (QStash signs requests instead)"
    if why:
        fail(rule(why, "use an https URL such as https://pipeline.example.com/qstash"))
    return url


def uuid_rule(text: str, fix: str) -> Callable[[str], str]:
    """A field rule: the value must be a UUID, else `text` and `fix` (the value is kept as given)."""

    def check(value: str) -> str:
        try:
            uuid.UUID(value)
        except ValueError:
            fail(rule(text, fix))
        return value

    return check


uuid_text = uuid_rule(
    "not a UUID (ClickHouse Cloud backup ids look like 1b2c...-...)",
    "copy the backup id from the ClickHouse Cloud console or API",
)


def no_duplicates(key: Callable[[Any], Any] = lambda value: value) -> AfterValidator:
    """Every entry listed once (compared by `key`); each repeat is reported at its index."""

    def check(values: list[Any]) -> list[Any]:
        seen: set[Any] = set()
        problems = []
        for i, value in enumerate(values):
            if key(value) in seen:
                problems.append(
                    rule("is listed twice", "remove the duplicate entry", at=[i], value=key(value))
                )
            seen.add(key(value))
        if problems:
            fail(*problems)
        return values

    return AfterValidator(check)


def at_least(minimum: int, text: str, fix: str) -> AfterValidator:
    def check(value: int) -> int:
        if value < minimum:
            fail(rule(text, fix))
        return value

    return AfterValidator(check)


def non_empty(text: str, fix: str) -> AfterValidator:
    def check(values: list[Any]) -> list[Any]:
        if not values:
            fail(rule(text, fix))
        return values

    return AfterValidator(check)


Cidr = Annotated[str, AfterValidator(cidr)]
HttpsUrl = Annotated[str, AfterValidator(https_url)]
UpstashRegion = Annotated[str, one_of("an Upstash global-database region", catalog.UPSTASH_REDIS_REGIONS)]
NonEmpty = Annotated[str, Field(min_length=1)]
