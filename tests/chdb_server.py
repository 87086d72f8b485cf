"""A read-only ClickHouse access-control server in-process: chdb with a `users.xml`.

chdb cannot create users or roles by SQL (no writable access storage), but it loads users, roles
and their grants from the `users_config` of a `config-file`, and then answers system.users,
system.grants, system.role_grants and SHOW GRANTS for them exactly as the server does. Its
`default` user (every chdb query runs as it) gets `access_management` so it may read them.

One connection per process (`server()`, cached: importing and starting chdb is slow); the
loopback HTTP server of test_clickhouse_sql_transport runs its SELECTs on it, and
test_clickhouse_sql_model compares tests.ch_model's rows with it. `SEED` is the same state as
statements for tests.ch_model (as an admin would have run them).
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import tempfile
from pathlib import Path
from typing import Any

APP_HEX = hashlib.sha256(b"app-password-one").hexdigest()
PIPELINE_HEX = hashlib.sha256(b"pipeline-password").hexdigest()

USERS_XML = f"""<clickhouse>
  <users>
    <default>
      <password></password>
      <networks><ip>::1</ip><ip>127.0.0.1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
      <access_management>1</access_management>
    </default>
    <app>
      <password_sha256_hex>{APP_HEX}</password_sha256_hex>
      <grants><query>GRANT analytics_read</query></grants>
    </app>
    <data_pipeline>
      <password_sha256_hex>{PIPELINE_HEX}</password_sha256_hex>
      <grants>
        <query>GRANT analytics_write</query>
        <query>GRANT analytics_read</query>
        <query>GRANT SELECT ON other.* WITH GRANT OPTION</query>
      </grants>
    </data_pipeline>
  </users>
  <roles>
    <analytics_read>
      <grants><query>GRANT SELECT ON analytics.*</query></grants>
    </analytics_read>
    <analytics_write>
      <grants>
        <query>GRANT SELECT, INSERT, CREATE TABLE, ALTER TABLE, DROP TABLE ON analytics.*</query>
        <query>GRANT INSERT ON other.events</query>
        <query>GRANT SHOW USERS ON *.*</query>
      </grants>
    </analytics_write>
  </roles>
  <profiles><default/></profiles>
  <quotas><default/></quotas>
</clickhouse>
"""

# The same objects as statements for tests.ch_model (users.xml users have every role as default).
SEED = (
    "CREATE ROLE IF NOT EXISTS `analytics_read`",
    "CREATE ROLE IF NOT EXISTS `analytics_write`",
    "GRANT SELECT ON `analytics`.* TO `analytics_read`",
    "GRANT SELECT, INSERT, CREATE TABLE, ALTER TABLE, DROP TABLE ON `analytics`.* TO `analytics_write`",
    "GRANT INSERT ON `other`.`events` TO `analytics_write`",
    "GRANT SHOW USERS ON *.* TO `analytics_write`",
    f"CREATE USER `app` IDENTIFIED WITH sha256_hash BY '{APP_HEX}'",
    "GRANT `analytics_read` TO `app`",
    f"CREATE USER `data_pipeline` IDENTIFIED WITH sha256_hash BY '{PIPELINE_HEX}'",
    "GRANT `analytics_write` TO `data_pipeline`",
    "GRANT `analytics_read` TO `data_pipeline`",
    "GRANT SELECT ON `other`.* TO `data_pipeline` WITH GRANT OPTION",
)


@functools.cache
def server() -> Any:
    """The process's chdb connection over USERS_XML (its files live as long as the process)."""
    import chdb

    directory = Path(tempfile.mkdtemp(prefix="chdb-access-"))
    (directory / "users.xml").write_text(USERS_XML)
    config = directory / "config.xml"
    config.write_text(f"<clickhouse><users_config>{directory / 'users.xml'}</users_config></clickhouse>")
    connect: Any = chdb.connect  # untyped
    connection = connect(f":memory:?config-file={config}")
    # Closed before the interpreter's teardown, which the suite leaves to the OS (tests/conftest).
    atexit.register(connection.close)
    return connection
