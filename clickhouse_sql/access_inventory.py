"""The AccessInventory resource (engine type `pulumi-python:dynamic/clickhouse:AccessInventory`).

One per service (clickhouse_sql.inventory): everything on the server that touches the project's
roles, consumers and namespace besides the project's own objects is its drift, repaired by the
deploy that follows a refresh. Like every SQL resource (resources.py), `connection` is the endpoint
`{host, port}` only (not secret: the login comes from the environment) and `stack` names the stack.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi.dynamic

from clickhouse_sql.base import STACK
from clickhouse_sql.client import Endpoint
from clickhouse_sql.inventory import AccessInventoryProvider, names, namespace
from clickhouse_sql.resources import NO_SECRETS, _options


class AccessInventory(pulumi.dynamic.Resource, module="clickhouse", name="AccessInventory"):
    """Who holds the project's `roles`, what is in the `namespace`, what applies to the consumers.

    `users`, `profiles`, `quotas`: the consumers' declared objects (their own resources own them);
    `operators`: users that may hold the roles besides the consumers (the provisioning user).
    """

    found: pulumi.Output[list[str]]
    repair: pulumi.Output[list[str]]

    def __init__(
        self,
        resource_name: str,
        *,
        name: str,
        roles: Sequence[str],
        namespace_prefix: str,
        users: Sequence[str],
        profiles: Sequence[str],
        quotas: Sequence[str],
        operators: Sequence[str],
        connection: pulumi.Input[Endpoint],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "name": name,
            "roles": names(list(roles)),
            "namespace": namespace(namespace_prefix),
            "users": names(list(users)),
            "profiles": names(list(profiles)),
            "quotas": names(list(quotas)),
            "operators": names(list(operators)),
            "connection": connection,
            STACK: pulumi.get_stack(),
            "drift": None,
            "found": None,
            "repair": None,
            "retiring": False,
        }
        options = _options(opts, NO_SECRETS)
        super().__init__(AccessInventoryProvider(), resource_name, props, options)
