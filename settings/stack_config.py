"""The whole stack: every `salla-analytics-infra:` key of Pulumi.<stack>.yaml, one section a module.

Field rules live next to their field (settings.rules); rules that span fields are model validators. Every
rule raises `fail(rule(...))` with its own wording and fix, so the report names the key, the value, the rule
and the fix (settings.errors). Provider catalogs are data in settings.catalog.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    AfterValidator,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
)
from pydantic.alias_generators import to_camel

from .accounts import Accounts
from .async_messaging import Messaging
from .consumers import Consumer, consumer_names
from .data_warehouse import LIFECYCLE_TAG, Warehouse
from .errors import fail, rule
from .passwords import is_sha256_b64
from .pipeline_state import PipelineState
from .redis import key_prefixes
from .rules import (
    NonEmpty,
    Settings,
)
from .serverless_cache import Cache
from .vercel_delivery import VercelTeam


class StackConfig(Settings):
    """Every `salla-analytics-infra:` key of Pulumi.<stack>.yaml."""

    accounts: Accounts
    data_warehouse: Warehouse
    cache: Cache
    pipeline_state: PipelineState
    messaging: Messaging
    consumers: Annotated[dict[str, Consumer], AfterValidator(consumer_names), AfterValidator(key_prefixes)]
    protect: bool = Field(False, examples=[True])
    tags: dict[str, NonEmpty] = Field(default_factory=dict)
    # The stack's Vercel team (settings.vercel_delivery): required once a consumer has a `vercel` block.
    vercel: VercelTeam | None = None
    # The admin (`default`) password's SHA-256, as the service takes it (`make admin-hash`).
    clickhouse_admin_password_hash: SecretStr
    # The QStash token and signing keys are not config: read from the Upstash API (docs/qstash.md).

    @field_validator(
        "clickhouse_admin_password_hash",
    )
    @classmethod
    def _encrypted(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        key = to_camel(info.field_name or "")
        fix = f"pulumi config set --secret {{project}}:{key} '<value>' --stack {{stack}}"
        if not value.get_secret_value().strip():
            fail(rule("is required (a secret)", fix, value=None))
        if key not in (info.context or {}).get("secret_keys", ()):
            fail(rule("is stored in plaintext", "re-set it encrypted: " + fix))
        if key == "clickhouseAdminPasswordHash" and not is_sha256_b64(value.get_secret_value()):
            fail(
                rule(
                    "is not a base64 SHA-256 digest (44 characters that decode to 32 bytes), which is what "
                    "the service's password_hash takes; never the password itself",
                    "run `make admin-hash` and set what it prints: " + fix.replace("'<value>'", "'<hash>'"),
                )
            )
        return value

    @field_validator("tags")
    @classmethod
    def _no_standard_tags(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        standard = standard_tags(
            (info.context or {}).get("project", ""), (info.context or {}).get("stack", "")
        )
        problems = [
            rule(
                f"is a standard tag set by the program ({standard[k]!r})",
                f"remove tags.{k} from the stack config",
                at=[k],
                value=v,
            )
            for k, v in value.items()
            if k in standard and v != standard[k]
        ]
        problems += [
            rule(
                f"is set by the program only (on a service being retired, runbook A8): {LIFECYCLE_TAG!r}",
                f"remove tags.{LIFECYCLE_TAG} from the stack config",
                at=[LIFECYCLE_TAG],
                value=value[LIFECYCLE_TAG],
            )
            for _ in [0]
            if LIFECYCLE_TAG in value
        ]
        if problems:
            fail(*problems)
        return value


def standard_tags(project: str, stack: str) -> dict[str, str]:
    return {"project": project, "environment": stack, "managed-by": "pulumi"}
