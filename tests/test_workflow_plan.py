"""The prod approval is bound to the reviewed plan, and to main's head.

- plan-prod (no approval, read credentials) runs `pulumi preview --save-plan` with main's program
  and pack, writes the diff to the run's summary and uploads the plan file;
- deploy-prod (approval-gated) first refuses a commit that is no longer main's head
  (tools/main_head.py), then downloads that run's plan and applies exactly it (`pulumi up --plan`).
Each property is computed by `plan_violations` and also run against broken copies of the workflow.

The deploys converge drift (docs/drift.md), computed by `refresh_violations`: deploy-dev runs `up
--refresh`; deploy-prod runs `pulumi refresh --target` of exactly the access objects' dynamic
types, with only the deploy's own SQL login and Upstash key, before `up --plan` (which itself does
not refresh), so stored drift is an update the plan did not show and the engine refuses it
(pulumi/pulumi pkg/resource/deploy/step_generator.go validateSteps); a summary step says what to
do when `up --plan` fails. No other job writes state by a refresh.

Update plans in the pinned CLI (3.272): `--save-plan`/`--plan` are public preview (unhidden, no
PULUMI_EXPERIMENTAL since pulumi/pulumi#20271 and #11184), and Pulumi still lists corner cases.
The one that would break them for this project is a dynamic provider whose serialized form
(`__provider`, an input of every clickhouse_sql resource) differs between the planning and the
deploying process: the plan would then never apply. test_dynamic_providers_serialize_identically
shows it does not (same bytes across hash seeds and checkout paths). Any other mismatch fails the
deploy closed: a plan that cannot be applied exactly is never applied partly or replaced by a
fresh preview; the fix is a new run (docs/ci-credentials.md).
"""

from __future__ import annotations

import json
import posixpath
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.test_workflow import (
    AWS_ACTION,
    INFRA,
    PR_CONTEXT,
    PULUMI_ACTION,
    PUSH_CONTEXT,
    ROOT,
    action_name,
    context_refs,
    deploy_job,
    environment,
    expressions,
    lines_of,
    load,
    mutated,
    needs,
    pulumi_steps,
    reachable_jobs,
    steps,
    with_,
    writes_state,
)
from tools import main_head
from tools.github_api import Api, github_api

UPLOAD = "actions/upload-artifact"
DOWNLOAD = "actions/download-artifact"
HEAD_CHECK = "python3 -m tools.main_head"


def _path(value: Any) -> str:
    """A path as the runner sees it: `${{ runner.temp }}` and `$RUNNER_TEMP` are the same."""
    text = str(value).replace("${{ runner.temp }}", "$RUNNER_TEMP").replace("${RUNNER_TEMP}", "$RUNNER_TEMP")
    return posixpath.normpath(text.strip("\"'"))


def _index(job: dict[str, Any], predicate: Callable[[dict[str, Any]], bool]) -> int | None:
    return next((i for i, step in enumerate(steps(job)) if predicate(step)), None)


