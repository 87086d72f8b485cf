"""Clean errors reach the engine as their message only, without a Python traceback.

The installed SDK's dynamic provider host (pulumi/dynamic/__main__.py) wraps Check, Diff, Create,
Update, Delete and Read in `_abort_with_traceback`:

    except Exception:
        context.abort(grpc.StatusCode.UNKNOWN, traceback.format_exc())

so whatever a provider raises reaches the engine (and the user) as a full traceback, one per
resource; the host offers no hook, and its servicer's methods are bound into the gRPC server
before any provider module is imported. What it looks up at call time is `traceback.format_exc`:
`install()` wraps that function so that, for the errors this package words for a user
(ClickHouseSQLError, ClickHouseUnreachableError, ClickHouseLoginError: each names the object, the
cause and the fix, secrets scrubbed), the text is the message alone. Every other exception (a bug)
keeps its traceback. Installed when clickhouse_sql.base is imported, which the host does when it
unpickles a provider; idempotent.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable

_MARK = "_clickhouse_sql_clean"

# Set by install(): the exception types whose text is shown without a traceback.
CLEAN_TYPES: tuple[type[BaseException], ...] = ()


def install(*clean: type[BaseException]) -> None:
    """Make `traceback.format_exc()` return only the message for exceptions of the `clean` types."""
    global CLEAN_TYPES
    CLEAN_TYPES = tuple(dict.fromkeys((*CLEAN_TYPES, *clean)))
    if getattr(traceback.format_exc, _MARK, False):
        return
    original: Callable[..., str] = traceback.format_exc

    def format_exc(limit: int | None = None, chain: bool = True) -> str:
        exc = sys.exc_info()[1]
        if exc is not None and isinstance(exc, CLEAN_TYPES):
            return f"{exc}\n"
        return original(limit, chain)

    setattr(format_exc, _MARK, True)
    setattr(traceback, "format_exc", format_exc)  # noqa: B010  (a module attribute, on purpose)
