"""salla-analytics-bootstrap: the S3 state backend and KMS keys of salla-analytics-infra.

Self-contained: Pulumi runs this file with bootstrap/ on sys.path, so the program's own modules
(state_backend, bootstrap_config, bootstrap_access) import directly; nothing of the main project is used.
"""

from typing import TYPE_CHECKING

import pulumi

if TYPE_CHECKING:  # mypy, run from the repository root, knows the module as bootstrap.state_backend
    from bootstrap.state_backend import build_bootstrap
else:
    from state_backend import build_bootstrap

for name, value in build_bootstrap().items():
    pulumi.export(name, value)
