"""Salla Analytics data platform: ClickHouse Cloud, Upstash Redis and QStash, per stack."""

import pulumi

from settings import load_settings
from stack.build import build_stack, config_errors_reported

with config_errors_reported():
    settings = load_settings()

for name, value in build_stack(settings).items():
    pulumi.export(name, value)
