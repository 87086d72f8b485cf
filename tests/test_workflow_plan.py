"""The prod approval is bound to the reviewed plan, and to main's head.

- plan-prod (no approval, read credentials) runs `pulumi preview --save-plan` with main's program
  and pack, writes the diff to the run's summary and uploads the plan file;
- deploy-prod (approval-gated) first refuses a commit that is no longer main's head
  (tools/main_head.py), then downloads that run's plan and applies exactly it (`pulumi up --plan`).
Each property is computed by `plan_violations` and also run against broken copies of the workflow.

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
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
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
    deploy_job,
    environment,
    lines_of,
    load,
    mutated,
    needs,
    pulumi_steps,
    reachable_jobs,
    steps,
    with_,
)
from tools import main_head

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
}


@pytest.mark.parametrize("change", BREAK_PLAN.values(), ids=BREAK_PLAN.keys())
def test_plan_check_catches(infra: dict[str, Any], change: Callable[[dict[str, Any]], Any]) -> None:
    assert plan_violations(mutated(infra, change))


# -- the head check itself (tools/main_head.py) -------------------------------------------------------
ENV = {
    "GITHUB_API_URL": "https://api.example.test",
    "GITHUB_REPOSITORY": "salla/salla-analytics-infra",
    "GITHUB_SHA": "a" * 40,
    "GH_TOKEN": "ghs_job_token",
}


def answering(sha: str, calls: list[tuple[str, dict[str, str]]]) -> main_head.Fetch:
    def fetch(url: str, headers: Mapping[str, str]) -> bytes:
        calls.append((url, dict(headers)))
        return json.dumps({"ref": "refs/heads/main", "object": {"sha": sha, "type": "commit"}}).encode()

    return fetch


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
    def unreachable(url: str, headers: Mapping[str, str]) -> bytes:
        raise OSError("network is unreachable")

    assert main_head.main(ENV, unreachable) == 1
    assert "not deploying" in capsys.readouterr().err
    assert main_head.main(ENV, lambda url, headers: b"{}") == 1
    assert main_head.main({k: v for k, v in ENV.items() if k != "GH_TOKEN"}, answering("a" * 40, [])) == 1
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
