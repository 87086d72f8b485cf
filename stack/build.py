"""Builds the stack from validated settings: providers, the three components, the contract."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pulumi

from components import (
    AsyncMessaging,
    AsyncMessagingArgs,
    DataWarehouse,
    DataWarehouseArgs,
    ServerlessCache,
    ServerlessCacheArgs,
)
from settings import ConfigErrors, StackSettings
from stack.contract import contract_outputs
from stack.providers import build_providers


def build_stack(settings: StackSettings) -> dict[str, pulumi.Output[Any]]:
    providers = build_providers(settings)
    warehouse = DataWarehouse(
        "warehouse",
        DataWarehouseArgs(
            settings=settings.warehouse,
            admin_password=settings.secrets.clickhouse_admin_password,
            tags=settings.tags,
            protect=settings.protect,
        ),
        providers.opts(),
    )
    cache = ServerlessCache(
        "cache",
        ServerlessCacheArgs(settings=settings.cache, protect=settings.protect),
        providers.opts(),
    )
    messaging = AsyncMessaging(
        "messaging",
        AsyncMessagingArgs(
            settings=settings.messaging,
            qstash_token=settings.secrets.qstash_token,
            current_signing_key=settings.secrets.qstash_current_signing_key,
            next_signing_key=settings.secrets.qstash_next_signing_key,
        ),
        providers.opts(),
    )
    return contract_outputs(warehouse, cache, messaging)


@contextlib.contextmanager
def config_errors_reported() -> Iterator[None]:
    """Turn config problems into one clean engine error instead of a Python stack trace."""
    try:
        yield
    except ConfigErrors as errors:
        raise pulumi.RunError(errors.render()) from None
