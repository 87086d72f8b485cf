"""Shared test helpers: every test runs the real program under the mock harness (tools.harness)."""

from __future__ import annotations

import copy
import functools
from typing import Any

from tools import harness


def run_ok(
    stack: str,
    overrides: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    *,
    preview: bool = False,
) -> harness.ProgramRun:
    """Run the program (`preview=True`: as a preview); fail the test with the config report if it
    was rejected.

    A committed stack as it is (no overrides, no env) runs once per test process and mode and is
    shared: the tests only read a run. Any change of config or environment gets a run of its own.
    """
    if overrides is None and env is None:
        return _committed(stack, preview)
    run = harness.run_program(stack, overrides, env=env, preview=preview)
    assert run.error is None, run.error
    return run


@functools.cache
def _committed(stack: str, preview: bool) -> harness.ProgramRun:
    run = harness.run_program(stack, preview=preview)
    assert run.error is None, run.error
    return run


def config_error(stack: str, overrides: dict[str, Any]) -> str:
    """Run the program expecting a config rejection; return the report."""
    run = harness.run_program(stack, overrides)
    assert run.error is not None, "expected the config to be rejected"
    assert not run.resources, "no resource may be registered when the config is invalid"
    return run.error


def stack_value(stack: str, key: str) -> Any:
    """A deep copy of one structured value of a committed stack file."""
    return copy.deepcopy(harness.read_stack_config(stack)[f"{harness.PROJECT}:{key}"])
