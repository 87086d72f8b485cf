"""Vercel bound to its stack: team per stack file, provider and variables on it, targets per stack,
prod variables protected (retire lifts it), and the secrecy of every value written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi.runtime import rpc

from settings.vercel_delivery import VercelTeam
from tests.helpers import config_error, run_ok, stack_value
from tools.harness import DELETE, PROJECT, ROOT, ProgramRun, run_program

VERCEL = "vercel:index/projectEnvironmentVariables:ProjectEnvironmentVariables"
PROVIDER = "pulumi:providers:vercel"
STACK_FILES = sorted(ROOT.glob("Pulumi.*.yaml"))
KEY = f"{PROJECT}:vercel"


def declared(path: Path) -> dict[str, Any]:
    config = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
    value = config.get(KEY)
    assert isinstance(value, dict), f"{path.name}: no {KEY} block"
    return value


def team_of(stack: str) -> VercelTeam:
    return VercelTeam.model_validate(declared(ROOT / f"Pulumi.{stack}.yaml"))


def shared_vercel(files: dict[str, dict[str, Any]]) -> list[str]:
    """Each team or project that more than one stack file declares."""
    owners: dict[str, list[str]] = {}
    for name, block in files.items():
        for value in {f"team {block.get('team')}", *(f"project {p}" for p in block.get("projects", []))}:
            owners.setdefault(value, []).append(name)
    return sorted(f"{what}: {', '.join(sorted(names))}" for what, names in owners.items() if len(names) > 1)


def with_vercel(stack: str, *, consumer: str = "app", **vercel: Any) -> dict[str, Any]:
    """The stack's consumers, `consumer` delivering to the stack's own project unless told otherwise."""
    consumers = stack_value(stack, "consumers")
    consumers[consumer]["vercel"] = {"projectId": team_of(stack).projects[0], **vercel}
    return {"consumers": consumers}


# -- the committed stacks: each its own team and projects ----------------------------------------
def test_every_committed_stack_declares_its_vercel_team() -> None:
    assert {p.name for p in STACK_FILES} >= {"Pulumi.dev.yaml", "Pulumi.prod.yaml"}
    for path in STACK_FILES:
        block = VercelTeam.model_validate(declared(path))
        assert block.team.startswith("team_") and block.projects, path.name


def test_committed_stacks_share_no_vercel_team_or_project() -> None:
    assert team_of("dev").team != team_of("prod").team
    assert not set(team_of("dev").projects) & set(team_of("prod").projects)
    assert shared_vercel({p.name: declared(p) for p in STACK_FILES}) == []


def test_the_sharing_check_catches_a_shared_team_or_project() -> None:
    dev, prod = declared(ROOT / "Pulumi.dev.yaml"), declared(ROOT / "Pulumi.prod.yaml")
    assert shared_vercel({"dev": {**dev, "team": prod["team"]}, "prod": prod}) == [
        f"team {prod['team']}: dev, prod"
    ]
    both = {**dev, "projects": [*dev["projects"], prod["projects"][0]]}
    assert shared_vercel({"dev": both, "prod": prod}) == [f"project {prod['projects'][0]}: dev, prod"]


# -- provider and resource bound to the stack's team ---------------------------------------------
@pytest.mark.parametrize(("stack", "targets"), [("dev", ["preview"]), ("prod", ["production"])])
def test_provider_and_variables_carry_the_stacks_team(stack: str, targets: list[str]) -> None:
    run = run_ok(stack, with_vercel(stack, targets=targets))
    team = team_of(stack)
    provider = run.one(PROVIDER)
    assert "team" not in provider.inputs  # a provider-level team is looked up at Configure (API call)
    assert "apiToken" not in provider.inputs  # VERCEL_API_TOKEN comes from the environment
    resource = run.one(VERCEL)
    assert (resource.inputs["projectId"], resource.inputs["teamId"]) == (team.projects[0], team.team)
    assert resource.provider.startswith(provider.urn + "::")
    assert {tuple(v["targets"]) for v in resource.wire_inputs["variables"]} == {tuple(targets)}


def test_no_vercel_block_no_provider_and_no_token_needed(prod: ProgramRun) -> None:
    assert not prod.of_type(VERCEL) and not prod.of_type(PROVIDER)
    assert run_ok("prod", env={"VERCEL_API_TOKEN": ""}).error is None
    failed = run_program("prod", with_vercel("prod", targets=["production"]), env={"VERCEL_API_TOKEN": ""})
    assert failed.error is not None and "VERCEL_API_TOKEN (environment variable) = (not set)" in failed.error


def test_a_matching_team_id_on_the_consumer_is_accepted() -> None:
    run = run_ok("prod", with_vercel("prod", teamId=team_of("prod").team, targets=["production"]))
    assert run.one(VERCEL).inputs["teamId"] == team_of("prod").team


# -- prod's variables are protected; retire lifts it ---------------------------------------------
def test_prod_variables_are_protected_and_dev_ones_are_not() -> None:
    assert run_ok("prod", with_vercel("prod", targets=["production"])).one(VERCEL).protect
    assert not run_ok("dev", with_vercel("dev", targets=["preview"])).one(VERCEL).protect


@pytest.mark.parametrize("where", ["consumer", "block"])
def test_retire_lifts_protect_from_the_variables_only(where: str) -> None:
    overrides = with_vercel("prod", targets=["production"])
    app = overrides["consumers"]["app"]
    (app if where == "consumer" else app["vercel"])["retire"] = True
    run = run_ok("prod", overrides)
    assert not run.one(VERCEL).protect
    others = [r for r in run.resources if r.custom and "-app-" not in r.name and r.type != VERCEL]
    # Every SQL object but the access inventory, which owns nothing and is never protected.
    sql = [
        r
        for r in others
        if r.type.startswith("pulumi-python:dynamic/clickhouse") and not r.type.endswith(":AccessInventory")
    ]
    assert sql and all(r.protect for r in sql)
    # Only the consumer's retire touches its SQL objects; the block's lifts only the variables.
    app_user = run.named("warehouse-access-app-sql-user")
    assert app_user.protect is (where == "block")


def test_a_consumer_without_clickhouse_may_retire_its_vercel_variables() -> None:
    overrides = with_vercel("prod", consumer="ai", targets=["production"])
    overrides["consumers"]["ai"].update(clickhouse="none", retire=True)
    overrides["consumers"]["ai"].pop("limits")
    assert not run_ok("prod", overrides).one(VERCEL).protect


# -- every value written is secret and sensitive -------------------------------------------------
def test_variables_are_secret_and_sensitive() -> None:
    run = run_ok("prod", with_vercel("prod", targets=["production"]))
    resource = run.one(VERCEL)
    assert "variables" in resource.secret_inputs  # the whole list is secret ...
    env = run.outputs["consumer_env"]["app"]
    wire = resource.wire_inputs["variables"]  # ... and so is each value, as the engine gets it
    assert sorted(v["key"] for v in wire) == sorted(env)
    for variable in wire:
        assert rpc.is_rpc_secret(variable["value"]), variable["key"]
        assert variable["sensitive"] is True and variable["targets"] == ["production"]
        assert variable["value"]["value"] == env[variable["key"]]


def test_prod_preview_is_scoped_to_the_git_branch() -> None:
    run = run_ok("prod", with_vercel("prod", targets=["production", "preview"], gitBranch="staging"))
    wire = run.one(VERCEL).wire_inputs["variables"]
    env = run.outputs["consumer_env"]["app"]
    scopes = sorted((v["key"], tuple(v["targets"]), v.get("gitBranch")) for v in wire)
    assert scopes == sorted(
        [(key, ("production",), None) for key in env] + [(key, ("preview",), "staging") for key in env]
    )
    assert all(v["sensitive"] is True and rpc.is_rpc_secret(v["value"]) for v in wire)


def test_dev_preview_needs_no_branch() -> None:
    wire = run_ok("dev", with_vercel("dev", targets=["preview"])).one(VERCEL).wire_inputs["variables"]
    assert {(tuple(v["targets"]), v.get("gitBranch")) for v in wire} == {(("preview",), None)}


# -- clean errors ---------------------------------------------------------------------------------
P = f"{PROJECT}:"


def _one_problem(report: str, stack: str) -> None:
    assert report.startswith(f"stack '{stack}' has 1 configuration problem:"), report
    assert "Traceback" not in report


def test_dev_cannot_write_a_production_target() -> None:
    report = config_error("dev", with_vercel("dev", targets=["production"]))
    _one_problem(report, "dev")
    assert (
        f"{P}consumers.app.vercel.targets[0] = \"production\": is not allowed on stack 'dev': only "
        "stack prod writes a project's production target; stack 'dev' may write only preview"
    ) in report
    assert "fix: use targets: [preview]" in report


def test_dev_config_naming_a_prod_project_is_refused() -> None:
    prod_project = team_of("prod").projects[0]
    report = config_error("dev", with_vercel("dev", projectId=prod_project, targets=["preview"]))
    _one_problem(report, "dev")
    assert (
        f'{P}consumers.app.vercel.projectId = "{prod_project}": is not one of the projects stack '
        f"'dev' declares for its Vercel team \"{team_of('dev').team}\""
    ) in report
    assert "fix: name the project this stack's team owns" in report


def test_dev_config_naming_the_prod_team_is_refused() -> None:
    prod_team = team_of("prod").team
    report = config_error("dev", with_vercel("dev", teamId=prod_team, targets=["preview"]))
    _one_problem(report, "dev")
    assert (
        f"{P}consumers.app.vercel.teamId = \"{prod_team}\": is not the Vercel team of stack 'dev' "
        f'(vercel.team = "{team_of("dev").team}")'
    ) in report
    assert "fix: remove teamId" in report


def test_a_prod_block_copied_into_dev_reports_every_problem_at_once() -> None:
    prod = team_of("prod")
    block: dict[str, Any] = {"projectId": prod.projects[0], "teamId": prod.team, "targets": ["production"]}
    report = config_error("dev", with_vercel("dev", **block))
    assert report.startswith("stack 'dev' has 3 configuration problems:"), report
    for key in ("targets[0]", "teamId", "projectId"):
        assert f"{P}consumers.app.vercel.{key} = " in report


def test_a_vercel_block_needs_the_stacks_team() -> None:
    report = config_error("prod", {**with_vercel("prod", targets=["production"]), "vercel": DELETE})
    _one_problem(report, "prod")
    assert "consumers.app.vercel.projectId" in report and "declares no `vercel` key" in report
    assert "fix: add `vercel: {team: team_..., projects: [" in report and "Pulumi.prod.yaml" in report


@pytest.mark.parametrize(
    ("block", "fragment"),
    [
        ({"team": "my-team", "projects": ["prj_a1"]}, f'{P}vercel.team = "my-team": is not a Vercel team id'),
        (
            {"team": "team_a1", "projects": ["prj_a1", "my-app"]},
            f'{P}vercel.projects[1] = "my-app": is not a Vercel project id',
        ),
        (
            {"team": "team_a1", "projects": ["prj_a1", "prj_a1"]},
            f'{P}vercel.projects[1] = "prj_a1": is listed twice',
        ),
        ({"team": "team_a1", "project": ["prj_a1"]}, f"{P}vercel.project = ['prj_a1']: is not a known key"),
    ],
)
def test_bad_team_blocks_are_clean_errors(block: dict[str, Any], fragment: str) -> None:
    report = config_error("dev", {"vercel": block})
    _one_problem(report, "dev")
    assert fragment in report


# -- policy vercel-stack-binding: the same line, independent of the program's code ----------------
def _binding(run: ProgramRun, policy_stack: str) -> list[str]:
    from policy.guardrails import POLICIES
    from tools.policy_config import load_policy_config, resolve
    from tools.policy_eval import evaluate

    settings = resolve(POLICIES, load_policy_config(policy_stack))
    return [f.message for f in evaluate(run, POLICIES, settings) if f.policy == "vercel-stack-binding"]


def test_policy_accepts_what_each_stack_may_write() -> None:
    prod = run_ok("prod", with_vercel("prod", targets=["production", "preview"], gitBranch="staging"))
    assert _binding(prod, "prod") == []
    assert _binding(run_ok("dev", with_vercel("dev", targets=["preview"])), "dev") == []


def test_policy_refuses_production_under_devs_policy_config() -> None:
    prod = run_ok("prod", with_vercel("prod", targets=["production"]))
    found = _binding(prod, "dev")
    keys = prod.outputs["consumer_env"]["app"]
    targets = [m for m in found if "targets production: this stack may write only preview" in m]
    teams = [m for m in found if "is not the stack's team" in m]
    assert len(targets) == len(keys) and len(teams) == 1 and len(found) == len(keys) + 1


def test_each_stacks_policy_config_names_its_own_team() -> None:
    from tools.policy_config import load_policy_config

    for stack in ("dev", "prod"):
        assert load_policy_config(stack)["vercel-stack-binding"]["team"] == team_of(stack).team


def test_policy_refuses_a_team_other_than_the_stacks() -> None:
    import dataclasses

    run = run_ok("prod", with_vercel("prod", targets=["production"]))
    variables = run.one(VERCEL)
    moved = dataclasses.replace(
        variables, wire_inputs={**variables.wire_inputs, "teamId": team_of("dev").team}
    )
    other = dataclasses.replace(run, resources=[moved if r is variables else r for r in run.resources])
    assert _binding(other, "prod") == [
        f"teamId {team_of('dev').team!r} is not the stack's team {team_of('prod').team!r}: every variable "
        "is bound to the stack's own Vercel team (`vercel.team`, and `team` in this policy's config)."
    ]
