"""Explicit provider instances (no hidden default providers), with no credential inputs.

Every resource the program declares gets its provider from here: the components receive them as
`providers=[...]` and hand them down to their children (`random` serves the consumers'
RandomPasswords). Each provider reads its credentials from the environment itself (CLICKHOUSE_ORG_ID,
CLICKHOUSE_TOKEN_KEY, CLICKHOUSE_TOKEN_SECRET; UPSTASH_EMAIL, UPSTASH_API_KEY; VERCEL_API_TOKEN),
so no credential is stored in the state, and a rotated key takes effect on the next run, refresh and destroy
included. settings.credentials checks the variables are set before any resource is declared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_random as random
import pulumiverse_clickhouse as clickhouse
import upstash_pulumi as upstash

if TYPE_CHECKING:  # imported only for stacks that deliver to Vercel (the SDK is large)
    import pulumiverse_vercel as vercel


@dataclass(frozen=True)
class Providers:
    clickhouse: clickhouse.Provider
    upstash: upstash.Provider
    random: random.Provider
    vercel: vercel.Provider | None = None

    def opts(self) -> pulumi.ResourceOptions:
        """Resource options handing the providers down to the components' children."""
        providers: list[pulumi.ProviderResource] = [self.clickhouse, self.upstash, self.random]
        if self.vercel is not None:
            providers.append(self.vercel)
        return pulumi.ResourceOptions(providers=providers)


def build_providers(*, vercel: bool = False) -> Providers:
    """The providers; Vercel's only when a consumer has a `vercel` block (the stack then has a team)."""
    return Providers(
        clickhouse=clickhouse.Provider("clickhouse"),
        upstash=upstash.Provider("upstash"),
        # No configuration. On a stack whose passwords came from the default provider, the engine
        # (pulumi/pulumi#18509, CLI >= 3.150) asks DiffConfig whether the provider change needs a
        # replacement; with equal (empty) config it does not. The first preview must show no replace.
        random=random.Provider("random"),
        vercel=vercel_provider() if vercel else None,
    )


def vercel_provider() -> vercel.Provider:
    """The Vercel provider for the stack's team (`vercel.team`). The team is set on every variables
    resource (`team_id`), not here: with a provider-level `team` the provider's Configure looks the
    team up through the API (terraform-provider-vercel, vercel/provider.go), which fails in a
    preview that holds only the withheld placeholder token (settings.credentials). The token
    (VERCEL_API_TOKEN) comes from the environment and must be scoped to that team only
    (docs/vercel.md), so a dev job cannot write a prod project whatever the config says."""
    import pulumiverse_vercel

    return pulumiverse_vercel.Provider("vercel")
