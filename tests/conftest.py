"""Fixtures: the committed stacks, each run fresh per test under the mock harness."""

from __future__ import annotations

import pytest

from tests.helpers import run_ok
from tools import harness


@pytest.fixture
def dev() -> harness.ProgramRun:
    return run_ok("dev")


@pytest.fixture
def prod() -> harness.ProgramRun:
    return run_ok("prod")
