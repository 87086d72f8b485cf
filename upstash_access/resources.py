"""The Pulumi resources: RedisUser, RedisAclUsers, QStashCredentials.

Engine types: `pulumi-python:dynamic/upstash:<Name>`. The database's admin password is always a
secret input, and every token or key is a secret output (`additional_secret_outputs`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi.dynamic

from . import acl
from .inventory import RedisAclUsersProvider
from .qstash import SECRET_OUTPUTS, QStashCredentialsProvider
from .user import TOKENS, RedisUserProvider, labels

ADMIN_SECRETS = ["admin_password"]


def _options(
    opts: pulumi.ResourceOptions | None, secrets: Sequence[str], **forced: Any
) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions.merge(
        opts, pulumi.ResourceOptions(additional_secret_outputs=list(secrets), **forced)
    )


class RedisUser(pulumi.dynamic.Resource, module="upstash", name="RedisUser"):
    """A consumer's ACL user: exactly `key_patterns` and `rules`, one token per password label."""

    name: pulumi.Output[str]
    tokens: pulumi.Output[dict[str, str]]

    def __init__(
        self,
        resource_name: str,
        *,
        name: str,
        database: pulumi.Input[str],
        endpoint: pulumi.Input[Mapping[str, Any]],
        admin_password: pulumi.Input[str],
        key_patterns: Sequence[str],
        passwords: Sequence[str],
        retiring: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "name": acl.user_name(name),
            "database": database,
            "endpoint": endpoint,
            "admin_password": pulumi.Output.secret(admin_password),
            "key_patterns": acl.key_patterns(list(key_patterns)),
            "rules": list(acl.COMMAND_RULES),
            "passwords": labels(list(passwords)),
            "retiring": retiring,
            TOKENS: None,
            "acl": None,
            "drift": None,
        }
        options = _options(opts, [*ADMIN_SECRETS, TOKENS], delete_before_replace=True)
        super().__init__(RedisUserProvider(), resource_name, props, options)


class RedisAclUsers(pulumi.dynamic.Resource, module="upstash", name="RedisAclUsers"):
    """The database's complete user list: any user besides `default` and `users` is drift."""

    def __init__(
        self,
        resource_name: str,
        *,
        database: pulumi.Input[str],
        endpoint: pulumi.Input[Mapping[str, Any]],
        admin_password: pulumi.Input[str],
        users: Sequence[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "database": database,
            "endpoint": endpoint,
            "admin_password": pulumi.Output.secret(admin_password),
            "users": sorted(acl.user_name(u) for u in users),
            "drift": None,
        }
        super().__init__(RedisAclUsersProvider(), resource_name, props, _options(opts, ADMIN_SECRETS))


class QStashCredentials(pulumi.dynamic.Resource, module="upstash", name="QStashCredentials"):
    """The account's QStash token and signing keys (read from the Upstash API; rotation by label)."""

    token: pulumi.Output[str]
    current_signing_key: pulumi.Output[str]
    next_signing_key: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        account: str,
        signing_key_rotation: str = "",
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "account": account,
            "signing_key_rotation": signing_key_rotation,
            "token": None,
            "current_signing_key": None,
            "next_signing_key": None,
            "qstash_user_id": None,
            "rotation_base": None,
            "drift": None,
        }
        super().__init__(QStashCredentialsProvider(), resource_name, props, _options(opts, SECRET_OUTPUTS))
