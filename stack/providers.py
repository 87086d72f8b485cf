"""Explicit provider instances (no hidden default providers), with no credential inputs.

Each provider reads its credentials from the environment itself (CLICKHOUSE_ORG_ID,
CLICKHOUSE_TOKEN_KEY, CLICKHOUSE_TOKEN_SECRET; UPSTASH_EMAIL, UPSTASH_API_KEY; VERCEL_API_TOKEN),
so no credential is stored in the state, and a rotated key takes effect on the next run, refresh and destroy
included. settings.credentials checks the variables are set before any resource is declared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumiverse_clickhouse as clickhouse
import upstash_pulumi as upstash

if TYPE_CHECKING:  # imported only for stacks that deliver to Vercel (the SDK is large)
    import pulumiverse_vercel as vercel


@dataclass(frozen=True)
class Providers:
    clickhouse: clickhouse.Provider
    upstash: upstash.Provider
    vercel: vercel.Provider | None = None

    def opts(self) -> pulumi.ResourceOptions:
        """Resource options handing the providers down to the components' children."""
        providers: list[pulumi.ProviderResource] = [self.clickhouse, self.upstash]
        if self.vercel is not None:
            providers.append(self.vercel)
        return pulumi.ResourceOptions(providers=providers)


def build_providers(*, vercel: bool = False) -> Providers:
    """The providers; Vercel's only when a consumer has a `vercel` block (reads VERCEL_API_TOKEN)."""
    return Providers(
        clickhouse=clickhouse.Provider("clickhouse"),
        upstash=upstash.Provider("upstash"),
        vercel=vercel_provider() if vercel else None,
    )


def vercel_provider() -> vercel.Provider:
    import pulumiverse_vercel

    return pulumiverse_vercel.Provider("vercel")
