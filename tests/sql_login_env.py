"""The SQL login every test runs with unless it says otherwise (tests/conftest.py sets it): the
deploy job's `provisioner`, as the clickhouse_sql provider reads it from the environment."""

SQL_USER = "provisioner"
SQL_PASSWORD = "Prov-S3cret-Pw!"
SQL_LOGIN = {"CLICKHOUSE_SQL_USER": SQL_USER, "CLICKHOUSE_SQL_PASSWORD": SQL_PASSWORD}
