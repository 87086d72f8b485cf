"""The only non-public SDK functions the tools use, in one place.

pulumi-policy has no public API to run a policy outside its analyzer server, so the offline
pre-flight (tools.policy_eval) repeats what the analyzer does with these three internals: turn
the engine's JSON properties into Python values, wrap them so that reading an unknown value
raises, and recognise a policy's `args.not_applicable(...)`. Checked against pulumi-policy
1.21.0 (pulumi_policy/deserialize.py, proxy.py, policy.py) with pulumi 3.272.0; re-check on
every upgrade of either (tests/test_policies.py exercises all three).
"""

from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.policy import _NotApplicableError as NotApplicableError
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

__all__ = ["NotApplicableError", "UnknownValueError", "deserialize_properties", "unknown_checking_proxy"]
