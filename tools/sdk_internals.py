"""The only non-public SDK (and asyncio) functions the tools use, in one place.

pulumi-policy has no public API to run a policy outside its analyzer server, so the offline
pre-flight (tools.policy_eval) repeats what the analyzer does with these three internals: turn
the engine's JSON properties into Python values, wrap them so that reading an unknown value
raises, and recognise a policy's `args.not_applicable(...)`. Checked against pulumi-policy
1.21.0 (pulumi_policy/deserialize.py, proxy.py, policy.py) with pulumi 3.272.0; re-check on
every upgrade of either (tests/test_policies.py exercises all three).

`serialize_provider` is the Pulumi SDK's own function that pickles a dynamic provider into the
`__provider` input (pulumi/dynamic/dynamic.py, pulumi 3.272.0): the clickhouse_sql tests use it to
check exactly what lands in the state. No public function returns those bytes.

That function patches `pickle._Pickler._batch_setitems` and `save_dict` (to sort dicts) and never
restores them: every call wraps the previous wrapper once more, so after ~1000 dynamic resources
in one process pickling exceeds the recursion limit (RecursionError). One `pulumi up` declares a
few dozen; the tests and `make validate` run many programs in one process, so they run each
program, and each direct serialization, inside `pickler_restored()`.

`without_source_positions` stubs `pulumi.runtime.resource._get_stack_trace` (pulumi 3.272.0) while
a program runs under the mock monitor. The SDK walks the whole Python stack for every resource
it registers (each frame turned into a file URI) to tell the engine where the resource was
declared; the mock monitor discards that, and under pytest the stack is some sixty frames deep,
which made it a tenth of the test suite's time. Nothing else changes: the requests carry an empty
stack trace and no source position, as for a resource declared outside user code.

`inline_rpcs` gives a mocked run an event loop of its own whose default executor runs each call
at once in the loop's thread. The SDK sends every monitor call through
`loop.run_in_executor(None, ...)` (pulumi/runtime/resource.py, stack.py, invoke.py, settings.py):
against the engine's gRPC server a thread keeps the loop free while the engine works, but the mock
monitor answers in-process in microseconds, and handing each call to a pool thread and back (GIL
hand-offs, wake-ups of the loop's selector) was about a quarter of a mocked run's time. The calls
run in the same order, with the same requests and the same answers; the caller's loop is current
again afterwards. Each call runs as it would in a pool thread: with no running loop and a current
loop of its own (the mock monitor pumps one to serialize each answer), which asyncio's
`_get_running_loop`/`_set_running_loop` (its hooks for event loop implementations) make possible.
"""

import asyncio
import pickle
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pulumi.runtime.resource as _resource
from pulumi.dynamic.dynamic import serialize_provider as _sdk_serialize_provider
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.policy import _NotApplicableError as NotApplicableError
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

__all__ = [
    "NotApplicableError",
    "UnknownValueError",
    "deserialize_properties",
    "pickler_restored",
    "serialize_provider",
    "unknown_checking_proxy",
    "without_source_positions",
]

_PATCHED = ("_batch_setitems", "save_dict")


@contextmanager
def pickler_restored() -> Iterator[None]:
    """Undo, on exit, what the SDK's serialize_provider leaves patched on pickle's pure-Python Pickler."""
    pickler: Any = pickle._Pickler  # the pure-Python pickler the SDK patches
    saved = {name: pickler.__dict__[name] for name in _PATCHED}
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(pickler, name, value)


def serialize_provider(provider: Any) -> str:
    """The SDK's serialize_provider (the `__provider` input), leaving pickle as it found it."""
    with pickler_restored():
        return str(_sdk_serialize_provider(provider))


@contextmanager
def without_source_positions() -> Iterator[None]:
    """Registrations carry no source position (only for the mock monitor, which ignores them)."""
    original = _resource._get_stack_trace
    empty = type(original())()  # an empty StackTrace message
    _resource._get_stack_trace = lambda: empty
    try:
        yield
    finally:
        _resource._get_stack_trace = original


class _InlineExecutor(ThreadPoolExecutor):
    """Runs each call at once in the calling thread, as a pool thread would run it: with no running
    event loop and a current loop of its own (the mock monitor pumps one for each answer). asyncio
    takes only a ThreadPoolExecutor as a loop's default executor."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self._own_loop = asyncio.new_event_loop()

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        running = asyncio.events._get_running_loop()
        asyncio.events._set_running_loop(None)
        asyncio.set_event_loop(self._own_loop)
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to the awaiting coroutine, as from a thread
            future.set_exception(exc)
        finally:
            asyncio.set_event_loop(running)
            asyncio.events._set_running_loop(running)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._own_loop.close()
        super().shutdown(wait, cancel_futures=cancel_futures)


@contextmanager
def inline_rpcs() -> Iterator[None]:
    """The run on an event loop of its own, whose executor runs the (mock) monitor's calls inline."""
    try:
        previous: asyncio.AbstractEventLoop | None = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:  # none to return to (a thread without one, or after asyncio.run)
        previous = None
    loop = asyncio.new_event_loop()
    loop.set_default_executor(_InlineExecutor())
    asyncio.set_event_loop(loop)
    try:
        yield
    finally:
        asyncio.set_event_loop(previous)
        loop.close()
