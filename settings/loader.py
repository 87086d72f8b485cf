"""load_settings(): the stack's config, validated once, as typed settings (or one clean error).

Every problem of a run is reported together: config problems (pydantic, worded by
settings.errors), the provider credentials missing from the environment, the SQL login of an
`up` (settings.sql_login), and credentials that belong to another cloud account than the stack
declares (settings.accounts).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, get_args

import pulumi
from pydantic import BaseModel, SecretStr, ValidationError

from .accounts import account_mismatches, declared_accounts
from .async_messaging import FORMER_KEYS, Messaging, former_keys_problem
from .consumers import Consumer
from .credentials import missing_credentials
from .data_warehouse import Warehouse
from .errors import ConfigErrors, ConfigProblem, Loc, dotted, problems_of
from .pipeline_state import PipelineState
from .serverless_cache import Cache
from .source import read_config
from .sql_login import REMOVED_PROVISIONER_PASSWORD, sql_login_problems
from .stack_config import StackConfig, standard_tags

SECTIONS = {name: info.alias or name for name, info in StackConfig.model_fields.items()}
SECRET_KEYS = tuple(
    alias for name, alias in SECTIONS.items() if StackConfig.model_fields[name].annotation is SecretStr
)
STRUCTURED_KEYS = frozenset(SECTIONS.values()) - set(SECRET_KEYS)
# Keys this program no longer reads: why, and what to do instead.
REMOVED_KEYS = {
    "clickhouseAdminPassword": (
        "is no longer read: CI must not hold the ClickHouse admin password; the service takes its hash "
        "(clickhouseAdminPasswordHash) and the SQL objects use the provisioning user, whose login "
        "comes from the environment (CLICKHOUSE_SQL_USER, CLICKHOUSE_SQL_PASSWORD)",
        "follow docs/migration.md, then: pulumi config rm {key} --stack {stack}",
    ),
    **REMOVED_PROVISIONER_PASSWORD,
}


@dataclass(frozen=True)
class Secrets:
    """Secret config values, only ever held as secret Outputs."""

    clickhouse_admin_password_hash: pulumi.Output[str]


@dataclass(frozen=True)
class StackSettings:
    warehouse: Warehouse
    cache: Cache
    pipeline_state: PipelineState
    messaging: Messaging
    consumers: dict[str, Consumer]
    protect: bool
    tags: dict[str, str]
    secrets: Secrets
    # The stack's Vercel team when a consumer delivers to Vercel (else None: no Vercel provider).
    vercel_team: str | None = None
    upstash_account: str = ""  # accounts.upstashEmail: the QStash user must belong to it


class _Explain:
    """Keys, fixes and secrecy of config locations for the report (settings.errors.Explain)."""

    def __init__(self, project: str, stack: str, secret_keys: frozenset[str]) -> None:
        self.project, self.stack, self.secret_keys = project, stack, secret_keys

    def key(self, loc: Loc) -> str:
        return f"{self.project}:{dotted(loc)}"

    def is_secret(self, loc: Loc) -> bool:
        return str(loc[0]) in self.secret_keys or str(loc[0]) in SECRET_KEYS or str(loc[0]) in REMOVED_KEYS

    def _set(self, loc: Loc, example: Any) -> str:
        if len(loc) == 1:
            return f"pulumi config set {self.key(loc)} {example} --stack {self.stack}"
        return f"pulumi config set --path '{dotted(loc)}' {example} --stack {self.stack}"

    def missing(self, loc: Loc) -> tuple[str, str]:
        if len(loc) == 1 and loc[0] in SECRET_KEYS:
            return "is required (a secret)", (
                f"pulumi config set --secret {self.project}:{loc[0]} '<value>' --stack {self.stack}"
            )
        if len(loc) == 1:
            return "is required (a structured value)", (
                f"add a '{self.key(loc)}:' block to Pulumi.{self.stack}.yaml (see README, config reference)"
            )
        return "is required", self.fix(loc)

    def unknown(self, loc: Loc) -> tuple[str, str]:
        model = _model_at(StackConfig, loc[:-1])
        known = sorted(info.alias or name for name, info in (model.model_fields if model else {}).items())
        if len(loc) == 1 and loc[0] in REMOVED_KEYS:
            why, fix = REMOVED_KEYS[str(loc[0])]
            return why, fix.format(key=self.key(loc), stack=self.stack)
        if len(loc) == 1:
            return (
                "is not a setting this program reads",
                "remove it or fix the spelling; known keys: " + ", ".join(known),
            )
        return f"is not a known key of {dotted(loc[:-1])}", "remove it or use one of: " + ", ".join(known)

    def fix(self, loc: Loc) -> str:
        example = _example_at(StackConfig, loc)
        if example is None:
            return f"see README (configuration reference) for the shape of {dotted(loc)}"
        return self._set(loc, example)

    def fill(self, fix: str, loc: Loc) -> str:
        fix = re.sub(r"\{set:([^}]*)\}", lambda m: self._set(loc, m.group(1)), fix)
        fix = fix.replace("{path}", dotted(loc))
        return fix.replace("{stack}", self.stack).replace("{project}", self.project)


def _model_at(model: type[BaseModel] | None, loc: Loc) -> type[BaseModel] | None:
    for part in loc:
        if model is None or isinstance(part, int):
            continue
        field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
        model = _inner_model(field.annotation) if field else None
    return model


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        if found := _inner_model(arg):
            return found
    return None


def _example_at(model: type[BaseModel], loc: Loc) -> Any:
    parent = _model_at(model, loc[:-1])
    if parent is None or isinstance(loc[-1], int):
        return None
    field = next((f for n, f in parent.model_fields.items() if (f.alias or n) == loc[-1]), None)
    if field is None or not field.examples:
        return None
    example = field.examples[0]
    return str(example).lower() if isinstance(example, bool) else example


def validate(
    values: Mapping[str, Any], *, project: str, stack: str, secret_keys: frozenset[str]
) -> tuple[StackConfig | None, list[ConfigProblem]]:
    """Validate the project's config values; the typed config or every problem."""
    explain = _Explain(project, stack, secret_keys)
    # stack_vercel: the raw `vercel` block, which a consumer's `vercel` block is checked against
    # (settings.vercel_delivery), so those problems come with the consumer's others.
    context = {
        "project": project,
        "stack": stack,
        "secret_keys": secret_keys,
        "stack_vercel": values.get("vercel"),
    }
    # The former QStash keys: one problem naming the migration, then the rest is validated as usual.
    former = former_keys_problem(values, project, stack)
    values = {k: v for k, v in values.items() if k not in FORMER_KEYS}
    try:
        config = StackConfig.model_validate(dict(values), context=context)
    except ValidationError as exc:
        return None, ([former] if former else []) + problems_of(exc, explain)
    return (None, [former]) if former else (config, [])


