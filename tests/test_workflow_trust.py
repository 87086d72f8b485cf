"""Who can reach prod from CI: every job's `on:`, `if:`, `needs:`, environment and installs, evaluated.

Properties (README "Security model", docs/security-model.md):
- no job reachable from a pull request, a push to another branch than main, or a dispatch on
  another branch holds a prod credential (prod environment, prod role, prod secret or variable)
  or the prod runner;
- a job that can change prod runs in an approval-gated environment, and every environment a
  prod-credentialed job names admits main only (as the environment table of docs/security-model.md documents);
- credentialed jobs install only hash-pinned runtime dependencies, never test tooling;
- `pull_request` runs for PRs into main only.
Each check also runs against broken copies of the workflow, so it cannot silently pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.test_workflow import (
    AWS_ACTION,
    INFRA,
    PR_CONTEXT,
    PROD_NAME,
    PUSH_CONTEXT,
    ROOT,
    SCHEDULE_CONTEXT,
    Value,
    context_refs,
    environment,
    expressions,
    load,
    matrix_variants,
    mutated,
    pulumi_steps,
    reachable_jobs,
    steps,
    substitute,
    triggers,
    uses,
    with_,
    writes_state,
)

FEATURE = {"github.ref": "refs/heads/feature", "github.ref_name": "feature"}
DISPATCH_CONTEXT: dict[str, Value] = {**PUSH_CONTEXT, "github.event_name": "workflow_dispatch"}
UNTRUSTED: dict[str, tuple[str, dict[str, Value]]] = {
    "pull request into main": ("pull_request", PR_CONTEXT),
    "pull request into another branch": ("pull_request", {**PR_CONTEXT, "github.base_ref": "feature"}),
    "push to another branch": ("push", {**PUSH_CONTEXT, **FEATURE}),
    "dispatch on another branch": ("workflow_dispatch", {**DISPATCH_CONTEXT, **FEATURE}),
}
TRUSTED: dict[str, tuple[str, dict[str, Value]]] = {
    "push to main": ("push", PUSH_CONTEXT),
    "schedule": ("schedule", SCHEDULE_CONTEXT),
    "dispatch on main": ("workflow_dispatch", DISPATCH_CONTEXT),
}
ALLOWED_MAKE_TARGETS = {"runtime-venv", "policy-venv"}
TEST_TOOLING = re.compile(
    r"requirements-(dev|preflight|test)|\b(pytest|ruff|mypy|make\s+(venv|test|unit|lint))\b"
)


def _variants(workflow: dict[str, Any], job_id: str) -> list[dict[str, Any]]:
    raw = workflow["jobs"][job_id]
    return [substitute(raw, variant) for variant in matrix_variants(raw)]


def prod_credentials(workflow: dict[str, Any], job_id: str) -> list[str]:
    """What a job holds of prod (or cannot be shown not to hold): environments, roles, secrets, runner."""
    found: set[str] = set()
    if "uses" in workflow["jobs"][job_id]:
        found.add("a reusable workflow (not verifiable)")
    shared = [workflow.get(key) for key in ("env", "defaults", "run-name", "concurrency")]
    for job in _variants(workflow, job_id):
        name = environment(job)
        if name is not None and ("${{" in name or PROD_NAME.search(name)):
            found.add(f"environment {name!r}")
        for expression in expressions([job, *shared]):
            for context, ref in context_refs(expression):
                if ref is None or PROD_NAME.search(ref):
                    found.add(f"{context}.{ref or '<dynamic>'}")
        if PROD_NAME.search(str(job.get("runs-on", ""))):
            found.add(f"runner {job['runs-on']}")
        for aws in uses(job, AWS_ACTION):
            role = str(with_(aws).get("role-to-assume", ""))
            if not re.fullmatch(r"\$\{\{\s*vars\.AWS_ROLE_ARN_\w+\s*\}\}", role) or PROD_NAME.search(role):
                found.add(f"role {role}")
    return sorted(found)


def changes_prod(workflow: dict[str, Any], job_id: str) -> bool:
    """The job holds prod write credentials or runs a state-changing Pulumi command on prod."""
    for job in _variants(workflow, job_id):
        if environment(job) == "production":
            return True
        if any(ref == "AWS_ROLE_ARN_DEPLOY_PROD" for e in expressions(job) for _, ref in context_refs(e)):
            return True
        for step in pulumi_steps(job):
            inputs = with_(step)
            if writes_state(inputs) and PROD_NAME.search(str(inputs.get("stack-name"))):
                return True
    return False


def readme_environments() -> dict[str, tuple[str, str]]:
    """The environment table (docs/security-model.md, linked from README's "Security model"):
    name -> (deployment branches, reviewers)."""
    text = (ROOT / "docs" / "security-model.md").read_text()
    section = text[text.index("\n## Who holds prod credentials") + 1 :]
    section = section[: section.index("\n## ")]  # the environment table, not the sections below it
    rows = re.findall(r"^\| `([\w-]+)` \| ([^|]+) \| ([^|]+) \|", section, re.M)
    return {name: (branches.strip(), reviewers.strip()) for name, branches, reviewers in rows}


def trust_violations(workflow: dict[str, Any]) -> list[str]:
    found: list[str] = []
    documented = readme_environments()
    for where, (event, context) in UNTRUSTED.items():
        for job_id in sorted(reachable_jobs(workflow, event, context)):
            for credential in prod_credentials(workflow, job_id):
                found.append(f"{where}: {job_id} holds {credential}")
    for job_id in workflow["jobs"]:
        names = {environment(job) for job in _variants(workflow, job_id)} - {None}
        for name in sorted(str(n) for n in names):
            branches, reviewers = documented.get(name, ("", ""))
            if not branches:
                found.append(f"{job_id}: environment {name!r} is not in the docs' environment table")
            elif prod_credentials(workflow, job_id) and branches != "`main` only":
                found.append(f"{job_id}: prod environment {name!r} admits {branches!r}, not main only")
            if changes_prod(workflow, job_id) and "required reviewers" not in reviewers:
                found.append(f"{job_id} can change prod without an approval ({name!r}: {reviewers!r})")
        if changes_prod(workflow, job_id) and not names:
            found.append(f"{job_id} can change prod without an approval-gated environment")
    return sorted(set(found))


def install_violations(workflow: dict[str, Any]) -> list[str]:
    """Credentialed jobs (an environment or an OIDC token) install hash-pinned runtime deps only."""
    found: list[str] = []
    for job_id, job in workflow["jobs"].items():
        if not environment(job) and (job.get("permissions") or {}).get("id-token") != "write":
            continue
        for step in steps(job):
            script = str(step.get("run", ""))
            if TEST_TOOLING.search(script):
                found.append(f"{job_id}: test tooling in {script.strip()!r}")
            for match in re.finditer(r"\bmake\b((?:\s+-C\s+\S+)?)((?:[ \t]+[\w.=-]+)*)", script):
                targets = {t for t in match.group(2).split() if "=" not in t and not t.startswith("-")}
                if not targets or targets - ALLOWED_MAKE_TARGETS:
                    found.append(
                        f"{job_id}: make {sorted(targets)} (allowed: {sorted(ALLOWED_MAKE_TARGETS)})"
                    )
            for line in script.splitlines():
                if re.search(r"\bpip\b.*\binstall\b", line) and "--require-hashes" not in line:
                    found.append(f"{job_id}: pip install without --require-hashes: {line.strip()!r}")
    return sorted(set(found))


@pytest.fixture(scope="module")
def infra() -> dict[str, Any]:
    return load(INFRA)


# -- the workflow as committed -------------------------------------------------------------------
def test_no_untrusted_run_reaches_prod_and_prod_changes_wait_for_approval(infra: dict[str, Any]) -> None:
    assert trust_violations(infra) == []


def test_credentialed_jobs_install_only_hash_pinned_runtime_dependencies(infra: dict[str, Any]) -> None:
    assert install_violations(infra) == []


def test_pull_requests_into_main_only(infra: dict[str, Any]) -> None:
    assert triggers(infra)["pull_request"] == {"branches": ["main"]}
    assert reachable_jobs(infra, *UNTRUSTED["pull request into another branch"]) == set()
    assert "preview-dev" in reachable_jobs(infra, *UNTRUSTED["pull request into main"])


def test_the_model_sees_the_prod_jobs(infra: dict[str, Any]) -> None:
    """The checks above are not vacuous: prod jobs exist, hold prod credentials, run on main."""
    holders = {job_id for job_id in infra["jobs"] if prod_credentials(infra, job_id)}
    assert holders == {"plan-prod", "deploy-prod", "drift-prod", "drift-prod-admin-keys"}
    # drift-prod-admin-keys only refreshes, but it holds prod's write-capable Upstash and Vercel keys.
    gated = {"deploy-prod", "drift-prod-admin-keys"}
    assert {job_id for job_id in infra["jobs"] if changes_prod(infra, job_id)} == gated
    on_main = set().union(*(reachable_jobs(infra, event, ctx) for event, ctx in TRUSTED.values()))
    assert holders <= on_main
    assert readme_environments()["production"][1].startswith("required reviewers")


# -- the checks catch a broken workflow ----------------------------------------------------------
def _job(name: str, **changes: Any) -> Callable[[dict[str, Any]], Any]:
    return lambda wf: wf["jobs"][name].update(changes)


def _run(name: str, old: str, new: str) -> Callable[[dict[str, Any]], Any]:
    def change(wf: dict[str, Any]) -> None:
        for step in steps(wf["jobs"][name]):
            if "run" in step:
                step["run"] = str(step["run"]).replace(old, new)

    return change


BREAK_TRUST: dict[str, Callable[[dict[str, Any]], Any]] = {
    "plan-on-prs": _job("plan-prod", **{"if": "github.event_name != 'schedule'"}),
    "plan-on-any-push": lambda wf: (wf["on"]["push"].pop("branches"), wf["jobs"]["plan-prod"].pop("if")),
    "drift-dispatch-anywhere": _job("drift-prod", **{"if": "github.event_name == 'workflow_dispatch'"}),
    "deploy-without-approval": _job("deploy-prod", environment="production-plan"),
    "deploy-without-environment": lambda wf: wf["jobs"]["deploy-prod"].pop("environment"),
    "up-in-plan-environment": _run(
        "plan-prod", "pulumi preview --stack prod", "pulumi up --yes --stack prod"
    ),
    "refresh-in-drift": _run(
        "drift-prod", "pulumi preview --stack prod --refresh", "pulumi refresh --yes --stack prod"
    ),
    # deploy-prod's refresh (it stores drift: a prod state write) in the ungated plan job.
    "state-refresh-in-plan": _run(
        "plan-prod",
        "pulumi preview --stack prod",
        "pulumi refresh --stack prod --yes --skip-preview --target '**dynamic/clickhouse:**'"
        " && pulumi preview --stack prod",
    ),
    "prod-runner-on-prs": _job("test", **{"runs-on": "${{ vars.PROD_DEPLOY_RUNNER }}"}),
    "pr-job-prod-environment": _job("preview-dev", needs=["test"], environment="production-plan"),
    "undocumented-environment": _job("deploy-dev", environment="staging"),
}


@pytest.mark.parametrize("change", BREAK_TRUST.values(), ids=BREAK_TRUST.keys())
def test_trust_check_catches(infra: dict[str, Any], change: Callable[[dict[str, Any]], Any]) -> None:
    assert trust_violations(mutated(infra, change))


BREAK_INSTALL: dict[str, Callable[[dict[str, Any]], Any]] = {
    "make-venv": _run("deploy-prod", "make runtime-venv policy-venv", "make venv policy-venv"),
    "make-test": _run("drift-dev", "make runtime-venv", "make runtime-venv && make test"),
    "dev-requirements": _run(
        "plan-prod", "make runtime-venv", "pip install --require-hashes -r requirements-dev.txt"
    ),
    "unhashed-pip": _run("preview-bootstrap", " --require-hashes", ""),
    "other-target": _run("deploy-dev", "make runtime-venv", "make lock"),
}


@pytest.mark.parametrize("change", BREAK_INSTALL.values(), ids=BREAK_INSTALL.keys())
def test_install_check_catches(infra: dict[str, Any], change: Callable[[dict[str, Any]], Any]) -> None:
    assert install_violations(mutated(infra, change))


def test_pull_request_filter_is_evaluated(infra: dict[str, Any]) -> None:
    unfiltered = mutated(infra, lambda wf: wf["on"].update(pull_request=None))
    assert reachable_jobs(unfiltered, *UNTRUSTED["pull request into another branch"])
    negated = mutated(infra, lambda wf: wf["on"].update(pull_request={"branches": ["**", "!feature"]}))
    assert not reachable_jobs(negated, *UNTRUSTED["pull request into another branch"])
    assert reachable_jobs(negated, *UNTRUSTED["pull request into main"])
