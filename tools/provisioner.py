"""`make provisioner STACK=<stack>`: create (or converge) the `provisioner` SQL user, as the admin.

    python -m tools.provisioner --stack prod                       # host/port from `pulumi stack output`
    python -m tools.provisioner --stack prod --host <restored host> --port 8443
    python -m tools.provisioner --stack prod --add-password        # rotation step 1 (README)

The program manages the SQL objects as `provisioner` (clickhouseProvisionerPassword), never as the
admin `default`, so CI never holds the admin password. This step, run once per service by the
platform team, is the only one that uses it:

1. the database name comes from Pulumi.<stack>.yaml, host and port from the stack's (non-secret)
   outputs or --host/--port; the provisioner's password from `pulumi config get` (or a prompt);
2. the exact statements are printed first, the password shown only as the placeholder
   `<sha256 of clickhouseProvisionerPassword>`, and nothing runs without a typed `yes`;
3. the admin password is typed at a getpass prompt (never echoed, stored or printed; errors are
   scrubbed), and the statements run over HTTPS with clickhouse-connect as `default`.

Every statement is idempotent: running it again converges the user to exactly this password,
exactly the project's two roles (WITH ADMIN OPTION, default roles ALL) and exactly the grants of
`grant_statements` (README "The provisioning user"). The roles are created here, before the first
`pulumi up` (whose Role resources then converge on them): a role can be granted to users by the
provisioner only because it holds that role WITH ADMIN OPTION, active in its sessions; no
`ROLE ADMIN`, which would let it grant any role (Cloud's `default_role` included) to anyone.
"""

from __future__ import annotations

import argparse
import getpass
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

import yaml

from clickhouse_sql.client import Connection, Executor, failures, open_clickhouse, scrub
from components.warehouse_access import PRIVILEGES, role_name
from settings.passwords import PROVISIONER_USER, password_problems, sha256_hex
from settings.rules import SQL_NAME
from tools.project import PROJECT, ROOT

PLACEHOLDER = "<sha256 of clickhouseProvisionerPassword>"
PASSWORD_KEY = f"{PROJECT}:clickhouseProvisionerPassword"
USER_ADMIN = "CREATE USER, ALTER USER, DROP USER"
# Access management the SQL provider needs besides users and roles, and reading it back.
# Not ROLE ADMIN: granting roles comes from holding the project's roles WITH ADMIN OPTION.
GLOBAL = (
    "CREATE SETTINGS PROFILE, ALTER SETTINGS PROFILE, DROP SETTINGS PROFILE, "
    "CREATE QUOTA, ALTER QUOTA, DROP QUOTA, SHOW USERS, SHOW ROLES, SHOW SETTINGS PROFILES, SHOW QUOTAS"
)
# The data privileges the consumers' roles carry; granting them needs them WITH GRANT OPTION.
ROLE_PRIVILEGES = "SELECT, INSERT, CREATE TABLE, ALTER TABLE, DROP TABLE"
# Users the provisioner may never create, alter or drop: the admin, itself, the SQL console's users.
PROTECTED_USERS = ("default", PROVISIONER_USER, "`sql-console`*")


class ProvisionerError(Exception):
    """A problem the operator can fix; the message holds no secret."""


def project_roles(database: str) -> list[str]:
    """The roles WarehouseAccess declares (`<database>_read`, `<database>_write`)."""
    return [role_name(database, access) for access in PRIVILEGES]


def grant_statements(database: str) -> list[str]:
    """The provisioner's roles and privileges, exactly (each WITH REPLACE OPTION replaces all it had)."""
    user, roles = PROVISIONER_USER, ", ".join(project_roles(database))
    return [
        # Exactly the project's roles, which it may grant and revoke (ADMIN OPTION); any other role goes.
        f"GRANT {roles} TO {user} WITH ADMIN OPTION WITH REPLACE OPTION",
        f"GRANT {USER_ADMIN} ON * TO {user} WITH REPLACE OPTION",
        *(f"REVOKE {USER_ADMIN} ON {protected} FROM {user}" for protected in PROTECTED_USERS),
        f"GRANT CREATE ROLE, ALTER ROLE, DROP ROLE ON {database}_* TO {user}",
        f"GRANT {GLOBAL} ON *.* TO {user}",
        f"GRANT CREATE DATABASE ON {database}.* TO {user}",
        f"GRANT {ROLE_PRIVILEGES} ON {database}.* TO {user} WITH GRANT OPTION",
    ]


