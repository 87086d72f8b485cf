"""One cloud account per stack: the stack declares it, the environment must match, stacks never share one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from settings.accounts import ACCOUNT_ENVIRONMENT, Accounts
from tools import harness
from tools.harness import PROJECT, ROOT

STACK_FILES = sorted(ROOT.glob("Pulumi.*.yaml"))
KEY = f"{PROJECT}:accounts"


def declared(path: Path) -> dict[str, Any]:
    config = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
    value = config.get(KEY)
    assert isinstance(value, dict), f"{path.name}: no {KEY} block"
    return value


def shared_accounts(files: dict[str, dict[str, Any]]) -> list[str]:
    """Each account (by key, case-insensitively) that more than one stack file declares."""
    owners: dict[tuple[str, str], list[str]] = {}
    for name, accounts in files.items():
        for key in ("clickhouseOrgId", "upstashEmail"):
            owners.setdefault((key, str(accounts.get(key, "")).strip().lower()), []).append(name)
    shared = {where: names for where, names in owners.items() if len(names) > 1}
    return [f"{key} {value!r}: {', '.join(sorted(names))}" for (key, value), names in shared.items()]


def other_stack(stack: str) -> str:
    return "dev" if stack == "prod" else "prod"


def accounts_of(stack: str) -> Accounts:
    return Accounts.model_validate(declared(ROOT / f"Pulumi.{stack}.yaml"))


# -- the committed stacks ------------------------------------------------------------------------
def test_every_committed_stack_declares_valid_accounts() -> None:
    assert {p.name for p in STACK_FILES} >= {"Pulumi.dev.yaml", "Pulumi.prod.yaml"}
    for path in STACK_FILES:
        Accounts.model_validate(declared(path))


def test_committed_stacks_declare_different_accounts() -> None:
    assert shared_accounts({p.name: declared(p) for p in STACK_FILES}) == []


def test_the_sharing_check_catches_a_shared_account() -> None:
    dev, prod = declared(ROOT / "Pulumi.dev.yaml"), declared(ROOT / "Pulumi.prod.yaml")
    same_org = {**prod, "clickhouseOrgId": dev["clickhouseOrgId"].upper()}
    same_email = {**prod, "upstashEmail": dev["upstashEmail"]}
    assert shared_accounts({"dev": dev, "prod": same_org}) == [
        f"clickhouseOrgId {dev['clickhouseOrgId'].lower()!r}: dev, prod"
    ]
    assert len(shared_accounts({"dev": dev, "prod": same_email})) == 1
    assert shared_accounts({"dev": dev, "prod": prod}) == []


# -- the environment must hold the stack's own accounts ------------------------------------------
@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("variable", sorted(ACCOUNT_ENVIRONMENT))
def test_another_stacks_account_stops_the_program(stack: str, variable: str) -> None:
    field, key = ACCOUNT_ENVIRONMENT[variable]
    expected = str(getattr(accounts_of(stack), field))
    actual = str(getattr(accounts_of(other_stack(stack)), field))
    run = harness.run_program(stack, env={variable: actual})
    assert run.error is not None and not run.resources
    assert run.error.startswith(f"stack '{stack}' has 1 configuration problem:")
    assert f'{variable} (environment variable) = "{actual}"' in run.error
    assert f'declares in {PROJECT}:{key} ("{expected}")' in run.error
    assert f'fix: export the credentials of the account "{expected}"' in run.error
    assert f"GitHub environment of stack '{stack}'" in run.error
    assert "Traceback" not in run.error


def test_both_mismatches_and_other_problems_are_reported_together() -> None:
    prod = accounts_of("prod")
    env = {"CLICKHOUSE_ORG_ID": prod.clickhouse_org_id, "UPSTASH_EMAIL": prod.upstash_email}
    run = harness.run_program("dev", {"protect": "maybe"}, env=env)
    assert run.error is not None
    assert run.error.startswith("stack 'dev' has 3 configuration problems:")
    assert "CLICKHOUSE_ORG_ID (environment variable)" in run.error
    assert "UPSTASH_EMAIL (environment variable)" in run.error
    assert f"{PROJECT}:protect" in run.error


def test_mismatch_is_reported_even_when_another_section_is_invalid() -> None:
    run = harness.run_program(
        "prod", {"cache": {"databaseName": "Bad Name"}}, env={"UPSTASH_EMAIL": "someone@example.com"}
    )
    assert run.error is not None
    assert "UPSTASH_EMAIL (environment variable)" in run.error and f"{PROJECT}:cache" in run.error


def test_the_same_account_in_other_spelling_is_accepted() -> None:
    dev = accounts_of("dev")
    env = {"CLICKHOUSE_ORG_ID": dev.clickhouse_org_id.upper(), "UPSTASH_EMAIL": dev.upstash_email.upper()}
    run = harness.run_program("dev", env=env)
    assert run.error is None, run.error


def test_an_unset_variable_is_missing_not_mismatched() -> None:
    run = harness.run_program("prod", env={"UPSTASH_EMAIL": ""})
    assert run.error is not None
    assert "UPSTASH_EMAIL (environment variable) = (not set): is required" in run.error
    assert "is not the account" not in run.error


# -- the accounts block itself -------------------------------------------------------------------
BAD_BLOCKS = {
    "org-not-uuid": ({"clickhouseOrgId": "my-org"}, "accounts.clickhouseOrgId", "(a UUID)"),
    "email-not-email": ({"upstashEmail": "ak_0123456789"}, "accounts.upstashEmail", "e-mail address"),
    "unknown-key": ({"vercelTeam": "x"}, "accounts.vercelTeam", "not a known key"),
}


@pytest.mark.parametrize(("change", "key", "text"), BAD_BLOCKS.values(), ids=BAD_BLOCKS.keys())
def test_a_bad_accounts_block_is_one_clean_error(change: dict[str, str], key: str, text: str) -> None:
    block = {**declared(ROOT / "Pulumi.dev.yaml"), **change}
    run = harness.run_program("dev", {"accounts": block})
    assert run.error is not None and not run.resources
    assert f"{PROJECT}:{key}" in run.error and text in run.error
    assert "Traceback" not in run.error


def test_the_accounts_block_is_required() -> None:
    run = harness.run_program("dev", {"accounts": harness.DELETE})
    assert run.error is not None
    assert f"{PROJECT}:accounts = (not set): is required (a structured value)" in run.error
