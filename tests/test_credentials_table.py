"""The declared capability of every CI credential (.github/credentials.yml), checked against the workflow.

Proves, from the table and the workflow (docs/security-model.md, docs/ci-credentials.md):
- every `secrets.*`/`vars.*` a job references is declared for the job's environment (or the
  repository), so nothing the table does not describe reaches a job;
- no job that runs without an approval references a write-capable control-plane credential of
  prod; the environments the table calls approval-gated are the ones docs/security-model.md gives
  required reviewers;
- each job's SQL login (CLICKHOUSE_SQL_USER, a literal) is the user its environment's
  CLICKHOUSE_SQL_PASSWORD belongs to: `provisioner` for the commands that write state (`pulumi
  up`, deploy-prod's refresh), `observer` everywhere else;
- the daily drift jobs' URN globs exclude exactly the resources of the providers whose keys they
  do not hold, and deploy-prod's refresh targets exactly the access objects (the program's dynamic
  resources), computed with the CLI's own glob rules on the types the program declares.
Each check also runs against broken copies of the table or the workflow.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from settings.credentials import WITHHOLDABLE
from tests.helpers import run_ok
from tests.test_workflow import (
    INFRA,
    ROOT,
    context_refs,
    environment,
    expressions,
    load,
    mutated,
    pulumi_steps,
    step_env,
    steps,
    with_,
    writes_state,
)
from tests.test_workflow_plan import ACCESS_TARGETS
from tests.test_workflow_trust import readme_environments

TABLE = ROOT / ".github" / "credentials.yml"
PLANES = {"control", "data", "identity"}
ACCESS = {"read", "write", "none"}


def load_table() -> dict[str, Any]:
    data = yaml.safe_load(TABLE.read_text())
    assert isinstance(data, dict)
    return data


def declared(table: dict[str, Any], env: str | None) -> dict[str, dict[str, Any]]:
    found = dict(table.get("repository") or {})
    if env is not None:
        found.update((table["environments"].get(env) or {}).get("credentials") or {})
    return found


def table_violations(table: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for env, spec in table["environments"].items():
        if not isinstance(spec.get("approval"), bool) or spec.get("stack") not in (
            "dev",
            "prod",
            "bootstrap",
        ):
            found.append(f"{env}: needs `stack` (dev|prod|bootstrap) and `approval` (true|false)")
        for ref, cap in ((spec.get("credentials") or {}) | (table.get("repository") or {})).items():
            if cap.get("plane") not in PLANES or cap.get("access") not in ACCESS or not cap.get("what"):
                found.append(f"{env}: {ref} needs plane {sorted(PLANES)}, access {sorted(ACCESS)} and `what`")
            if not re.fullmatch(r"(secrets|vars)\.[A-Z][A-Z0-9_]*", ref):
                found.append(f"{env}: {ref!r} is not a secrets.NAME or vars.NAME reference")
    readme = readme_environments()
    for env, spec in table["environments"].items():
        gated = "required reviewers" in readme.get(env, ("", ""))[1]
        if gated != spec.get("approval"):
            found.append(
                f"{env}: approval {spec.get('approval')} in the table, the docs say {readme.get(env)}"
            )
    return found


def credential_violations(workflow: dict[str, Any], table: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for job_id, job in workflow["jobs"].items():
        env = environment(job)
        spec = table["environments"].get(env) if env else None
        if env is not None and spec is None:
            found.append(f"{job_id}: environment {env!r} is not in {TABLE.name}")
            continue
        capabilities = declared(table, env)
        approval = bool(spec and spec["approval"])
        for expression in expressions(job):
            for context, name in context_refs(expression):
                ref = f"{context}.{name}"
                if name is None:
                    found.append(f"{job_id}: dynamic `{context}` access")
                elif ref not in capabilities:
                    found.append(f"{job_id}: {ref} is not declared for environment {env!r}")
                elif (
                    not approval
                    and spec is not None
                    and spec["stack"] == "prod"
                    and capabilities[ref]["plane"] == "control"
                    and capabilities[ref]["access"] == "write"
                ):
                    found.append(f"{job_id} runs without an approval and holds {ref} (prod, control, write)")
    return sorted(set(found))


def sql_login_violations(workflow: dict[str, Any], table: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for job_id, job in workflow["jobs"].items():
        env = environment(job)
        password = declared(table, env).get("secrets.CLICKHOUSE_SQL_PASSWORD", {})
        for step in steps(job):
            step_env = dict(step.get("env") or {})
            user, secret = step_env.get("CLICKHOUSE_SQL_USER"), step_env.get("CLICKHOUSE_SQL_PASSWORD")
            invocations = [with_(s) for s in pulumi_steps({"steps": [step]})]
            commands = {inputs["command"] for inputs in invocations}
            if user is None and secret is None:
                continue
            if (
                secret != "${{ secrets.CLICKHOUSE_SQL_PASSWORD }}"
                or not isinstance(user, str)
                or "${{" in user
            ):
                found.append(f"{job_id}: the SQL login is a literal user and the environment's password")
                continue
            if user != password.get("sql_user"):
                found.append(
                    f"{job_id}: logs in as {user!r}; {env}'s password is {password.get('sql_user')!r}'s"
                )
            # Least privilege: only a step that runs SQL gets a login (an up or destroy, a refresh,
            # or a preview with --refresh); a preview without refresh runs none (docs/sql-login.md).
            runs_sql = any(
                i["command"] in ("up", "destroy", "refresh") or i.get("refresh") is True for i in invocations
            )
            if not runs_sql:
                found.append(f"{job_id}: `pulumi {'/'.join(sorted(commands))}` runs no SQL but holds a login")
                continue
            # The deploys' commands (up, and deploy-prod's refresh that stores drift) write state.
            expected = "provisioner" if any(writes_state(i) for i in invocations) else "observer"
            if user != expected:
                found.append(
                    f"{job_id}: `pulumi {'/'.join(sorted(commands))}` runs as {user!r}, not {expected!r}"
                )
    return sorted(set(found))


@pytest.fixture(scope="module")
def infra() -> dict[str, Any]:
    return load(INFRA)


@pytest.fixture(scope="module")
def table() -> dict[str, Any]:
    return load_table()


# -- the repository as committed ------------------------------------------------------------------
def test_the_table_is_complete_and_agrees_with_readme(table: dict[str, Any]) -> None:
    assert table_violations(table) == []


def test_no_job_without_approval_holds_a_prod_write_credential(
    infra: dict[str, Any], table: dict[str, Any]
) -> None:
    assert credential_violations(infra, table) == []


def test_each_job_logs_in_as_its_environments_sql_user(infra: dict[str, Any], table: dict[str, Any]) -> None:
    assert sql_login_violations(infra, table) == []
    logins = {
        job_id: step["env"]["CLICKHOUSE_SQL_USER"]
        for job_id, job in infra["jobs"].items()
        for step in steps(job)
        if "CLICKHOUSE_SQL_USER" in (step.get("env") or {})
    }
    assert {j for j, u in logins.items() if u == "provisioner"} == {"deploy-dev", "deploy-prod"}
    # The previews that run no refresh (the PR preview, the prod plan) hold no SQL login at all.
    assert {j for j, u in logins.items() if u == "observer"} == {"drift-dev", "drift-prod"}


def test_the_table_sees_prod_write_credentials(table: dict[str, Any]) -> None:
    """Not vacuous: prod's write-capable keys exist, and only the gated environment declares them."""
    writers = {
        env
        for env, spec in table["environments"].items()
        if spec["stack"] == "prod"
        and any(c["plane"] == "control" and c["access"] == "write" for c in spec["credentials"].values())
    }
    assert writers == {"production"}
    assert table["environments"]["production"]["approval"] is True
    for name in (n for names in WITHHOLDABLE.values() for n in names):
        assert f"secrets.{name}" not in table["environments"]["production-plan"]["credentials"]