def statements(database: str, password_hex: str, *, add_password: bool = False) -> list[str]:
    """What runs as `default`. `add_password`: only add a second password (rotation, step 1)."""
    if not SQL_NAME.match(database):
        raise ProvisionerError(f"dataWarehouse.database {database!r} is not a ClickHouse database name")
    user, by = PROVISIONER_USER, f"IDENTIFIED WITH sha256_hash BY '{password_hex}'"
    if add_password:
        return [f"ALTER USER {user} ADD {by}"]
    roles = project_roles(database)
    return [
        f"CREATE USER IF NOT EXISTS {user} {by}",
        # Exactly this one password; its roles (only the project's, below) active in every session.
        f"ALTER USER {user} {by} DEFAULT ROLE ALL",
        f"CREATE DATABASE IF NOT EXISTS {database}",
        *(f"CREATE ROLE IF NOT EXISTS {role}" for role in roles),
        # Roles carry no settings profile any more; an old `<role>_profile` (readonly = 2 on the read
        # role) would make the provisioner's sessions read-only, so it goes before they are active.
        "DROP SETTINGS PROFILE IF EXISTS " + ", ".join(f"{role}_profile" for role in roles),
        *grant_statements(database),
    ]


def _pulumi(argv: Sequence[str]) -> str:
    """Run the Pulumi CLI from the repository root (Pulumi.yaml's backend); its stdout."""
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise ProvisionerError("the pulumi CLI is not on PATH (or pass --host and --port)")
    result = subprocess.run([pulumi, *argv], cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ProvisionerError(f"`pulumi {argv[0]} {argv[1]}` failed (exit {result.returncode})")
    return result.stdout


def stack_database(stack: str) -> str:
    path = ROOT / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise ProvisionerError(f"no stack file {path.name}")
    config = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
    warehouse = config.get(f"{PROJECT}:dataWarehouse") or {}
    return str(warehouse.get("database", "analytics"))


def endpoint(stack: str, pulumi: Callable[[Sequence[str]], str]) -> tuple[str, int]:
    outputs: dict[str, Any] = json.loads(pulumi(["stack", "output", "--json", "--stack", stack]) or "{}")
    host, port = outputs.get("clickhouse_host"), outputs.get("clickhouse_https_port")
    if not host or not port:
        raise ProvisionerError(f"stack {stack!r} has no clickhouse_host/clickhouse_https_port output yet")
    return str(host), int(port)


def provisioner_password(
    stack: str, pulumi: Callable[[Sequence[str]], str], prompt: Callable[[str], str]
) -> str:
    try:
        password = pulumi(["config", "get", PASSWORD_KEY, "--stack", stack]).rstrip("\n")
    except ProvisionerError:
        password = ""
    if not password:
        password = prompt(f"{PASSWORD_KEY} (not readable from the stack config): ")
        if prompt("The same password again: ") != password:
            raise ProvisionerError("the two passwords differ")
    if missing := password_problems(password):
        raise ProvisionerError(
            f"{PASSWORD_KEY} does not meet the complexity rule; it needs " + ", ".join(missing)
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
        "--add-password",
        action="store_true",
        help="rotation step 1: add clickhouseProvisionerPassword as a second password, keep the old one",
    )
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    pulumi: Callable[[Sequence[str]], str] = _pulumi,
    ask: Callable[[str], str] = input,
    prompt: Callable[[str], str] = getpass.getpass,
    opener: Callable[[Connection], Executor] = open_clickhouse,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    args = _parser().parse_args(argv)
    secrets: list[str] = []
    try:
        database = stack_database(args.stack)
        host, port = (args.host, args.port or 8443) if args.host else endpoint(args.stack, pulumi)
        password = provisioner_password(args.stack, pulumi, prompt)
        secrets += [password, sha256_hex(password)]
        shown = statements(database, PLACEHOLDER, add_password=args.add_password)
        print(f"On {host}:{port} as `default` (stack {args.stack}), these statements will run:\n", file=out)
        print("\n".join(f"  {sql};" for sql in shown) + "\n", file=out)
        if ask("Type yes to run them: ").strip() != "yes":
            print("nothing was run", file=err)
            return 1
        admin = prompt("ClickHouse admin (default) password (not echoed, not stored): ")
        secrets.append(admin)
        executor = opener(Connection(host=host, port=port, username="default", password=admin))
        try:
            for sql in statements(database, sha256_hex(password), add_password=args.add_password):
                executor.command(sql)
            grants = executor.query(f"SHOW GRANTS FOR {PROVISIONER_USER}", {})
        finally:
            executor.close()
    except ProvisionerError as exc:
        print(f"error: {scrub(str(exc), secrets)}", file=err)
        return 2
    except failures() as exc:
        print(f"error: ClickHouse refused or could not be reached: {scrub(str(exc), secrets)}", file=err)
        return 1
    except (EOFError, KeyboardInterrupt):
        print("\nstopped: no input (the prompts need a terminal); nothing more was run", file=err)
        return 1
    print(f"done. {PROVISIONER_USER} now holds:", file=out)
    print("\n".join(f"  {row[0]}" for row in grants), file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
