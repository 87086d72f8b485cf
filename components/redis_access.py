"""A Redis ACL user per consumer of a database, and the database's complete user list.

Each consumer with `redis: cache|pipeline` gets user `salla_<consumer>` on that database with the
rules of upstash_access.acl (reads and writes on its key patterns only), one token per label in
its `passwords` (the newest handed out), protected with the stack unless the consumer is retired.
The database's `default` password is only ever a secret input of these resources: no consumer
output carries it, nor the database's own REST tokens.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import upstash_pulumi as upstash

from settings import Consumer, RedisDatabase
from settings.consumers import sql_user_name
from settings.redis import consumer_key_patterns
from upstash_access.resources import RedisAclUsers, RedisUser

from .urls import credential_url


@dataclass(frozen=True)
class RedisAccess:
    """What one consumer's client needs (secret Outputs but rest_url): its own user and token."""

    url: pulumi.Output[str]
    rest_url: pulumi.Output[str]
    rest_token: pulumi.Output[str]


def _token(label: str, tokens: Mapping[str, str]) -> str:
    return tokens[label]


def consumer_users(
    name: str,
    database: upstash.RedisDatabase,
    settings: RedisDatabase,
    consumers: Mapping[str, Consumer],
    kind: str,
    *,
    rest_url: pulumi.Output[str],
    parent: pulumi.Resource,
    protect: bool,
) -> dict[str, RedisAccess]:
    """A user on `database` for each consumer with `redis: <kind>`; returns each one's access."""
    consumers = {n: c for n, c in consumers.items() if c.redis == kind}
    endpoint = pulumi.Output.all(database.endpoint, database.port).apply(
        lambda parts: {"host": parts[0], "port": parts[1]}
    )
    access: dict[str, RedisAccess] = {}
    for consumer, c in consumers.items():
        newest = c.passwords[-1]
        user = RedisUser(
            f"{name}-{consumer}-user",
            name=sql_user_name(consumer),  # its Redis user has its SQL user's name
            database=database.database_id,
            endpoint=endpoint,
            admin_password=database.password,
            key_patterns=consumer_key_patterns(settings, c.key_prefix),
            passwords=c.passwords,
            retiring=c.retire,
            opts=pulumi.ResourceOptions(parent=parent, protect=protect and not c.retire),
        )
        # `tokens` is a secret output: everything built from it stays secret.
        token = user.tokens.apply(functools.partial(_token, newest))
        url = pulumi.Output.all(user.name, token, database.endpoint, database.port).apply(
            lambda parts: credential_url("rediss", *parts)
        )
        # The REST token is the GENTOKEN token itself (upstash_access.extensions).
        access[consumer] = RedisAccess(url=url, rest_url=rest_url, rest_token=token)
    RedisAclUsers(
        f"{name}-acl-users",
        database=database.database_id,
        endpoint=endpoint,
        admin_password=database.password,
        users=[sql_user_name(c) for c in consumers],
        opts=pulumi.ResourceOptions(parent=parent, protect=protect),
    )
    return access
