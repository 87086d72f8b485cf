"""messaging: QStash topics (components.async_messaging)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    Field,
    ValidationInfo,
    model_validator,
)

from dynamic_props import LABEL

from .errors import ConfigProblem, fail, rule
from .rules import (
    HttpsUrl,
    Settings,
    no_duplicates,
    non_empty,
)

# Config keys the program no longer reads: the QStash token and signing keys come from the API.
FORMER_KEYS = ("qstashToken", "qstashCurrentSigningKey", "qstashNextSigningKey")


def former_keys_problem(values: Mapping[str, Any], project: str, stack: str) -> ConfigProblem | None:
    """One problem naming the migration when the stack still sets a former QStash key."""
    found = [key for key in FORMER_KEYS if key in values]
    if not found:
        return None
    return ConfigProblem(
        key=", ".join(f"{project}:{key}" for key in found),
        value="(secret)",
        rule="is no longer read: the program reads the QStash token and signing keys of the stack's "
        "Upstash account from the Upstash API at deploy time (docs/qstash.md, migration)",
        fix="; ".join(f"pulumi config rm {project}:{key} --stack {stack}" for key in found),
    )


# QStash accepts letters, digits, '-', '_' and '.'.
TOPIC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class Topic(Settings):
    name: str = Field(examples=["cdc-dev"])
    endpoints: Annotated[
        list[HttpsUrl],
        non_empty(
            "must be a non-empty list of https URLs",
            "list the subscriber webhooks, e.g. [https://pipeline.example.com/qstash]",
        ),
        no_duplicates(),
    ]


def carries_stack(name: str, stack: str) -> bool:
    """Whether `stack` is one of the name's '-', '.' or '_' separated parts (cdc-dev, dev.orders)."""
    return stack in re.split(r"[-._]", name)


class Messaging(Settings):
    """messaging: QStash topics (v2 API) and their subscriber webhooks."""

    topics: Annotated[
        list[Topic],
        non_empty(
            "must be a non-empty list of {name, endpoints}",
            "e.g. topics: [{name: cdc-dev, endpoints: [https://pipeline.example.com/qstash]}]",
        ),
    ]
    # Signing-key rotation as code (docs/qstash.md): a new label makes the next `up` call QStash's
    # key rotation exactly once (next becomes current, a new next is made); unchanged, nothing.
    signing_key_rotation: str | None = Field(None, examples=["2026-12"])

    @model_validator(mode="after")
    def _rotation_label(self) -> Messaging:
        label = self.signing_key_rotation
        if label is not None and not LABEL.match(label):
            fail(
                rule(
                    "is not a rotation label: lowercase letters, digits and hyphens (max 31)",
                    "use e.g. 2026-12 (a new value rotates the signing keys once)",
                    at=["signingKeyRotation"],
                    value=label,
                )
            )
        return self

    @model_validator(mode="after")
    def _topic_names(self, info: ValidationInfo) -> Messaging:
        stack = str((info.context or {}).get("stack", ""))
        seen: set[str] = set()
        problems = []
        for i, topic in enumerate(self.topics):
            at: list[str | int] = ["topics", i, "name"]
            if stack and not carries_stack(topic.name, stack):
                problems.append(
                    rule(
                        f"must carry the stack name '{stack}': QStash topic names are account-wide, so "
                        "two stacks with one name would share (and one destroy would delete) a topic",
                        f"rename it, e.g. {topic.name}-{stack}",
                        safe_fix=f"rename it so that '{stack}' is one of its '-', '.' or '_' parts",
                        at=at,
                        value=topic.name,
                    )
                )
            elif not TOPIC_NAME.match(topic.name):
                problems.append(
                    rule(
                        "must be 1-64 letters, digits, '.', '_' or '-'",
                        "e.g. cdc-dev",
                        at=at,
                        value=topic.name,
                    )
                )
            elif topic.name in seen:
                problems.append(
                    rule(
                        "is used by another topic", "give every topic a unique name", at=at, value=topic.name
                    )
                )
            seen.add(topic.name)
        if problems:
            fail(*problems)
        return self
