"""tests.ch_model answers the providers' reads in the server's shape: the same objects, loaded into
chdb from a users.xml (tests.chdb_server) and seeded into the model by SQL, give the same rows
(columns, value forms: access_type names, NULL database/table for global grants, 0/1 flags,
auth types and default-role columns) for the very queries the providers run."""

from __future__ import annotations

import json
from typing import Any

import pytest

from clickhouse_sql import inventory_queries, queries
from clickhouse_sql.profiles import Applies
from clickhouse_sql.queries import Query
from tests.ch_model import ClickHouseModel
from tests.chdb_server import SEED, server


@pytest.fixture(scope="module")
def chdb_rows() -> Any:
    connection = server()

    def rows(query: Query) -> tuple[list[str], list[tuple[Any, ...]]]:
        result = connection.query(
            query.sql, "JSONCompactEachRowWithNamesAndTypes", params=dict(query.parameters)
        )
        lines = [json.loads(line) for line in str(result).splitlines() if line.strip()]
        return lines[1], [tuple(row) for row in lines[2:]]

    return rows


@pytest.fixture(scope="module")
def model() -> ClickHouseModel:
    seeded = ClickHouseModel()
    seeded.seed(*SEED)
    return seeded


def normal(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(tuple(tuple(v) if isinstance(v, list) else v for v in row) for row in rows)


READS = [
    queries.role_privileges("analytics_read"),
    queries.role_privileges("analytics_write"),  # database, table and global (NULL database) rows
    queries.user_privileges("data_pipeline"),  # granted to the user directly, WITH GRANT OPTION
    queries.user_privileges("app"),
    queries.user_granted_roles("app"),
    queries.user_granted_roles("data_pipeline"),  # an extra role, DEFAULT ROLE ALL
    queries.role_granted_roles("analytics_read"),
    queries.user("app"),
    queries.user("data_pipeline"),
    queries.user("nobody"),
    queries.role_exists("analytics_write"),
    queries.role_exists("nobody"),
    inventory_queries.role_holders("analytics_read"),  # two users (one with more roles)
    inventory_queries.role_holders("analytics_write"),
    inventory_queries.namespace_users("data_"),  # the prefix is a parameter, not a LIKE pattern
    inventory_queries.namespace_users("nobody_"),
]


@pytest.mark.parametrize(
    "query", READS, ids=lambda q: f"{q.sql.split(' FROM ')[1].split()[0]}:{q.parameters}"
)
def test_the_model_answers_like_the_server(query: Query, chdb_rows: Any, model: ClickHouseModel) -> None:
    types, expected = chdb_rows(query)
    got = model.query(query.sql, query.parameters)
    assert all(len(row) == len(types) for row in got), types
    assert normal(got) == normal(expected)


def test_the_server_forms_the_providers_parse(chdb_rows: Any) -> None:
    # The server's own forms that clickhouse_sql.role/user parse, independent of the model.
    types, rows = chdb_rows(queries.role_privileges("analytics_write"))
    assert types[0].startswith("Enum16(") and types[1:] == ["Nullable(String)"] * 3 + ["UInt8"] * 2
    assert ("SHOW USERS", None, None, None, 0, 0) in rows  # global: database and table NULL
    assert ("INSERT", "other", "events", None, 0, 0) in rows
    assert chdb_rows(queries.user("data_pipeline"))[1] == [(["sha256_password"], 1, [], [])]
    show = str(server().query("SHOW GRANTS FOR data_pipeline", "TSVRaw")).splitlines()
    assert show == [
        "GRANT SELECT ON other.* TO data_pipeline WITH GRANT OPTION",
        "GRANT analytics_read, analytics_write TO data_pipeline",
    ]


def test_the_server_answers_the_inventorys_profile_and_quota_reads_in_the_shape_it_parses(
    chdb_rows: Any,
) -> None:
    # users.xml has the `default` profile and quota (the model has none): the columns and value
    # forms the inventory parses (clickhouse_sql.inventory: name, then Applies.of the rest).
    for query in (inventory_queries.all_profiles(), inventory_queries.all_quotas()):
        types, rows = chdb_rows(query)
        assert types == ["String", "UInt8", "Array(String)", "Array(String)"]
        named = {row[0]: Applies.of(row[1:]) for row in rows}
        assert "default" in named and not named["default"].all
    _, quotas = chdb_rows(inventory_queries.all_quotas())
    assert ("default", 0, ["default"], []) in quotas  # applied to the users.xml user `default`
