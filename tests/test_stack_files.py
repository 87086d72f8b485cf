"""The committed stack files: no plaintext secrets, and the per-stack intent of the seeds."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.harness import ROOT

STACK_FILES = sorted(ROOT.glob("Pulumi.*.yaml"))

# Config keys whose values are credentials wherever they appear.
SECRET_KEY_PATTERN = re.compile(r"(password|token|secret|apikey|api_key|signingkey|private)", re.I)


def plaintext_secrets(config: dict[str, Any]) -> list[str]:
    """Keys of a stack's `config:` map that hold a credential in plaintext.

    A secret is fine only as `{secure: <ciphertext>}` (what `pulumi config set --secret`
    writes). Nested maps are searched too, so `dataWarehouse.password: x` is caught.
    """
    found: list[str] = []

    def walk(path: str, value: Any) -> None:
        if isinstance(value, dict):
            if set(value) == {"secure"}:
                return
            for k, v in value.items():
                walk(f"{path}.{k}" if path else str(k), v)
            return
        if isinstance(value, list):
            for i, item in enumerate(value):
                walk(f"{path}[{i}]", item)
            return
        leaf = re.sub(r"(\[\d+\])+$", "", path).rsplit(".", 1)[-1].rsplit(":", 1)[-1]
        if SECRET_KEY_PATTERN.search(leaf) and value not in (None, ""):
            found.append(path)

    for key, value in config.items():
        walk(key, value)
    return found


def test_both_stacks_are_committed() -> None:
    assert {p.name for p in STACK_FILES} == {"Pulumi.dev.yaml", "Pulumi.prod.yaml"}


@pytest.mark.parametrize("path", STACK_FILES, ids=lambda p: p.name)
def test_no_plaintext_secret_in_stack_file(path: Path) -> None:
    config = (yaml.safe_load(path.read_text()) or {}).get("config", {})
    assert plaintext_secrets(config) == []


def test_plaintext_secret_detector_catches_secrets_and_accepts_ciphertext() -> None:
    config = {
        "salla-analytics-infra:clickhouseAdminPassword": "hunter2",
        "upstash:apiKey": {"secure": "v1:abc"},
        "clickhouse:tokenSecret": {"secure": "v1:def"},
        "salla-analytics-infra:dataWarehouse": {"serviceName": "x", "adminPassword": "oops"},
        "salla-analytics-infra:qstashToken": "",
        "salla-analytics-infra:consumers": {"app": {"vercel": [{"apiToken": "in-a-list"}]}},
    }
    assert plaintext_secrets(config) == [
        "salla-analytics-infra:clickhouseAdminPassword",
        "salla-analytics-infra:dataWarehouse.adminPassword",
        "salla-analytics-infra:consumers.app.vercel[0].apiToken",
    ]


def _config(stack: str) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return config


def test_prod_never_opens_ingress_and_meets_rpo() -> None:
    dw = _config("prod")["salla-analytics-infra:dataWarehouse"]
    assert all(e["cidr"] not in ("0.0.0.0/0", "::/0") for e in dw["ipAllowList"])
    assert dw["backup"]["periodHours"] <= 24 and dw["backup"]["retentionHours"] == 168
    assert _config("prod")["salla-analytics-infra:protect"] is True
    assert _config("dev")["salla-analytics-infra:protect"] is False


@pytest.mark.parametrize("path", STACK_FILES, ids=lambda p: p.name)
def test_stacks_use_the_kms_secrets_provider(path: Path) -> None:
    data = yaml.safe_load(path.read_text())
    stack = path.name.split(".")[1]
    assert data["secretsprovider"] == f"awskms://alias/salla-analytics-pulumi-{stack}?region=us-east-1"


def test_prod_allow_list_admits_the_deploy_runner() -> None:
    # The SQL step of `pulumi up` (clickhouse_sql) reaches port 8443 from the deploy runner.
    entries = _config("prod")["salla-analytics-infra:dataWarehouse"]["ipAllowList"]
    runner = [e["cidr"] for e in entries if "PROD_DEPLOY_RUNNER" in e["description"]]
    assert runner
    # The Redis ACL users (upstash_access) are managed over the database's own endpoint from the
    # same runner: each prod Redis database admits that range too.
    for key in ("cache", "pipelineState"):
        assert set(runner) <= set(_config("prod")[f"salla-analytics-infra:{key}"]["ipAllowList"]), key
