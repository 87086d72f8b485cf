"""accounts: which ClickHouse Cloud organisation and which Upstash account a stack belongs to.

One cloud account per stack: in an account two stacks shared, the dev preview job's credentials
(read by any same-repository pull request) would be prod's. The stack file declares its accounts
(non-secret identifiers) and the program refuses to run, before it declares any resource, when
the credentials in the environment belong to another account (`account_mismatches`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationError

from .errors import ConfigProblem, fail, rule
from .rules import Settings, uuid_rule

# Deliberately loose: the point is to catch a pasted key or an org id, not to parse RFC 5322.
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


_ORG_ID = uuid_rule(
    "is not a ClickHouse Cloud organisation id (a UUID)",
    "copy it from the ClickHouse Cloud console (Organization > Organization details)",
)


def org_id(value: str) -> str:
    return _ORG_ID(value).lower()


def email(value: str) -> str:
    if not EMAIL.match(value):
        fail(
            rule(
                "is not the e-mail address of an Upstash account",
                "use the address the Upstash account logs in with (Account > Management API)",
            )
        )
    return value.lower()


class Accounts(Settings):
    """accounts: the cloud accounts this stack's resources live in (non-secret identifiers)."""

    clickhouse_org_id: Annotated[str, AfterValidator(org_id)] = Field(
        description="ClickHouse Cloud organisation id (UUID); CLICKHOUSE_ORG_ID must equal it",
        examples=["00000000-0000-4000-8000-000000000001"],
    )
    upstash_email: Annotated[str, AfterValidator(email)] = Field(
        description="e-mail address of the stack's Upstash account; UPSTASH_EMAIL must equal it",
        examples=["platform+dev@example.com"],
    )


# environment variable -> (Accounts field, config key)
ACCOUNT_ENVIRONMENT: dict[str, tuple[str, str]] = {
    "CLICKHOUSE_ORG_ID": ("clickhouse_org_id", "accounts.clickhouseOrgId"),
    "UPSTASH_EMAIL": ("upstash_email", "accounts.upstashEmail"),
}


def declared_accounts(raw: Any) -> Accounts | None:
    """The `accounts` block when it is valid by itself (its own problems are reported elsewhere)."""
    try:
        return Accounts.model_validate(raw)
    except ValidationError:
        return None


def account_mismatches(
    environ: Mapping[str, str], accounts: Accounts, stack: str, *, project: str
) -> list[ConfigProblem]:
    """One problem per credential variable that names another account than the stack declares.

    An unset variable is not reported here (settings.credentials reports it as missing).
    """
    problems = []
    for name, (field, key) in ACCOUNT_ENVIRONMENT.items():
        actual = environ.get(name, "").strip()
        expected = str(getattr(accounts, field))
        if actual and actual.lower() != expected:
            problems.append(
                ConfigProblem(
                    key=f"{name} (environment variable)",
                    value=f'"{actual}"',
                    rule=f"is not the account stack '{stack}' declares in {project}:{key} "
                    f'("{expected}"): the credentials in the environment belong to another account',
                    fix=f'export the credentials of the account "{expected}" (locally), or run in '
                    f"the GitHub environment of stack '{stack}'; change {project}:{key} only if the "
                    "stack really moved to another account",
                )
            )
    return problems
