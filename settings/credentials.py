"""Provider credentials: read by the providers themselves from the environment, never from config.

Nothing here passes a credential anywhere: the program only checks, before it declares any
resource, that every variable a provider will read is set, so a missing one is one clean error
instead of a provider failure halfway through an update.
"""

from __future__ import annotations

from collections.abc import Mapping

from .errors import ConfigProblem

# provider -> the environment variables it reads (checked against each provider's docs).
PROVIDER_ENVIRONMENT: dict[str, tuple[str, ...]] = {
    "clickhouse": ("CLICKHOUSE_ORG_ID", "CLICKHOUSE_TOKEN_KEY", "CLICKHOUSE_TOKEN_SECRET"),
    "upstash": ("UPSTASH_EMAIL", "UPSTASH_API_KEY"),
    # Only for stacks where a consumer has a `vercel` block.
    "vercel": ("VERCEL_API_TOKEN",),
}


def missing_credentials(
    environ: Mapping[str, str], stack: str, *, providers: tuple[str, ...] = ("clickhouse", "upstash")
) -> list[ConfigProblem]:
    """One problem per unset variable of the given providers."""
    return [
        ConfigProblem(
            key=f"{name} (environment variable)",
            value="(not set)",
            rule=f"is required: the {provider} provider reads its credentials from the environment",
            fix=f"export {name}=... (locally), or set the secret {name} "
            f"in the GitHub environment of stack '{stack}'",
        )
        for provider in providers
        for name in PROVIDER_ENVIRONMENT[provider]
        if not environ.get(name, "").strip()
    ]
