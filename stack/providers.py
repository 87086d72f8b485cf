"""Explicit provider instances (no hidden default providers), with no credential inputs.

Each provider reads its credentials from the environment itself (CLICKHOUSE_ORG_ID,
CLICKHOUSE_TOKEN_KEY, CLICKHOUSE_TOKEN_SECRET; UPSTASH_EMAIL, UPSTASH_API_KEY), so no credential
is stored in the state, and a rotated key takes effect on the next run, refresh and destroy
included. settings.credentials checks the variables are set before any resource is declared.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumiverse_clickhouse as clickhouse
import upstash_pulumi as upstash


@dataclass(frozen=True)
class Providers:
    clickhouse: clickhouse.Provider
    upstash: upstash.Provider

    def opts(self) -> pulumi.ResourceOptions:
        """Resource options handing the providers down to the components' children."""
        return pulumi.ResourceOptions(providers=[self.clickhouse, self.upstash])


def build_providers() -> Providers:
    return Providers(clickhouse=clickhouse.Provider("clickhouse"), upstash=upstash.Provider("upstash"))
