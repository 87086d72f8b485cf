"""The dynamic providers, one module per kind (database, role, grant, user, settings_profile,
quota) over a common base (base). This module re-exports them: states written by earlier
deployments pickle `clickhouse_sql.provider.<Name>Provider` by reference, so keep it."""

from clickhouse_sql.base import PreciseDiff, SqlProvider
from clickhouse_sql.database import DatabaseProvider
from clickhouse_sql.endpoint import connection_of
from clickhouse_sql.grant import GrantProvider
from clickhouse_sql.inventory import AccessInventoryProvider
from clickhouse_sql.quota import QuotaProvider
from clickhouse_sql.role import RoleProvider
from clickhouse_sql.settings_profile import SettingsProfileProvider
from clickhouse_sql.user import UserProvider
from dynamic_props import PROVIDER_KEY, is_known, plain

__all__ = [
    "PROVIDER_KEY",
    "AccessInventoryProvider",
    "DatabaseProvider",
    "GrantProvider",
    "PreciseDiff",
    "QuotaProvider",
    "RoleProvider",
    "SettingsProfileProvider",
    "SqlProvider",
    "UserProvider",
    "connection_of",
    "is_known",
    "plain",
]
