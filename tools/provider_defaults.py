"""Defaults the providers' Check fills into resource inputs before the engine runs policies.

The engine hands the analyzer the inputs *returned by Check*; for an SDKv2-bridged provider
(Upstash) that includes the Terraform schema defaults (deprecated optional fields excepted). A
plugin-framework provider (ClickHouse) applies its defaults at plan time, after the policies, so
it contributes none here. Sources: upstash/terraform-provider-upstash
upstash/redis/database/resource.go (`Default:` of budget, tls, eviction, auto_scale, prod_pack);
pulumi-terraform-bridge pkg/tfbridge/provider.go Check ("re-generate the inputs WITH the TF
defaults"); pulumi/pulumi pkg/resource/deploy/step_generator.go (analyzers get Check's output).
"""

from __future__ import annotations

from typing import Any

from .mocks import REDIS

CHECK_DEFAULTS: dict[str, dict[str, Any]] = {
    REDIS: {"budget": 20, "tls": False, "eviction": False, "autoScale": False, "prodPack": False},
}


def checked_inputs(resource_type: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """`inputs` as Check returns them: the provider's defaults for every property not set."""
    return {**CHECK_DEFAULTS.get(resource_type, {}), **inputs}