def load_settings() -> StackSettings:
    """The current stack's settings; raises ConfigErrors (a RunError) listing every problem."""
    project, stack = pulumi.get_project(), pulumi.get_stack()
    raw = read_config(project, STRUCTURED_KEYS)
    config, problems = validate(raw.values, project=project, stack=stack, secret_keys=raw.secret_keys)
    vercel = config is not None and any(c.vercel for c in config.consumers.values())
    providers = ("clickhouse", "upstash", "vercel") if vercel else ("clickhouse", "upstash")
    problems += missing_credentials(os.environ, stack, providers=providers)
    problems += sql_login_problems(os.environ, stack, dry_run=pulumi.runtime.is_dry_run())
    # Credentials of another stack's account: refused before any resource is declared.
    accounts = config.accounts if config is not None else declared_accounts(raw.values.get("accounts"))
    if accounts is not None:
        problems += account_mismatches(os.environ, accounts, stack, project=project)
    if problems or config is None:
        raise ConfigErrors(stack, problems)

    def secret(value: SecretStr) -> pulumi.Output[str]:
        return pulumi.Output.secret(value.get_secret_value())

    return StackSettings(
        warehouse=config.data_warehouse,
        cache=config.cache,
        pipeline_state=config.pipeline_state,
        messaging=config.messaging,
        consumers=config.consumers,
        protect=config.protect,
        tags={**config.tags, **standard_tags(project, stack)},
        upstash_account=config.accounts.upstash_email,
        secrets=Secrets(
            secret(config.clickhouse_admin_password_hash),
        ),
        vercel_team=config.vercel.team if vercel and config.vercel is not None else None,
    )
