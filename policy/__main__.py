"""CrossGuard entry point: the only place that constructs the PolicyPack (it starts a server)."""

from guardrails import PACK_NAME, POLICIES  # type: ignore[import-not-found]
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name=PACK_NAME,
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=POLICIES,
)
