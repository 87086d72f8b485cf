"""Explicit provider instances built from validated credentials (no hidden default providers)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumiverse_clickhouse as clickhouse
import upstash_pulumi as upstash

from settings import StackSettings


@dataclass(frozen=True)
class Providers:
    clickhouse: clickhouse.Provider
    upstash: upstash.Provider

    def opts(self) -> pulumi.ResourceOptions:
        """Resource options handing both providers down to the components' children."""
        return pulumi.ResourceOptions(providers=[self.clickhouse, self.upstash])


def build_providers(settings: StackSettings) -> Providers:
    ch, up = settings.clickhouse, settings.upstash
    return Providers(
        clickhouse=clickhouse.Provider(
            "clickhouse",
            organization_id=ch.organization_id,
            token_key=ch.token_key,
            token_secret=ch.token_secret,
        ),
        upstash=upstash.Provider("upstash", email=up.email, api_key=up.api_key),
    )
