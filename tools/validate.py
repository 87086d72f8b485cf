"""`make validate STACK=<stack>`: offline guardrail pre-flight for one stack.

Runs the real program under mocks with Pulumi.<stack>.yaml (placeholder secrets), then every
policy of the CrossGuard pack with policy/config/<stack>.json. No Pulumi CLI, no credentials,
no network. Exit codes: 0 clean (advisories allowed), 1 mandatory violation, 2 config error.
This is a pre-flight check; `pulumi preview --policy-pack policy` remains the real gate.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .policy_eval import Finding


def render(findings: list[Finding]) -> str:
    rows = [("POLICY", "RESOURCE", "LEVEL", "MESSAGE")]
    rows += [(f.policy, f.resource, f.level, f.message) for f in findings]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) if i < 3 else cell for i, cell in enumerate(row)) for row in rows
    )


def accepted_configs() -> Path | None:
    """Where the policy configs jsonschema accepted are remembered (tools.policy_config): in the
    virtualenv this runs in; outside one (a system Python), nowhere: every config is checked."""
    return Path(sys.prefix) / ".accepted-policy-configs" if sys.prefix != sys.base_prefix else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make validate", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="stack name (dev, prod)")
    parser.add_argument(
        "--stack-file", type=Path, help="check this stack file instead of Pulumi.<stack>.yaml"
    )
    parser.add_argument(
        "--policy-config", type=Path, help="use this policy config instead of policy/config/<stack>.json"
    )
    parser.add_argument(
        "--preview", action="store_true", help="run as a preview: values only the cloud knows are unknown"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    # Imported once the arguments are known: the program's and the pack's dependencies are most
    # of the run time (`--help` and a usage error need none of them).
    from policy.guardrails import PACK_NAME, POLICIES

    from .harness import read_stack_config, run_program
    from .policy_config import PolicyConfigError, load_policy_config, resolve
    from .policy_eval import evaluate

    mode = " (preview: computed values unknown)" if args.preview else ""
    print(
        "Pre-flight guardrail check (offline, mocked providers) - "
        f"stack '{args.stack}', pack {PACK_NAME}{mode}"
    )
    try:
        policy_config = load_policy_config(args.stack, args.policy_config)
        settings = resolve(POLICIES, policy_config, accepted_configs())
        config = read_stack_config(args.stack, args.stack_file)
        run = run_program(args.stack, stack_config=config, preview=args.preview)
    except (PolicyConfigError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if run.error:
        print(f"error: {run.error}", file=sys.stderr)
        return 2
    findings = evaluate(run, POLICIES, settings)
    mandatory = [f for f in findings if f.level == "mandatory"]
    advisory = [f for f in findings if f.level == "advisory"]
    checked = sum(1 for r in run.resources if r.custom)
    if findings:
        print(render(findings))
    elapsed = time.perf_counter() - started
    print(
        f"{len(POLICIES)} policies over {checked} resources: {len(mandatory)} mandatory, "
        f"{len(advisory)} advisory violation(s) [{elapsed:.2f}s]"
    )
    if mandatory:
        print("FAILED: fix the mandatory violations above before `pulumi up`.", file=sys.stderr)
        return 1
    print("OK: no mandatory violation.")
    return 0


if __name__ == "__main__":
    # A short-lived process that allocates a lot while importing and frees little: the cyclic
    # collector would only spend time (as in mypy, which also leaves without teardown).
    gc.disable()
    # Pydantic looks for plugins among every installed distribution's entry points the first time
    # it builds a model; the pre-flight uses none (and the lock installs none).
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    code = main()
    # Leave without the interpreter's teardown (as mypy does): finalising the runtime's modules,
    # threads and per-thread event loops costs more than the check itself and, left to shutdown,
    # the loops' sockets print spurious "Invalid file descriptor" noise. Nothing is left to flush.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
