"""`make provisioner STACK=<stack>`: create or converge the `provisioner` and `observer` SQL users.

    python -m ops.provisioner --stack prod                       # host/port from `pulumi stack output`
    python -m ops.provisioner --stack prod --host <restored host> --port 8443
    python -m ops.provisioner --stack prod --rotate provisioner  # rotation step 1 (docs/provisioning.md)
    python -m ops.provisioner --stack prod --legacy              # during the namespace migration only

Deploy jobs manage the SQL objects as `provisioner`; previews, plans and drift jobs read them as
the read-only `observer` (the SQL provider takes its login from CLICKHOUSE_SQL_USER and
CLICKHOUSE_SQL_PASSWORD). Neither is the admin `default`, so no job holds the admin password. This
step, run once per service by the platform team, is the only one that uses it:

0. it refuses, before asking for anything, unless the checkout is a clean commit on the remote's
   main (ops.reviewed_code; `--break-glass` proceeds with a warning);
1. the database (and, with --legacy, the consumers' former user names) come from
   Pulumi.<stack>.yaml (checked: a mistake there is one clean error, ops.stack_file), host and
   port from the stack's (non-secret) outputs or --host/--port; the
   two users' passwords from CLICKHOUSE_PROVISIONER_PASSWORD / CLICKHOUSE_OBSERVER_PASSWORD or
   getpass prompts (typed twice); they are never printed: the operator stores them as the GitHub
   environment secret CLICKHOUSE_SQL_PASSWORD (docs/provisioning.md);
2. the exact statements are printed first, the passwords only as placeholders, and nothing runs
   without a typed `yes`;
3. the admin password is typed at a getpass prompt (never echoed, stored or printed; errors are
   scrubbed), and the statements (ops.provisioner_sql) run over HTTPS with clickhouse-connect.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TextIO

from clickhouse_sql.client import Connection, Executor, failures, open_clickhouse, scrub
from ops import stack_file as stack_file_module
from ops.provisioner_sql import PLACEHOLDERS, ProvisionerError, statements
from ops.reviewed_code import UnreviewedCode, require_reviewed
from ops.stack_file import StackFile
from settings.passwords import OBSERVER_USER, PROVISIONER_USER, password_problems, sha256_hex
from tools.project import PROJECT, ROOT

USERS = (PROVISIONER_USER, OBSERVER_USER)
STACK_NAME = re.compile(r"[A-Za-z0-9_.-]+")
PASSWORD_ENV = {
    PROVISIONER_USER: "CLICKHOUSE_PROVISIONER_PASSWORD",
    OBSERVER_USER: "CLICKHOUSE_OBSERVER_PASSWORD",
}
# Where each password goes: the secret CLICKHOUSE_SQL_PASSWORD of these GitHub environments
# (deploy jobs log in as the provisioner; plan, preview and drift jobs as the observer).
ENVIRONMENTS = {
    "prod": {PROVISIONER_USER: "production", OBSERVER_USER: "production-plan"},
    "dev": {PROVISIONER_USER: "dev", OBSERVER_USER: "dev-preview"},
}


def _pulumi(argv: Sequence[str]) -> str:
    """Run the Pulumi CLI from the repository root (Pulumi.yaml's backend); its stdout."""
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise ProvisionerError("the pulumi CLI is not on PATH (or pass --host and --port)")
    result = subprocess.run([pulumi, *argv], cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ProvisionerError(f"`pulumi {argv[0]} {argv[1]}` failed (exit {result.returncode})")
    return result.stdout


def stack_file(stack: str, *, legacy: bool) -> StackFile:
    """The database (and, with `legacy`, the former user names) from Pulumi.<stack>.yaml, checked."""
    if not STACK_NAME.fullmatch(stack):
        raise ProvisionerError(
            f"--stack {stack!r}: a stack name is letters, digits, '_', '-' and '.'; "
            "fix: `make provisioner STACK=prod` (or dev)"
        )
    path = ROOT / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        stacks = ", ".join(sorted(p.name[7:-5] for p in ROOT.glob("Pulumi.*.yaml"))) or "none"
        raise ProvisionerError(
            f"no stack file {path.name}: STACK={stack} is not a stack of this project ({stacks})"
        )
    return stack_file_module.read(path, PROJECT, legacy=legacy)


def endpoint(stack: str, pulumi: Callable[[Sequence[str]], str]) -> tuple[str, int]:
    return stack_file_module.endpoint(pulumi(["stack", "output", "--json", "--stack", stack]), stack)


def user_password(user: str, env: Mapping[str, str], prompt: Callable[[str], str]) -> str:
    """The user's password: from its environment variable, else typed twice (never echoed)."""
    variable = PASSWORD_ENV[user]
    password = env.get(variable, "")
    if not password:
        password = prompt(f"New password of the SQL user `{user}` (or set {variable}; not echoed): ")
        if prompt("The same password again: ") != password:
            raise ProvisionerError(f"the two passwords typed for `{user}` differ")
    if missing := password_problems(password):
        raise ProvisionerError(
            f"the password of `{user}` ({variable} or the prompt) does not meet the complexity rule; "
            "it needs " + ", ".join(missing)
        )
    return password


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="make provisioner", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument(
        "--host", help="the service's HTTPS host (default: the stack's clickhouse_host output)"
    )
    parser.add_argument("--port", type=int, default=None, help="its HTTPS port (default: the stack output)")
    parser.add_argument(
        "--rotate",
        choices=USERS,
        default=None,
        help="rotation step 1: add a new password to this user, keep the old one",
    )
    parser.add_argument(
        "--legacy",
        action="store_true",
        help="namespace migration: also manage the consumers' former user names (docs/provisioning.md)",
    )
    parser.add_argument(
        "--break-glass",
        action="store_true",
        help="run even when the checkout is not a clean commit on the remote's main (prints a warning)",
    )
    parser.add_argument("--remote", default="origin", help="the git remote whose main is reviewed code")
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    pulumi: Callable[[Sequence[str]], str] = _pulumi,
    ask: Callable[[str], str] = input,
    prompt: Callable[[str], str] = getpass.getpass,
    opener: Callable[[Connection], Executor] = open_clickhouse,
    env: Mapping[str, str] | None = None,
    reviewed: Callable[..., str | None] = require_reviewed,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    env = os.environ if env is None else env
    args = _parser().parse_args(argv)
    secrets: list[str] = []
    try:
        # Before anything is asked or read: only reviewed code gets the admin password.
        # The note names the remote's URL (it must be the canonical repository) or the break-glass warning.
        if note := reviewed(ROOT, args.remote, break_glass=args.break_glass):
            print(note, file=err)
        stack = stack_file(args.stack, legacy=args.legacy)
        database, legacy = stack.database, stack.legacy_users
        if args.host:
            fix = f"e.g. `make provisioner STACK={args.stack} HOST={args.host} PORT=8443`"
            host, port = (
                args.host,
                stack_file_module.checked_port(
                    8443 if args.port is None else args.port, "PORT (--port)", fix
                ),
            )
        else:
            host, port = endpoint(args.stack, pulumi)
        users = [args.rotate] if args.rotate else list(USERS)
        passwords = {user: user_password(user, env, prompt) for user in users}
        if len(set(passwords.values())) < len(passwords):
            raise ProvisionerError("the provisioner and the observer need two different passwords")
        secrets += [form for p in passwords.values() for form in (p, sha256_hex(p))]
        shown = statements(database, PLACEHOLDERS, add_password=args.rotate, legacy_users=legacy)
        print(f"On {host}:{port} as `default` (stack {args.stack}), these statements will run:\n", file=out)
        print("\n".join(f"  {sql};" for sql in shown) + "\n", file=out)
        if ask("Type yes to run them: ").strip() != "yes":
            print("nothing was run", file=err)
            return 1
        admin = prompt("ClickHouse admin (default) password (not echoed, not stored): ")
        secrets.append(admin)
        hexes = {**PLACEHOLDERS, **{user: sha256_hex(p) for user, p in passwords.items()}}
        executor = opener(Connection(host=host, port=port, username="default", password=admin))
        try:
            for sql in statements(database, hexes, add_password=args.rotate, legacy_users=legacy):
                executor.command(sql)
            grants = {user: executor.query(f"SHOW GRANTS FOR {user}", {}) for user in USERS}
        finally:
            executor.close()
    except (ProvisionerError, UnreviewedCode) as exc:
        print(f"error: {scrub(str(exc), secrets)}", file=err)
        return 2
    except failures() as exc:
        print(f"error: ClickHouse refused or could not be reached: {scrub(str(exc), secrets)}", file=err)
        return 1
    except (EOFError, KeyboardInterrupt):
        print("\nstopped: no input (the prompts need a terminal); nothing more was run", file=err)
        return 1
    for user in USERS:
        print(f"done. {user} now holds:", file=out)
        print("\n".join(f"  {row[0]}" for row in grants[user]), file=out)
    for user in users:
        environment = ENVIRONMENTS.get(args.stack, {}).get(user, f"the {user}'s environment of {args.stack}")
        print(
            f"Store the password of `{user}` as the secret CLICKHOUSE_SQL_PASSWORD of the GitHub "
            f"environment {environment!r}.",
            file=out,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
