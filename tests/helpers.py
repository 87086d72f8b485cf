"""Shared test helpers: every test runs the real program under the mock harness (tools.harness)."""

from __future__ import annotations

import copy
import json
from typing import Any

from pulumi.runtime import rpc

from tools import harness


def run_ok(
    stack: str,
    overrides: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    *,
    preview: bool = False,
) -> harness.ProgramRun:
    """Run the program (`preview=True`: as a preview); fail the test with the config report if it
    was rejected. The run is shared (see `shared_run`)."""
    run = shared_run(stack, overrides, env=env, preview=preview)
    assert run.error is None, run.error
    return run


_RUNS: dict[str, harness.ProgramRun] = {}


def shared_run(stack: str, overrides: dict[str, Any] | None = None, **options: Any) -> harness.ProgramRun:
    """harness.run_program, once per distinct stack, overrides and options in a test process.

    The tests only read a run (as they read the committed stacks' runs; none may change one), so
    the tests that need the same config share one run. A test that must see a run happen calls
    harness.run_program.
    """
    key = memo_key(stack, overrides, options)
    if key not in _RUNS:
        _RUNS[key] = harness.run_program(stack, overrides, **options)
    return _RUNS[key]


def memo_key(*parts: Any) -> str:
    """One string per distinct config: JSON, where a non-JSON value (DELETE, Secret(...), a Path)
    is its type and repr, so it cannot meet a plain string of the same text."""
    return json.dumps(parts, sort_keys=True, default=_marked)


def _marked(value: Any) -> list[str]:
    return ["<object>", type(value).__qualname__, repr(value)]


def config_error(stack: str, overrides: dict[str, Any]) -> str:
    """Run the program expecting a config rejection; return the report."""
    run = harness.run_program(stack, overrides)
    assert run.error is not None, "expected the config to be rejected"
    assert not run.resources, "no resource may be registered when the config is invalid"
    return run.error


def stack_value(stack: str, key: str) -> Any:
    """A deep copy of one structured value of a committed stack file."""
    return copy.deepcopy(harness.read_stack_config(stack)[f"{harness.PROJECT}:{key}"])


def result_outs(result: Any) -> dict[str, Any]:
    """A dynamic provider CRUD result's outputs (the SDK types them optional)."""
    assert result.outs is not None
    return dict(result.outs)


def unwrapped(value: Any) -> Any:
    """A value with every RPC secret wrapper removed, at any depth."""
    if rpc.is_rpc_secret(value):
        return unwrapped(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: unwrapped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrapped(v) for v in value]
    return value
