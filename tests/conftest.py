"""Fixtures: the committed stacks, each run fresh per test under the mock harness."""

from __future__ import annotations

import pytest

from tools import harness
from tests.helpers import run_ok


@pytest.fixture
def dev() -> harness.ProgramRun:
    return run_ok("dev")


@pytest.fixture
def prod() -> harness.ProgramRun:
    return run_ok("prod")
