"""salla-analytics-bootstrap: the S3 state backend and KMS secrets key of salla-analytics-infra."""

import pulumi
from state_backend import build_bootstrap  # type: ignore[import-not-found]

for name, value in build_bootstrap().items():
    pulumi.export(name, value)
