"""The only non-public SDK functions the tools use, in one place.

pulumi-policy has no public API to run a policy outside its analyzer server, so the offline
pre-flight (tools.policy_eval) repeats what the analyzer does with these three internals: turn
the engine's JSON properties into Python values, wrap them so that reading an unknown value
raises, and recognise a policy's `args.not_applicable(...)`. Checked against pulumi-policy
1.21.0 (pulumi_policy/deserialize.py, proxy.py, policy.py) with pulumi 3.272.0; re-check on
every upgrade of either (tests/test_policies.py exercises all three).

`serialize_provider` is the Pulumi SDK's own function that pickles a dynamic provider into the
`__provider` input (pulumi/dynamic/dynamic.py, pulumi 3.272.0): the clickhouse_sql tests use it to
check exactly what lands in the state. No public function returns those bytes.
"""

from pulumi.dynamic.dynamic import serialize_provider
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.policy import _NotApplicableError as NotApplicableError
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

__all__ = [
    "NotApplicableError",
    "UnknownValueError",
    "deserialize_properties",
    "serialize_provider",
    "unknown_checking_proxy",
]