def plan_violations(workflow: dict[str, Any]) -> list[str]:
    found: list[str] = []
    deploy_id, deploy = deploy_job(workflow, "prod")
    plans: dict[str, dict[str, Any]] = {}
    for need in needs(deploy):
        for step in pulumi_steps(workflow["jobs"].get(need, {})):
            inputs = with_(step)
            if (
                inputs["command"] == "preview"
                and inputs.get("stack-name") == "prod"
                and inputs.get("save-plan")
            ):
                plans[need] = step
    if len(plans) != 1:
        return [f"{deploy_id} must need exactly one job that saves a prod plan, found {sorted(plans)}"]
    ((plan_id, preview),) = plans.items()
    plan, inputs = workflow["jobs"][plan_id], with_(preview)
    # The plan the reviewers read.
    if (
        inputs.get("diff") is not True
        or inputs.get("suppress-outputs") is not True
        or inputs.get("show-secrets")
    ):
        found.append(f"{plan_id}: the preview needs --diff and --suppress-outputs, never --show-secrets")
    if lines_of(inputs.get("policyPacks")) != ["policy"] or lines_of(inputs.get("policyPackConfigs")) != [
        "policy/config/prod.json"
    ]:
        found.append(f"{plan_id}: the preview runs main's policy pack with policy/config/prod.json")
    if inputs.get("refresh") is not False:
        found.append(f"{plan_id}: the plan is computed without a refresh, like the deploy")
    if "GITHUB_STEP_SUMMARY" not in str(preview.get("run", "")) and not inputs.get("comment-on-summary"):
        found.append(f"{plan_id}: the diff is not written to the run's summary")
    if environment(plan) in (None, environment(deploy)):
        found.append(f"{plan_id}: needs its own environment (not the approval-gated one)")
    if plan_id in reachable_jobs(workflow, "pull_request", PR_CONTEXT):
        found.append(f"{plan_id}: runs on pull requests")
    if plan_id not in reachable_jobs(workflow, "push", PUSH_CONTEXT):
        found.append(f"{plan_id}: does not run on a push to main")
    # The plan file travels to the deploy unchanged.
    saved = _path(inputs["save-plan"])
    uploads = [
        with_(s) for s in steps(plan) if action_name(s) == UPLOAD and _path(with_(s).get("path")) == saved
    ]
    if len(uploads) != 1 or uploads[0].get("if-no-files-found") != "error":
        found.append(f"{plan_id}: the saved plan {saved} is not uploaded (with if-no-files-found: error)")
        return found
    name = uploads[0].get("name")
    downloads = [
        with_(s) for s in steps(deploy) if action_name(s) == DOWNLOAD and with_(s).get("name") == name
    ]
    if len(downloads) != 1 or "run-id" in downloads[0] or "repository" in downloads[0]:
        found.append(f"{deploy_id}: does not download this run's artifact {name!r}")
        return found
    expected = posixpath.join(_path(downloads[0].get("path", ".")), posixpath.basename(saved))
    ups = [s for s in pulumi_steps(deploy) if with_(s)["command"] == "up"]
    if len(ups) != 1 or _path(with_(ups[0]).get("plan", "")) != expected:
        found.append(f"{deploy_id}: `pulumi up` does not apply the downloaded plan {expected}")
    elif with_(ups[0]).get("refresh") is not False:
        found.append(f"{deploy_id}: `pulumi up --plan` must not refresh (the plan was computed without)")
    # main's head, before anything else can act.
    head = _index(deploy, lambda s: str(s.get("run", "")).strip() == HEAD_CHECK)
    first_act = _index(
        deploy,
        lambda s: action_name(s) in (AWS_ACTION, DOWNLOAD) or bool(pulumi_steps({"steps": [s]})),
    )
    if head is None or first_act is None or head > first_act:
        found.append(f"{deploy_id}: `{HEAD_CHECK}` must run before the credentials, the plan and `pulumi up`")
    elif (steps(deploy)[head].get("env") or {}).get("GH_TOKEN") != "${{ github.token }}":
        found.append(f"{deploy_id}: the head check reads main with the job's own token (GH_TOKEN)")
    return found


# -- the deploys' refresh ------------------------------------------------------------------------------
# The access objects: every dynamic resource of the program (clickhouse_sql/, upstash_access/);
# tests/test_credentials_table.py shows these globs match exactly those types and nothing else.
ACCESS_TARGETS = {"**dynamic/clickhouse:**", "**dynamic/upstash:**"}
# What the prod refresh may hold: the SQL login of the deploy and the Upstash key the QStash
# credentials are read with. No ClickHouse Cloud key, no Vercel token: their resources are not read.
REFRESH_ENV = {
    "CLICKHOUSE_SQL_USER": "provisioner",
    "CLICKHOUSE_SQL_PASSWORD": "${{ secrets.CLICKHOUSE_SQL_PASSWORD }}",
    "UPSTASH_EMAIL": "${{ secrets.UPSTASH_EMAIL }}",
    "UPSTASH_API_KEY": "${{ secrets.UPSTASH_API_KEY }}",
}
UP_FAILED = re.compile(r"\$\{\{\s*failure\(\)\s*&&\s*steps\.(?P<id>[\w-]+)\.outcome\s*==\s*'failure'\s*\}\}")


