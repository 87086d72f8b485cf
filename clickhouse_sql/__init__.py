"""ClickHouse SQL access objects (database, role, grant, user) as Pulumi dynamic resources.

No Pulumi provider package manages ClickHouse users, roles or grants, so these resources run the
SQL themselves over the service's HTTPS endpoint with clickhouse-connect:

    statements  pure SQL builders, identifier/literal validation and quoting
    queries     the system-table reads (server-side parameters)
    login       the SQL login from the environment (CLICKHOUSE_SQL_USER/_PASSWORD) and its errors
    endpoint    the `connection` property ({host, port}) joined with the login for one operation
    client      executor protocol, clickhouse-connect executor, bounded retry, error scrubbing
    base        the common provider: observe -> converge (create/update), drift (read), diff
    adoption    a create that finds its object stops unless adopted
    inventory   the access inventory: role holders, the namespace, what applies to consumers
    database, role, grant, user, settings_profile, quota   one provider per kind (profiles: shared)
    provider    re-exports the providers (states reference `clickhouse_sql.provider.<Name>Provider`)
    resources   the pulumi.dynamic.Resource subclasses (this package's public API)
"""

from clickhouse_sql.access_inventory import AccessInventory
from clickhouse_sql.client import ClickHouseSQLError, ClickHouseUnreachableError, Connection, Endpoint
from clickhouse_sql.login import ClickHouseLoginError
from clickhouse_sql.resources import Database, Grant, Quota, Role, SettingsProfile, User

__all__ = [
    "AccessInventory",
    "ClickHouseLoginError",
    "ClickHouseSQLError",
    "ClickHouseUnreachableError",
    "Connection",
    "Database",
    "Endpoint",
    "Grant",
    "Quota",
    "Role",
    "SettingsProfile",
    "User",
]
