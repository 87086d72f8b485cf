"""Allowed values taken from the providers and their clouds.

Sources (checked 2026-11):
- ClickHouse Cloud supported regions (docs "Supported cloud regions", public and private
  regions); private regions need the ClickHouse team to enable them for the organisation.
- ClickHouse Terraform provider v3.11.1 (pulumiverse-clickhouse 2.0.4) backup validators.
- upstash-pulumi 0.5.0 RedisDatabase schema: regions accepted for `primary_region`/`read_regions`.
Update these sets when a provider upgrade widens them.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

CLICKHOUSE_REGIONS: dict[str, frozenset[str]] = {
    "aws": frozenset(
        {
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-south-1",
            "ap-southeast-1",
            "ap-southeast-2",
            "eu-central-1",
            "eu-west-1",
            "eu-west-2",
            "us-east-1",
            "us-east-2",
            "us-west-2",
            "il-central-1",
            "ca-central-1",
            # private regions
            "af-south-1",
            "eu-north-1",
            "sa-east-1",
            "ap-southeast-3",
            "ap-east-1",
            "mx-central-1",
        }
    ),
    "gcp": frozenset(
        {
            "asia-southeast1",
            "asia-northeast1",
            "europe-west2",
            "europe-west4",
            "us-central1",
            "us-east1",
            # private regions
            "australia-southeast1",
            "europe-west3",
            "europe-west6",
            "northamerica-northeast1",
        }
    ),
    "azure": frozenset({"eastus2", "westus3", "germanywestcentral"}),
}

# Default region per cloud when `dataWarehouse.region` is not set.
CLICKHOUSE_DEFAULT_REGION = {"aws": "us-east-1", "gcp": "us-east1", "azure": "eastus2"}

CLICKHOUSE_BACKUP_PERIOD_HOURS = frozenset({6, 8, 12, 16, 20, 24, 36, 48})
CLICKHOUSE_BACKUP_RETENTION_HOURS = frozenset({24, 48, 72, 96, 120, 144, 168, 336, 504, 672, 720})
CLICKHOUSE_RELEASE_CHANNELS = ("default", "fast", "slow")
CLICKHOUSE_MIN_IDLE_TIMEOUT_MINUTES = 5
# Replica memory bounds (GiB) for autoscaling: multiples of 4 from 8 to 356.
CLICKHOUSE_REPLICA_MEMORY_MIN_GB = 8
CLICKHOUSE_REPLICA_MEMORY_MAX_GB = 356
CLICKHOUSE_REPLICA_MEMORY_STEP_GB = 4

UPSTASH_REDIS_REGIONS = frozenset(
    {
        "us-east-1",
        "us-west-1",
        "us-west-2",
        "eu-central-1",
        "eu-west-1",
        "sa-east-1",
        "ap-southeast-1",
        "ap-southeast-2",
    }
)


def sorted_values(values: Collection[Any]) -> str:
    return ", ".join(str(v) for v in sorted(values))