def _commands(job: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """(step index, inputs) of each Pulumi command of a job, in order."""
    return [
        (i, with_(found)) for i, step in enumerate(steps(job)) for found in pulumi_steps({"steps": [step]})
    ]


def refresh_violations(workflow: dict[str, Any]) -> list[str]:
    found: list[str] = []
    deploys = {stack: deploy_job(workflow, stack) for stack in ("dev", "prod")}
    deploy_ids = {job_id for job_id, _ in deploys.values()}
    for job_id, job in workflow["jobs"].items():
        for _, inputs in _commands(job):
            refreshing = inputs["command"] == "refresh" or inputs.get("refresh") is True
            if refreshing and writes_state(inputs) and job_id not in deploy_ids:
                found.append(f"{job_id}: a refresh that writes state outside the deploys")
    dev_id, dev = deploys["dev"]
    if [(c["command"], c.get("refresh")) for _, c in _commands(dev)] != [("up", True)]:
        found.append(f"{dev_id}: one `pulumi up --refresh` (it holds every provider's write key)")
    prod_id, prod = deploys["prod"]
    commands = _commands(prod)
    if [c["command"] for _, c in commands] != ["refresh", "up"]:
        return [*found, f"{prod_id}: `pulumi refresh` of the access objects, then `pulumi up --plan`"]
    (refresh_at, refresh), (up_at, up) = commands
    if (
        refresh.get("stack-name") != "prod"
        or set(lines_of(refresh.get("target"))) != ACCESS_TARGETS
        or refresh.get("exclude")
        or refresh.get("target-dependents")
    ):
        found.append(f"{prod_id}: the refresh targets exactly {sorted(ACCESS_TARGETS)} of prod")
    if (
        refresh.get("preview-only")
        or refresh.get("yes") is not True
        or refresh.get("skip-preview") is not True
    ):
        found.append(f"{prod_id}: the refresh stores what it reads (--yes --skip-preview, no --preview-only)")
    if refresh.get("diff") is not True:
        found.append(f"{prod_id}: the refresh shows the drift it stores (--diff)")
    step = steps(prod)[refresh_at]
    secrets = {f"{c}.{r}" for e in expressions(step) for c, r in context_refs(e) if c == "secrets"}
    if dict(step.get("env") or {}) != REFRESH_ENV or secrets != {
        v.strip("${} ") for v in REFRESH_ENV.values() if v.startswith("${{")
    }:
        found.append(f"{prod_id}: the refresh holds exactly {sorted(REFRESH_ENV)} (the deploy's own)")
    if up.get("refresh") is not False:
        found.append(f"{prod_id}: `up --plan` does not refresh (the plan was computed without)")
    up_step = steps(prod)[up_at]
    explain = [
        (i, s)
        for i, s in enumerate(steps(prod))
        if (m := UP_FAILED.fullmatch(str(s.get("if", "")).strip())) and m["id"] == up_step.get("id")
    ]
    if len(explain) != 1 or explain[0][0] < up_at:
        found.append(f"{prod_id}: a step after `up --plan`, only on its failure, explains what to do")
    else:
        note = explain[0][1]
        if "GITHUB_STEP_SUMMARY" not in str(note.get("run", "")) or "repair" not in str(note.get("run", "")):
            found.append(f"{prod_id}: the explanation goes to the job summary and names the repair dispatch")
        if (
            note.get("env")
            or pulumi_steps({"steps": [note]})
            or any(c == "secrets" for e in expressions(note) for c, _ in context_refs(e))
        ):
            found.append(f"{prod_id}: the explanation runs nothing and holds no secret")
    return found


@pytest.fixture(scope="module")
def infra() -> dict[str, Any]:
    return load(INFRA)


def test_the_approved_deploy_applies_the_reviewed_plan_of_mains_head(infra: dict[str, Any]) -> None:
    assert plan_violations(infra) == []


def _plan_run(wf: dict[str, Any], old: str, new: str) -> None:
    step = next(s for s in steps(wf["jobs"]["plan-prod"]) if "--save-plan" in str(s.get("run", "")))
    assert old in step["run"]
    step["run"] = step["run"].replace(old, new)


def _deploy_step(wf: dict[str, Any], predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    return next(s for s in steps(wf["jobs"]["deploy-prod"]) if predicate(s))


def _move_head_check_last(wf: dict[str, Any]) -> None:
    job = wf["jobs"]["deploy-prod"]
    head = _deploy_step(wf, lambda s: str(s.get("run", "")).strip() == HEAD_CHECK)
    job["steps"].remove(head)
    job["steps"].append(head)


BREAK_PLAN: dict[str, Callable[[dict[str, Any]], Any]] = {
    "not-needed": lambda wf: wf["jobs"]["deploy-prod"].update(needs=["deploy-dev"]),
    "no-save-plan": lambda wf: _plan_run(wf, '--save-plan "$RUNNER_TEMP/prod.plan.json"', ""),
    "no-summary": lambda wf: _plan_run(wf, '>> "$GITHUB_STEP_SUMMARY"', "> /dev/null"),
    "outputs-shown": lambda wf: _plan_run(wf, "--suppress-outputs", ""),
    "refreshing-plan": lambda wf: _plan_run(
        wf, "pulumi preview --stack prod", "pulumi preview --refresh --stack prod"
    ),
    "no-pack": lambda wf: _plan_run(wf, "--policy-pack policy ", ""),
    "plan-needs-approval": lambda wf: wf["jobs"]["plan-prod"].update(environment="production"),
    "plan-on-prs": lambda wf: wf["jobs"]["plan-prod"].update({"if": "github.event_name != 'schedule'"}),
    "other-artifact": lambda wf: _deploy_step(wf, lambda s: action_name(s) == DOWNLOAD)["with"].update(
        name="other-plan"
    ),
    "older-run": lambda wf: _deploy_step(wf, lambda s: action_name(s) == DOWNLOAD)["with"].update(
        {"run-id": "${{ inputs.run }}"}
    ),
    "up-without-plan": lambda wf: _deploy_step(
        wf, lambda s: action_name(s) == PULUMI_ACTION and "plan" in with_(s)
    )["with"].pop("plan"),
    "no-head-check": lambda wf: wf["jobs"]["deploy-prod"]["steps"].remove(
        _deploy_step(wf, lambda s: str(s.get("run", "")).strip() == HEAD_CHECK)
    ),
    "head-check-last": _move_head_check_last,
    "head-check-without-token": lambda wf: _deploy_step(
        wf, lambda s: str(s.get("run", "")).strip() == HEAD_CHECK
    ).pop("env"),
    "refresh-before-head-check": lambda wf: _move(
        wf, _refresh_step(wf), lambda s: action_name(s) == "actions/checkout"
    ),
}


@pytest.mark.parametrize("change", BREAK_PLAN.values(), ids=BREAK_PLAN.keys())
def test_plan_check_catches(infra: dict[str, Any], change: Callable[[dict[str, Any]], Any]) -> None:
    assert plan_violations(mutated(infra, change))


def test_the_deploys_converge_drift_and_prod_only_through_the_reviewed_plan(infra: dict[str, Any]) -> None:
    assert refresh_violations(infra) == []


def _refresh_step(wf: dict[str, Any]) -> dict[str, Any]:
    return _deploy_step(wf, lambda s: str(s.get("run", "")).lstrip().startswith("pulumi refresh"))


def _refresh_run(old: str, new: str) -> Callable[[dict[str, Any]], None]:
    def change(wf: dict[str, Any]) -> None:
        step = _refresh_step(wf)
        assert old in step["run"]
        step["run"] = step["run"].replace(old, new)

    return change


def _move(wf: dict[str, Any], step: dict[str, Any], after: Callable[[dict[str, Any]], bool]) -> None:
    job = wf["jobs"]["deploy-prod"]
    job["steps"].remove(step)
    job["steps"].insert(_index(job, after) + 1, step)  # type: ignore[operator]


def _up_step(wf: dict[str, Any]) -> dict[str, Any]:
    return _deploy_step(wf, lambda s: action_name(s) == PULUMI_ACTION and "plan" in with_(s))


def _explain_step(wf: dict[str, Any]) -> dict[str, Any]:
    return _deploy_step(wf, lambda s: "failure()" in str(s.get("if", "")))


def _ungated_refresh(job_id: str) -> Callable[[dict[str, Any]], None]:
    def change(wf: dict[str, Any]) -> None:
        step = {**_refresh_step(wf), "name": "refresh"}
        wf["jobs"][job_id]["steps"].append(step)

    return change


ACCESS = "--target '**dynamic/clickhouse:**' --target '**dynamic/upstash:**'"
BREAK_REFRESH: dict[str, Callable[[dict[str, Any]], Any]] = {
    "no-prod-refresh": lambda wf: wf["jobs"]["deploy-prod"]["steps"].remove(_refresh_step(wf)),
    "refresh-without-target": _refresh_run(ACCESS, ""),
    "refresh-everything": _refresh_run(ACCESS, "--target '**'"),
    "refresh-one-provider": _refresh_run(ACCESS, "--target '**dynamic/clickhouse:**'"),
    "refresh-vercel-too": _refresh_run(ACCESS, f"{ACCESS} --target '**vercel:index/**'"),
    "refresh-dependents": _refresh_run(ACCESS, f"{ACCESS} --target-dependents"),
    "refresh-preview-only": _refresh_run("--yes --skip-preview", "--preview-only"),
    "refresh-without-diff": _refresh_run("--diff ", ""),
    "refresh-after-up": lambda wf: _move(wf, _refresh_step(wf), lambda s: s is _up_step(wf)),
    "refresh-in-plan-prod": _ungated_refresh("plan-prod"),
    "refresh-in-drift-prod": _ungated_refresh("drift-prod"),
    "refresh-in-drift-dev": lambda wf: wf["jobs"]["drift-dev"]["steps"].append(
        {"name": "refresh", "run": "pulumi refresh --stack dev --yes --suppress-outputs"}
    ),
    "refresh-with-vercel-token": lambda wf: _refresh_step(wf)["env"].update(
        VERCEL_API_TOKEN="${{ secrets.VERCEL_API_TOKEN }}"
    ),
    "refresh-with-cloud-key": lambda wf: _refresh_step(wf)["env"].update(
        CLICKHOUSE_TOKEN_SECRET="${{ secrets.CLICKHOUSE_TOKEN_SECRET }}"
    ),
    "refresh-as-observer": lambda wf: _refresh_step(wf)["env"].update(CLICKHOUSE_SQL_USER="observer"),
    "secret-in-refresh-run": _refresh_run("--diff", "--diff --message ${{ secrets.VERCEL_API_TOKEN }}"),
    "up-plan-refreshes": lambda wf: _up_step(wf)["with"].update(refresh=True),
    "dev-without-refresh": lambda wf: next(
        s
        for s in steps(wf["jobs"]["deploy-dev"])
        if action_name(s) == PULUMI_ACTION and "command" in with_(s)
    )["with"].update(refresh=False),
    "no-explanation": lambda wf: wf["jobs"]["deploy-prod"]["steps"].remove(_explain_step(wf)),
    "explanation-always": lambda wf: _explain_step(wf).update({"if": "${{ always() }}"}),
    "explanation-of-another-step": lambda wf: _up_step(wf).update(id="apply"),
    "explanation-before-up": lambda wf: _move(
        wf, _explain_step(wf), lambda s: str(s.get("run", "")).lstrip().startswith("pulumi refresh")
    ),
    "explanation-with-secret": lambda wf: _explain_step(wf).update(
        env={"KEY": "${{ secrets.UPSTASH_API_KEY }}"}
    ),
    "explanation-not-in-summary": lambda wf: _explain_step(wf).update(
        run=_explain_step(wf)["run"].replace("$GITHUB_STEP_SUMMARY", "/dev/null")
    ),
}


@pytest.mark.parametrize("change", BREAK_REFRESH.values(), ids=BREAK_REFRESH.keys())
def test_refresh_check_catches(infra: dict[str, Any], change: Callable[[dict[str, Any]], Any]) -> None:
    assert refresh_violations(mutated(infra, change))


# -- the head check itself (tools/main_head.py) -------------------------------------------------------
ENV = {
    "GITHUB_API_URL": "https://api.example.test",
    "GITHUB_REPOSITORY": "salla/salla-analytics-infra",
    "GITHUB_SHA": "a" * 40,
    "GH_TOKEN": "ghs_job_token",
}


def answering(sha: str, calls: list[tuple[str, dict[str, str]]]) -> Api:
    """The job's API client, its requests answered here (main's ref) and recorded."""

    def opener(request: urllib.request.Request) -> bytes:
        calls.append((request.full_url, {k.capitalize(): v for k, v in request.header_items()}))
        return json.dumps({"ref": "refs/heads/main", "object": {"sha": sha, "type": "commit"}}).encode()

    return github_api(ENV, opener)


def test_the_head_check_passes_for_mains_head_with_the_jobs_token() -> None:
    calls: list[tuple[str, dict[str, str]]] = []
    assert main_head.check(ENV, answering("a" * 40, calls)) == "a" * 40
    ((url, headers),) = calls
    assert url == "https://api.example.test/repos/salla/salla-analytics-infra/git/ref/heads/main"
    assert headers["Authorization"] == "Bearer ghs_job_token"


def test_the_head_check_refuses_an_older_commit() -> None:
    with pytest.raises(main_head.StaleCommit) as refused:
        main_head.check(ENV, answering("b" * 40, []))
    assert f"refusing to deploy {'a' * 40}: main's head is {'b' * 40}" in str(refused.value)
    assert main_head.main(ENV, answering("b" * 40, [])) == 1


def test_the_head_check_fails_closed_without_an_answer(capsys: pytest.CaptureFixture[str]) -> None:
    def unreachable(request: urllib.request.Request) -> bytes:
        raise OSError("network is unreachable")

    assert main_head.main(ENV, github_api(ENV, unreachable)) == 1
    assert "not deploying" in capsys.readouterr().err
    assert main_head.main(ENV, github_api(ENV, lambda request: b"{}")) == 1
    # No token: the job's own client cannot be made (and no request goes out).
    assert main_head.main({k: v for k, v in ENV.items() if k != "GH_TOKEN"}) == 1
    assert main_head.main(ENV, answering("a" * 40, [])) == 0


# -- update plans and the dynamic providers ---------------------------------------------------------
SERIALIZE = """
import hashlib, sys
from pulumi.dynamic.dynamic import serialize_provider
import clickhouse_sql.resources as resources
from clickhouse_sql.base import SqlProvider
classes = sorted({c for c in vars(resources).values() if isinstance(c, type) and issubclass(c, SqlProvider)
                  and c is not SqlProvider}, key=lambda c: c.__name__)
assert classes, "no SQL providers found"
for cls in classes:
    print(cls.__name__, hashlib.sha256(serialize_provider(cls()).encode()).hexdigest())
"""


def _serialized(cwd: Path, seed: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", SERIALIZE],
        cwd=cwd,
        env={"PYTHONHASHSEED": seed, "PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_dynamic_providers_serialize_identically(tmp_path: Path) -> None:
    """plan-prod and deploy-prod run in different processes, maybe on different runners: the
    `__provider` input the plan recorded must be byte-identical at `up --plan`, or no plan applies."""
    other = tmp_path / "elsewhere" / "checkout"
    for package in ("clickhouse_sql", "dynamic_props", "settings", "tools"):
        shutil.copytree(ROOT / package, other / package, ignore=shutil.ignore_patterns("__pycache__"))
    here = _serialized(ROOT, "1")
    assert len(here.splitlines()) >= 5
    assert _serialized(ROOT, "2") == here
    assert _serialized(other, "3") == here
