"""salla-analytics-bootstrap: the S3 state backend and KMS secrets key of salla-analytics-infra."""

import sys
from pathlib import Path

import pulumi

# Share the main project's modules (its config-error format) when run from bootstrap/.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from state_backend import build_bootstrap  # type: ignore[import-not-found]

for name, value in build_bootstrap().items():
    pulumi.export(name, value)