# -- the checks catch a broken workflow or table --------------------------------------------------
BREAK_WORKFLOW: dict[str, Callable[[dict[str, Any]], Any]] = {
    "upstash-key-in-plan": lambda wf: step_env("plan-prod", "preview")(wf).update(
        UPSTASH_API_KEY="${{ secrets.UPSTASH_API_KEY }}"
    ),
    "vercel-key-in-drift": lambda wf: step_env("drift-prod", "preview")(wf).update(
        VERCEL_API_TOKEN="${{ secrets.VERCEL_API_TOKEN }}"
    ),
    "deploy-role-in-plan": lambda wf: next(
        s for s in steps(wf["jobs"]["plan-prod"]) if "role-to-assume" in with_(s)
    )["with"].update({"role-to-assume": "${{ vars.AWS_ROLE_ARN_DEPLOY_PROD }}"}),
    "admin-drift-ungated": lambda wf: wf["jobs"]["drift-prod-admin-keys"].update(
        environment="production-plan"
    ),
    "undeclared-secret": lambda wf: step_env("deploy-dev", "up")(wf).update(
        EXTRA="${{ secrets.SOME_TOKEN }}"
    ),
    "dynamic-secrets": lambda wf: wf["jobs"]["drift-dev"].update(env={"ALL": "${{ toJSON(secrets) }}"}),
}


