"""ClickHouse SQL access objects (database, role, grant, user) as Pulumi dynamic resources.

No Pulumi provider package manages ClickHouse users, roles or grants, so these resources run the
SQL themselves over the service's HTTPS endpoint with clickhouse-connect:

    statements  pure SQL builders, identifier/literal validation and quoting
    queries     the system-table reads (server-side parameters)
    client      executor protocol, clickhouse-connect executor, bounded retry, error scrubbing
    base        the common provider: observe -> converge (create/update), drift (read), diff
    adoption    a create that finds its object stops unless adopted
    inventory   the access inventory: role holders, the namespace, what applies to consumers
    database, role, grant, user, settings_profile, quota   one provider per kind (profiles: shared)
    provider    re-exports the providers (states reference `clickhouse_sql.provider.<Name>Provider`)
    resources   the pulumi.dynamic.Resource subclasses (this package's public API)
"""

from clickhouse_sql.access_inventory import AccessInventory
from clickhouse_sql.client import ClickHouseSQLError, ClickHouseUnreachableError, Connection
from clickhouse_sql.resources import Database, Grant, Quota, Role, SettingsProfile, User

__all__ = [
    "AccessInventory",
    "ClickHouseSQLError",
    "ClickHouseUnreachableError",
    "Connection",
    "Database",
    "Grant",
    "Quota",
    "Role",
    "SettingsProfile",
    "User",
]
