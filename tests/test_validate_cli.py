"""`make validate`: exit codes and output for clean, violating and misconfigured stacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from policy.guardrails import POLICIES
from tools import validate
from tools.harness import ROOT

# tests/conftest.py makes every other in-process run check its policy config.
REMEMBERED_IN_THE_VENV = validate.accepted_configs


def _prod_variant(tmp_path: Path, change: str) -> Path:
    data = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    dw = data["config"]["salla-analytics-infra:dataWarehouse"]
    if change == "open":
        dw["ipAllowList"].append({"cidr": "0.0.0.0/0", "description": "everyone"})
    elif change == "bad-region":
        dw["region"] = "mars-north-1"
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_clean_stack_exits_zero(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert validate.main(["--stack", stack]) == 0
    out = capsys.readouterr().out
    assert "Pre-flight guardrail check (offline, mocked providers)" in out
    # Every policy over every custom resource: 3 providers (ClickHouse, Upstash, random), the service,
    # 2 Redis, 2 topics, 3 passwords and 14 SQL access objects (database, 2 roles, 2 grants, a user,
    # profile and quota per consumer) and the access inventory, 2 Redis ACL users and 2 user lists,
    # the QStash credentials.
    assert f"{len(POLICIES)} policies over 31 resources: 0 mandatory, 0 advisory violation(s)" in out
    assert "OK: no mandatory violation." in out


def test_mandatory_violation_exits_one_with_a_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = validate.main(["--stack", "prod", "--stack-file", str(_prod_variant(tmp_path, "open"))])
    captured = capsys.readouterr()
    assert code == 1
    lines = captured.out.splitlines()
    header = next(line for line in lines if line.startswith("POLICY"))
    assert header.split() == ["POLICY", "RESOURCE", "LEVEL", "MESSAGE"]
    row = next(line for line in lines if line.startswith("clickhouse-no-open-ingress"))
    assert "warehouse-service" in row and "mandatory" in row and "0.0.0.0/0" in row
    assert "1 mandatory, 0 advisory" in captured.out
    assert "FAILED" in captured.err


def test_config_error_exits_two_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = validate.main(["--stack", "prod", "--stack-file", str(_prod_variant(tmp_path, "bad-region"))])
    err = capsys.readouterr().err
    assert code == 2
    assert 'dataWarehouse.region = "mars-north-1": is not a ClickHouse Cloud region for aws' in err
    assert "Traceback" not in err


def test_missing_policy_config_exits_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = validate.main(["--stack", "dev", "--policy-config", str(tmp_path / "none.json")])
    assert code == 2
    assert "no policy config" in capsys.readouterr().err


def test_module_entry_point_exit_code() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tools.validate", "--stack", "prod"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "OK: no mandatory violation." in done.stdout
    assert done.stderr == ""


def test_accepted_policy_configs_are_remembered_in_the_virtualenv_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    venv, system = tmp_path / "venv", tmp_path / "system"
    venv.mkdir()
    system.mkdir()
    monkeypatch.setattr(validate, "accepted_configs", REMEMBERED_IN_THE_VENV)
    monkeypatch.setattr(sys, "base_prefix", str(system))
    monkeypatch.setattr(sys, "prefix", str(venv))
    assert validate.main(["--stack", "dev"]) == 0
    assert len((venv / ".accepted-policy-configs").read_text().split()) == 1
    # A system Python (prefix == base_prefix) checks every time and writes nothing.
    monkeypatch.setattr(sys, "prefix", str(system))
    assert validate.main(["--stack", "dev"]) == 0
    assert list(system.iterdir()) == []
    assert capsys.readouterr().out.count("OK: no mandatory violation.") == 2