@pytest.mark.parametrize("change", BREAK_WORKFLOW.values(), ids=BREAK_WORKFLOW.keys())
def test_credential_check_catches(
    infra: dict[str, Any], table: dict[str, Any], change: Callable[[dict[str, Any]], Any]
) -> None:
    assert credential_violations(mutated(infra, change), table)


BREAK_LOGIN: dict[str, Callable[[dict[str, Any]], Any]] = {
    "provisioner-in-plan": lambda wf: step_env("plan-prod", "preview")(wf).update(
        CLICKHOUSE_SQL_USER="provisioner", CLICKHOUSE_SQL_PASSWORD="${{ secrets.CLICKHOUSE_SQL_PASSWORD }}"
    ),
    "observer-in-pr-preview": lambda wf: step_env("preview-dev", "preview")(wf).update(
        CLICKHOUSE_SQL_USER="observer", CLICKHOUSE_SQL_PASSWORD="${{ secrets.CLICKHOUSE_SQL_PASSWORD }}"
    ),
    "observer-refreshes-prod": lambda wf: step_env("deploy-prod", "refresh")(wf).update(
        CLICKHOUSE_SQL_USER="observer"
    ),
    "observer-in-deploy": lambda wf: step_env("deploy-prod", "up")(wf).update(CLICKHOUSE_SQL_USER="observer"),
    "computed-user": lambda wf: step_env("drift-dev", "preview")(wf).update(
        CLICKHOUSE_SQL_USER="${{ vars.SQL_USER }}"
    ),
    "password-without-user": lambda wf: step_env("drift-dev", "preview")(wf).pop("CLICKHOUSE_SQL_USER"),
}


@pytest.mark.parametrize("change", BREAK_LOGIN.values(), ids=BREAK_LOGIN.keys())
def test_sql_login_check_catches(
    infra: dict[str, Any], table: dict[str, Any], change: Callable[[dict[str, Any]], Any]
) -> None:
    assert sql_login_violations(mutated(infra, change), table)


def test_the_table_check_catches(table: dict[str, Any]) -> None:
    broken = copy.deepcopy(table)
    broken["environments"]["production"]["approval"] = False
    assert any("production: approval False" in p for p in table_violations(broken))
    lying = copy.deepcopy(table)
    lying["environments"]["production-plan"]["credentials"]["secrets.CLICKHOUSE_TOKEN_SECRET"]["plane"] = (
        "ctrl"
    )
    assert table_violations(lying)
    # A write key declared for the ungated plan environment is reported where a job uses it.
    wrong = copy.deepcopy(table)
    wrong["environments"]["production-plan"]["credentials"]["secrets.CLICKHOUSE_TOKEN_SECRET"]["access"] = (
        "write"
    )
    assert any("plan-prod runs without an approval" in p for p in credential_violations(load(INFRA), wrong))


