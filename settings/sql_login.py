"""The SQL login of a run: checked before any resource is declared, never passed anywhere.

The clickhouse_sql provider reads its login from the environment when an operation runs
(CLICKHOUSE_SQL_USER, CLICKHOUSE_SQL_PASSWORD; clickhouse_sql.login). The program checks the
same variables up front so that an `up` fails once, cleanly, instead of once per SQL object:

- an update (`pulumi up`, not a dry run) needs both set, and a login that may write: the
  read-only `observer` is refused, naming the variable;
- a preview needs neither: without `--refresh` it runs no SQL (check and diff are local), so
  plan and pull-request previews work without any SQL login. With `--refresh` (drift jobs,
  `pulumi refresh`) the provider's reads need a login; if it is missing, each SQL object's
  refresh stops with the provider's clean error naming both variables. A refresh does not run
  the program, so only the provider can report it there.

`clickhouseProvisionerPassword`, the config key that held the login before, is refused with the
migration steps (REMOVED_PROVISIONER_PASSWORD, used by settings.loader).
"""

from __future__ import annotations

from collections.abc import Mapping

from clickhouse_sql.login import OBSERVER, PASSWORD_ENV, PROVISIONER, READ_ONLY_USERS, USER_ENV

from .errors import ConfigProblem

# The environment variables of the SQL login, with a placeholder-free description each.
SQL_LOGIN_ENVIRONMENT: dict[str, str] = {
    USER_ENV: f"the SQL user the clickhouse_sql provider logs in as: {PROVISIONER} (up) or {OBSERVER} "
    "(preview, refresh)",
    PASSWORD_ENV: "that user's password",
}

# Removed config key -> (why, fix) as settings.loader.REMOVED_KEYS words them ({key}, {stack} filled in).
REMOVED_PROVISIONER_PASSWORD: dict[str, tuple[str, str]] = {
    "clickhouseProvisionerPassword": (
        f"is no longer read: the SQL provider reads its login from the environment ({USER_ENV}, "
        f"{PASSWORD_ENV}) when it runs, so no config key, resource input or state holds a SQL password",
        "migrate in this order (docs/sql-login.md, 'Migrating an existing stack'): "
        "1) if the stack's consumer SQL users still have their former names (app, data_pipeline, ai "
        "instead of salla_app, ...: last deployed before the salla_ namespace; SELECT name FROM "
        "system.users shows them), make provisioner STACK={stack} LEGACY=1, else make provisioner "
        f"STACK={{stack}}: it creates the read-only `{OBSERVER}` and sets the `{PROVISIONER}`'s password "
        "(a new one, or this key's current value: pulumi config get {key} --stack {stack}); without "
        "LEGACY=1 such a stack's provisioner loses ALTER/DROP USER on the former users, and their drop "
        "fails later with ACCESS_DENIED (497); "
        f"2) store the provisioner's password as the secret {PASSWORD_ENV} of the deploy GitHub "
        f"environment of stack '{{stack}}' (that job sets {USER_ENV}={PROVISIONER}) and the "
        f"{OBSERVER}'s as {PASSWORD_ENV} of its plan/preview environment; "
        "3) pulumi config rm {key} --stack {stack}, and, for former names, in the same commit "
        "pulumi config set --path 'consumers.<name>.legacySqlUser' true --stack {stack} for each "
        "consumer with clickhouse: read|write (docs/provisioning.md#migrating-to-the-salla_-namespace); "
        f"4) the next `pulumi up` (as {PROVISIONER}) rewrites the existing SQL objects' `connection` to "
        "{{host, port}} without running SQL for them, so the password leaves the state (with former "
        "names it also creates the salla_ users beside them); "
        "5) for former names only, finish the namespace migration: hand out the salla_ users, remove "
        "legacySqlUser and deploy (the former users are dropped), then make provisioner "
        "STACK={stack} without LEGACY",
    ),
}


def sql_login_problems(environ: Mapping[str, str], stack: str, *, dry_run: bool) -> list[ConfigProblem]:
    """What stops an update's SQL login: unset variables, or the read-only user (none in a preview)."""
    if dry_run:
        return []
    problems = [
        ConfigProblem(
            key=f"{name} (environment variable)",
            value="(not set)",
            rule=f"is required for an update: {what} (the SQL provider reads it from the environment)",
            fix=f"export {USER_ENV}={PROVISIONER} {PASSWORD_ENV}=<its password> (locally), or run the "
            f"deploy job of stack '{stack}', which sets {USER_ENV}={PROVISIONER} and the secret "
            f"{PASSWORD_ENV} (docs/sql-login.md)",
        )
        for name, what in SQL_LOGIN_ENVIRONMENT.items()
        if not environ.get(name, "").strip()
    ]
    user = environ.get(USER_ENV, "").strip()
    if user in READ_ONLY_USERS:
        problems.append(
            ConfigProblem(
                key=f"{USER_ENV} (environment variable)",
                value=f'"{user}"',
                rule=f"{USER_ENV}={user} is the read-only login (previews, plans, drift): an update needs "
                f"{USER_ENV}={PROVISIONER} and its password in {PASSWORD_ENV}",
                fix=f"run `pulumi up` in the deploy job of stack '{stack}' (it logs in as {PROVISIONER}), or "
                f"export {USER_ENV}={PROVISIONER} {PASSWORD_ENV}=<its password>; for a preview, run "
                "`pulumi preview` instead",
            )
        )
    return problems
