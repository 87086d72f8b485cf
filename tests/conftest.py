"""Fixtures: the committed stacks as they are, run once per test process under the mock harness."""

from __future__ import annotations

import pytest

from tests.helpers import run_ok
from tools import harness


@pytest.fixture(scope="session")
def dev() -> harness.ProgramRun:
    return run_ok("dev")


@pytest.fixture(scope="session")
def prod() -> harness.ProgramRun:
    return run_ok("prod")
