"""ClickHouse SQL access objects (database, role, grant, user) as Pulumi dynamic resources.

No Pulumi provider package manages ClickHouse users, roles or grants, so these resources run the
SQL themselves over the service's HTTPS endpoint with clickhouse-connect:

    statements  pure SQL builders, identifier/literal validation and quoting
    client      executor protocol, clickhouse-connect executor, bounded retry, error scrubbing
    provider    the pulumi.dynamic.ResourceProvider subclasses (CRUD, diff, refresh)
    resources   the pulumi.dynamic.Resource subclasses (this package's public API)
"""

from clickhouse_sql.client import ClickHouseSQLError, ClickHouseUnreachableError, Connection
from clickhouse_sql.resources import Database, Grant, Role, User

__all__ = [
    "ClickHouseSQLError",
    "ClickHouseUnreachableError",
    "Connection",
    "Database",
    "Grant",
    "Role",
    "User",
]