# -- the exclusion globs, with the CLI's own matching rules ----------------------------------------
def urn_glob(pattern: str) -> re.Pattern[str]:
    """pulumi/pulumi pkg/resource/deploy (UrnTargets.getMatcher): `**` is `.*`, `*` is `[^:]*`."""
    parts = [
        "[^:]*".join(re.escape(piece) for piece in segment.split("*")) for segment in pattern.split("**")
    ]
    return re.compile("^" + ".*".join(parts) + "$")


def test_the_drift_globs_match_exactly_the_withheld_providers_resources() -> None:
    run = run_ok("prod", preview=True)
    globs = {provider: urn_glob(f"**{provider}:index/**") for provider in WITHHOLDABLE}
    # The project's own Upstash objects: the QStash credentials (the Upstash API key) and the Redis
    # ACL users (each database's admin password): no job without an approval reads them.
    globs["upstash-admin"] = urn_glob("**dynamic/upstash:**")
    workflow = INFRA.read_text()
    assert workflow.count("'**dynamic/upstash:**'") >= 4  # 2 daily excludes, 2 weekly targets (+ the deploy)
    types = {r.type for r in run.resources}
    assert any(t.startswith("upstash:") for t in types), "the prod stack declares Upstash resources"
    for type_ in types:
        urn = f"urn:pulumi:prod::salla-analytics-infra::salla:analytics:Component${type_}::name"
        matched = {provider for provider, glob in globs.items() if glob.match(urn)}
        package = type_.split(":", 1)[0]
        api = {"upstash-admin"} if type_.startswith("pulumi-python:dynamic/upstash:") else set()
        assert matched == ({package} & set(WITHHOLDABLE)) | api, f"{type_}: excluded as {matched}"
    assert not urn_glob("**upstash:index/**").match(
        "urn:pulumi:prod::salla-analytics-infra::pulumi:providers:upstash::upstash"
    ), "the provider resource itself stays in the refresh (it holds no cloud state)"


def test_the_deploy_refresh_globs_match_exactly_the_access_objects() -> None:
    """deploy-prod's `pulumi refresh --target` reads every dynamic resource (the SQL access objects,
    the Redis ACL users, the QStash credentials) and nothing else: not the ClickHouse service, the
    Upstash databases and topics or the Vercel variables, whose keys it does not hold."""
    run = run_ok("prod", preview=True)
    globs = [urn_glob(target) for target in ACCESS_TARGETS]
    workflow = INFRA.read_text()
    # Once in deploy-prod; `**dynamic/upstash:**` also in the two weekly admin-key refreshes.
    assert workflow.count("--target '**dynamic/clickhouse:**'") == 1
    assert workflow.count("--target '**dynamic/upstash:**'") == 3
    types = {r.type for r in run.resources}
    access = {
        t
        for t in types
        if t.startswith(("pulumi-python:dynamic/clickhouse:", "pulumi-python:dynamic/upstash:"))
    }
    assert {
        "pulumi-python:dynamic/clickhouse:User",
        "pulumi-python:dynamic/clickhouse:Role",
        "pulumi-python:dynamic/clickhouse:AccessInventory",
        "pulumi-python:dynamic/upstash:RedisUser",
        "pulumi-python:dynamic/upstash:QStashCredentials",
    } <= access, (
        "the prod stack declares SQL users, roles, the inventory, Redis ACL users, QStash credentials"
    )
    assert {t for t in types if t.startswith("pulumi-python:dynamic")} == access, "no other dynamic type"
    assert types - access, "the prod stack declares resources that are not access objects"
    # The URNs as the engine computes them (parent types joined by `$`), so a resource parented
    # under a dynamic one would be caught too: `**` spans `$`.
    for resource in run.resources:
        matched = any(glob.match(resource.urn) for glob in globs)
        assert matched == (resource.type in access), f"{resource.urn}: refreshed {matched}"
