"""Provider credentials: read by the providers themselves from the environment, never from config.

Nothing here passes a credential anywhere: the program only checks, before it declares any
resource, that every variable a provider will read is set, so a missing one is one clean error
instead of a provider failure halfway through an update.

Withheld credentials (docs/ci-credentials.md). Upstash and Vercel have no read-only key: every key
they issue can change or delete the account's resources. A job that runs without an approval
(plan-prod, drift-prod) therefore never receives one. It declares so in `CREDENTIALS_WITHHELD`
(e.g. `upstash vercel`) and sets the provider's key variable to the inert literal
`withheldwithheldwithheld`: the providers refuse to configure with an empty key (Vercel's also
with a key that is not 24 letters or digits), but their configure makes no API call (Vercel's
does when its provider sets a `team`), and a preview without refresh calls no API for their
resources (Check and Diff are local).
Such a run is accepted only as a preview (a dry run); an update that declares a withheld
credential stops with one clean error before any resource is declared. What such a preview
cannot see: drift of the withheld provider's resources (nothing reads them), and any failure
the provider would only report from its API.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from .errors import ConfigProblem

# provider -> the environment variables it reads (checked against each provider's docs).
PROVIDER_ENVIRONMENT: dict[str, tuple[str, ...]] = {
    "clickhouse": ("CLICKHOUSE_ORG_ID", "CLICKHOUSE_TOKEN_KEY", "CLICKHOUSE_TOKEN_SECRET"),
    "upstash": ("UPSTASH_EMAIL", "UPSTASH_API_KEY"),
    # Only for stacks where a consumer has a `vercel` block.
    "vercel": ("VERCEL_API_TOKEN",),
}
# The variable a job sets to declare which providers' keys it does not hold, and the inert value
# it gives their key variables instead.
WITHHELD_VARIABLE = "CREDENTIALS_WITHHELD"
# 24 letters: the Vercel provider's Configure rejects a token that does not match [0-9a-zA-Z]{24}
# (terraform-provider-vercel vercel/provider.go, apiTokenRe).
WITHHELD_VALUE = "withheldwithheldwithheld"
# Providers without a read-only key -> their write-capable key variables. Identity variables
# (UPSTASH_EMAIL) are no credential and stay required: the account check reads them.
WITHHOLDABLE: dict[str, tuple[str, ...]] = {
    "upstash": ("UPSTASH_API_KEY",),
    "vercel": ("VERCEL_API_TOKEN",),
}


def withheld_providers(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The providers the environment declares withheld (`CREDENTIALS_WITHHELD`, space or comma separated)."""
    raw = environ.get(WITHHELD_VARIABLE, "")
    return tuple(dict.fromkeys(part for part in raw.replace(",", " ").split() if part))


def _withheld_problems(environ: Mapping[str, str], stack: str, *, dry_run: bool) -> list[ConfigProblem]:
    withheld = withheld_providers(environ)
    problems: list[ConfigProblem] = []
    unknown = [name for name in withheld if name not in WITHHOLDABLE]
    if unknown:
        problems.append(
            ConfigProblem(
                key=f"{WITHHELD_VARIABLE} (environment variable)",
                value=f'"{environ.get(WITHHELD_VARIABLE, "")}"',
                rule=f"names {', '.join(unknown)}: only providers without a read-only key can be "
                f"withheld ({', '.join(WITHHOLDABLE)}); the others get a read-only key instead",
                fix=f"list only {' or '.join(WITHHOLDABLE)} in {WITHHELD_VARIABLE}",
            )
        )
    if withheld and not dry_run:
        problems.append(
            ConfigProblem(
                key=f"{WITHHELD_VARIABLE} (environment variable)",
                value=f'"{environ.get(WITHHELD_VARIABLE, "")}"',
                rule="is allowed in a preview only: this run would change the stack without the "
                f"credentials of {', '.join(withheld)}",
                fix=f"unset {WITHHELD_VARIABLE}: updates run only in the approval-gated deploy job, "
                f"which holds the write keys (docs/ci-credentials.md); for stack '{stack}' locally, "
                "export the provider's real key",
            )
        )
    for provider in withheld:
        for name in WITHHOLDABLE.get(provider, ()):
            if environ.get(name, "").strip() not in ("", WITHHELD_VALUE):
                problems.append(
                    ConfigProblem(
                        key=f"{name} (environment variable)",
                        value="<redacted>",
                        rule=f"holds a key although {WITHHELD_VARIABLE} declares {provider} withheld: "
                        "the job that declares it must not hold that key",
                        fix=f"remove the secret {name} from this job (set it to the literal "
                        f"'{WITHHELD_VALUE}'), or drop {provider} from {WITHHELD_VARIABLE}",
                    )
                )
    return problems


def missing_credentials(
    environ: Mapping[str, str],
    stack: str,
    *,
    providers: tuple[str, ...] = ("clickhouse", "upstash"),
    dry_run: bool | None = None,
) -> list[ConfigProblem]:
    """One problem per unset variable of the given providers, and per misuse of withheld credentials.

    `dry_run` defaults to the engine's (`pulumi.runtime.is_dry_run()`: true for a preview).
    """
    if dry_run is None:
        dry_run = pulumi.runtime.is_dry_run()
    withheld = set(withheld_providers(environ))
    problems = _withheld_problems(environ, stack, dry_run=dry_run)
    for provider in providers:
        for name in PROVIDER_ENVIRONMENT[provider]:
            if provider in withheld and name in WITHHOLDABLE.get(provider, ()):
                continue  # checked above: unset or the inert literal
            if not environ.get(name, "").strip():
                problems.append(
                    ConfigProblem(
                        key=f"{name} (environment variable)",
                        value="(not set)",
                        rule=f"is required: the {provider} provider reads its credentials "
                        "from the environment",
                        fix=f"export {name}=... (locally), or set the secret {name} "
                        f"in the GitHub environment of stack '{stack}'",
                    )
                )
    return problems
