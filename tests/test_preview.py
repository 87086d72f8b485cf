"""Both stacks in preview mode: computed outputs unknown, the contract still secret, guardrails clean.

The tests read one preview run per stack (tests.helpers.run_ok); `make validate --preview` runs its own.
"""

from __future__ import annotations

import pytest

from policy.guardrails import POLICIES
from stack.contract import OUTPUTS
from tests.helpers import run_ok
from tools import validate
from tools.harness import SERVICE
from tools.policy_config import load_policy_config, resolve
from tools.policy_eval import evaluate

STACKS = ("dev", "prod")


@pytest.mark.parametrize("stack", STACKS)
def test_program_previews_with_unknown_outputs(stack: str) -> None:
    run = run_ok(stack, preview=True)
    assert set(run.outputs) == set(OUTPUTS)
    # What only the cloud knows is unknown in a preview (hosts, ids, tokens) ...
    assert {"clickhouse_host", "clickhouse_service_id", "redis_url", "redis_token"} <= run.unknown_outputs
    assert run.one(SERVICE).state.get("endpoints") is None
    # ... and what comes from config is known.
    assert "qstash_topics" not in run.unknown_outputs
    assert run.outputs["qstash_topics"] == [f"cdc-{stack}", f"notifications-{stack}"]


@pytest.mark.parametrize("stack", STACKS)
def test_contract_secretness_holds_for_unknown_values(stack: str) -> None:
    run = run_ok(stack, preview=True)
    assert run.secret_outputs == {name for name, secret in OUTPUTS.items() if secret}


@pytest.mark.parametrize("stack", STACKS)
def test_guardrails_in_preview_raise_no_mandatory_violation(stack: str) -> None:
    run = run_ok(stack, preview=True)
    findings = evaluate(run, POLICIES, resolve(POLICIES, load_policy_config(stack)))
    assert [f for f in findings if f.level == "mandatory"] == []


@pytest.mark.parametrize("stack", STACKS)
def test_make_validate_preview(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert validate.main(["--stack", stack, "--preview"]) == 0
    out = capsys.readouterr().out
    assert "(preview: computed values unknown)" in out
    assert "OK: no mandatory violation." in out
