"""tools.harness itself: what a mocked run leaves behind in the test process."""

from __future__ import annotations

import asyncio
import pickle
import threading

from tools import harness


def test_a_run_keeps_the_callers_event_loop_and_starts_no_thread() -> None:
    loop = asyncio.get_event_loop_policy().get_event_loop()
    threads = set(threading.enumerate())
    patched = {name: pickle._Pickler.__dict__[name] for name in ("_batch_setitems", "save_dict")}

    run = harness.run_program("dev", {"tags": {"team": "data"}})  # not a shared run: this one runs

    assert run.error is None and run.resources
    # The monitor's calls ran inline on a loop of the run's own: the caller's loop is current
    # again, still open, and no executor thread was started (or left behind).
    assert asyncio.get_event_loop_policy().get_event_loop() is loop and not loop.is_closed()
    assert set(threading.enumerate()) == threads
    # The SDK's pickle patch (tools.sdk_internals) is undone.
    assert {name: pickle._Pickler.__dict__[name] for name in patched} == patched
