"""Every config validation rule, with the message a user sees."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from policy.guardrails.network import is_open
from settings.rules import cidr_problem
from tests.helpers import config_error, run_ok, stack_value
from tools import harness
from tools.harness import DELETE, SERVICE

P = "salla-analytics-infra:"


def _with(section: str, stack: str = "dev", **changes: Any) -> dict[str, Any]:
    value = stack_value(stack, section)
    for key, new in changes.items():
        if new is DELETE:
            value.pop(key, None)
        else:
            value[key] = new
    return {section: value}


def _backup(**b: Any) -> dict[str, Any]:
    return _with("dataWarehouse", "prod", backup=b)


def _vercel(stack: str, **vercel: Any) -> dict[str, Any]:
    consumers = stack_value(stack, "consumers")
    projects = stack_value(stack, "vercel")["projects"]  # the stack's own project: one rule at a time
    consumers["app"]["vercel"] = {"projectId": projects[0], **vercel}
    return {"consumers": consumers}


def _topics(topics: Any) -> dict[str, Any]:
    return {"messaging": {"topics": topics}}


URL = "https://hooks.example.com/q"
BACKUP = "7d6c1a52-2f44-4b6e-9d2a-0c6b7f1e9a10"

# (overrides, every fragment the report must contain)
CASES: dict[str, tuple[Callable[[], dict[str, Any]], list[str]]] = {
    "serviceName required": (
        lambda: _with("dataWarehouse", serviceName=DELETE),
        [
            f"{P}dataWarehouse.serviceName = (not set): is required",
            "pulumi config set --path 'dataWarehouse.serviceName'",
        ],
    ),
    "serviceName format": (
        lambda: _with("dataWarehouse", serviceName="Salla_DW"),
        ['dataWarehouse.serviceName = "Salla_DW": must be lowercase letters, digits and hyphens'],
    ),
    "cloudProvider": (
        lambda: _with("dataWarehouse", cloudProvider="oracle"),
        ['dataWarehouse.cloudProvider = "oracle": must be one of aws, gcp, azure'],
    ),
    "region for cloud": (
        lambda: _with("dataWarehouse", region="us-central1"),
        [
            'dataWarehouse.region = "us-central1": is not a ClickHouse Cloud region for aws',
            "use one of: af-south-1",
        ],
    ),
    "cidr invalid": (
        lambda: _with("dataWarehouse", ipAllowList=["10.0.0.300/32"]),
        ['dataWarehouse.ipAllowList[0] = "10.0.0.300/32": not a valid IP address or CIDR block'],
    ),
    "cidr host bits": (
        lambda: _with("dataWarehouse", ipAllowList=[{"cidr": "10.1.2.3/8", "description": "x"}]),
        ['ipAllowList[0] = "10.1.2.3/8": has host bits set; did you mean 10.0.0.0/8?'],
    ),
    "cidr duplicate": (
        lambda: _with("dataWarehouse", ipAllowList=["10.0.0.1", "10.0.0.1/32"]),
        ['ipAllowList[1] = "10.0.0.1/32": is listed twice'],
    ),
    "cidr description empty": (
        lambda: _with("dataWarehouse", ipAllowList=[{"cidr": "10.0.0.0/8", "description": " "}]),
        ['ipAllowList[0].description = " ": must not be empty'],
    ),
    "cidr entry shape": (
        lambda: _with("dataWarehouse", ipAllowList=[{"source": "10.0.0.0/8"}]),
        ["ipAllowList[0] = {'source': '10.0.0.0/8'}: must be a CIDR string or a map {cidr, description}"],
    ),
    "idle timeout missing": (
        lambda: _with("dataWarehouse", idleTimeoutMinutes=DELETE),
        ["dataWarehouse.idleTimeoutMinutes = (not set): is required when idleScaling is true"],
    ),
    "idle timeout too short": (
        lambda: _with("dataWarehouse", idleTimeoutMinutes=4),
        ["dataWarehouse.idleTimeoutMinutes = 4: must be >= 5"],
    ),
    "idle timeout without idle scaling": (
        lambda: _with("dataWarehouse", idleScaling=False),
        ["dataWarehouse.idleTimeoutMinutes = 5: is only allowed together with idleScaling: true"],
    ),
    "idle scaling type": (
        lambda: _with("dataWarehouse", idleScaling="yes"),
        ['dataWarehouse.idleScaling = "yes": must be true or false'],
    ),
    "memory step": (
        lambda: _with("dataWarehouse", minReplicaMemoryGb=10),
        ["dataWarehouse.minReplicaMemoryGb = 10: must be a multiple of 4 between 8 and 356"],
    ),
    "memory order": (
        lambda: _with("dataWarehouse", minReplicaMemoryGb=32, maxReplicaMemoryGb=16),
        ["dataWarehouse.minReplicaMemoryGb = 32: must not exceed maxReplicaMemoryGb (16)"],
    ),
    "release channel": (
        lambda: _with("dataWarehouse", releaseChannel="beta"),
        ['dataWarehouse.releaseChannel = "beta": is not a ClickHouse release channel', "default, fast, slow"],
    ),
    "backup period set": (
        lambda: _backup(periodHours=5, retentionHours=168),
        ["dataWarehouse.backup.periodHours = 5: is not a backup period ClickHouse Cloud accepts", "6, 8, 12"],
    ),
    "backup retention set": (
        lambda: _backup(periodHours=24, retentionHours=100),
        [
            "dataWarehouse.backup.retentionHours = 100: is not a retention ClickHouse Cloud accepts",
            "168, 336",
        ],
    ),
    "backup unknown key": (
        lambda: _backup(periodHours=24, retentionHours=24, extra=1),
        [
            "dataWarehouse.backup.extra = 1: is not a known key of dataWarehouse.backup",
            "periodHours, retentionHours",
        ],
    ),
    "backup fields required": (
        lambda: _backup(),
        ["backup.periodHours = (not set): is required", "backup.retentionHours = (not set): is required"],
    ),
    "restore id": (
        lambda: _with(
            "dataWarehouse", restore={"backupId": "latest", "serviceName": "salla-analytics-dev-r1"}
        ),
        ['dataWarehouse.restore.backupId = "latest": not a UUID'],
    ),
    "restore name": (
        lambda: _with("dataWarehouse", restore={"backupId": BACKUP, "serviceName": "salla-analytics-dev"}),
        ['dataWarehouse.restore.serviceName = "salla-analytics-dev": must differ from serviceName'],
    ),
    "retire before serving": (
        lambda: _with(
            "dataWarehouse",
            restore={"backupId": BACKUP, "serviceName": "salla-analytics-dev-r1", "primary": "remove"},
        ),
        ['dataWarehouse.restore.primary = "remove": is only allowed once the restored service serves'],
    ),
    "abandoned restore is the current one": (
        lambda: _with(
            "dataWarehouse",
            restore={
                "backupId": BACKUP,
                "serviceName": "salla-analytics-dev-r1",
                "abandoned": [
                    {"backupId": BACKUP, "serviceName": "salla-analytics-dev-r0"},
                    {"backupId": BACKUP, "serviceName": "salla-analytics-dev-r1"},
                ],
            },
        ),
        ['restore.abandoned[1].serviceName = "salla-analytics-dev-r1": is the current restore'],
    ),
    "abandoned restore is the live service": (
        lambda: _with(
            "dataWarehouse",
            restore={
                "backupId": BACKUP,
                "serviceName": "salla-analytics-dev-r1",
                "abandoned": [{"backupId": BACKUP, "serviceName": "salla-analytics-dev"}],
            },
        ),
        ['restore.abandoned[0].serviceName = "salla-analytics-dev": must differ from serviceName'],
    ),
    "abandoned restore listed twice": (
        lambda: _with(
            "dataWarehouse",
            restore={
                "backupId": BACKUP,
                "serviceName": "salla-analytics-dev-r2",
                "abandoned": [{"backupId": BACKUP, "serviceName": "salla-analytics-dev-r1"}] * 2,
            },
        ),
        ['restore.abandoned[1] = "salla-analytics-dev-r1": is listed twice'],
    ),
    "vercel development target": (
        lambda: _vercel("dev", targets=["preview", "development"]),
        [
            'consumers.app.vercel.targets[1] = "development": is not allowed: every variable is written as '
            "sensitive, and Vercel refuses sensitive variables on the development target",
            "fix: remove development from targets",
        ],
    ),
    "vercel preview on prod without a branch": (
        lambda: _vercel("prod", targets=["production", "preview"]),
        [
            "consumers.app.vercel.targets[1] = \"preview\": is only allowed with gitBranch on stack 'prod'",
            "fix: set gitBranch to the one branch whose previews may use them, or remove preview",
        ],
    ),
    "vercel branch without preview on prod": (
        lambda: _vercel("prod", targets=["production"], gitBranch="staging"),
        ['consumers.app.vercel.gitBranch = "staging": is only used for the preview target'],
    ),
    "lifecycle tag": (
        lambda: {"tags": {"lifecycle": "retiring"}},
        [f'{P}tags.lifecycle = "retiring": is set by the program only'],
    ),
    "topic without the stack": (
        lambda: _topics([{"name": "cdc", "endpoints": [URL]}, {"name": "cdc-prod", "endpoints": [URL]}]),
        [
            "messaging.topics[0].name = \"cdc\": must carry the stack name 'dev'",
            "rename it, e.g. cdc-dev",
            "messaging.topics[1].name = \"cdc-prod\": must carry the stack name 'dev'",
        ],
    ),
    "unknown warehouse key": (
        lambda: _with("dataWarehouse", ipAllowlist=["10.0.0.0/8"]),
        ["dataWarehouse.ipAllowlist = ['10.0.0.0/8']: is not a known key of dataWarehouse", "ipAllowList"],
    ),
    "section missing": (
        lambda: {"dataWarehouse": DELETE},
        [f"{P}dataWarehouse = (not set): is required (a structured value)", "Pulumi.dev.yaml"],
    ),
    "section shape": (
        lambda: {"cache": "salla-cache-dev"},
        [f'{P}cache = "salla-cache-dev": must be a map of settings'],
    ),
    "databaseName required": (
        lambda: _with("cache", databaseName=DELETE),
        ["cache.databaseName = (not set): is required"],
    ),
    "primary region": (
        lambda: _with("cache", primaryRegion="me-south-1"),
        ['cache.primaryRegion = "me-south-1": is not an Upstash global-database region'],
    ),
    "read region repeats primary": (
        lambda: _with("cache", readRegions=["us-east-1"]),
        ['cache.readRegions[0] = "us-east-1": repeats the primary region'],
    ),
    "read region unknown and duplicate": (
        lambda: _with("cache", readRegions=["eu-west-1", "eu-west-1", "mars-1"]),
        ['readRegions[1] = "eu-west-1": is listed twice', 'readRegions[2] = "mars-1": is not an Upstash'],
    ),
    "budget": (
        lambda: _with("cache", budget=0),
        ["cache.budget = 0: must be a positive number of USD per month"],
    ),
    "budget type": (
        lambda: _with("cache", budget="20"),
        ['cache.budget = "20": must be a whole number'],
    ),
    "cache allow list": (
        lambda: _with("cache", ipAllowList=["nope"]),
        ['cache.ipAllowList[0] = "nope": not a valid IP address or CIDR block'],
    ),
    "topics empty": (
        lambda: _topics([]),
        ["messaging.topics = []: must be a non-empty list of {name, endpoints}"],
    ),
    "endpoint http": (
        lambda: _topics([{"name": "cdc-dev", "endpoints": ["http://hooks.example.com/q"]}]),
        ['messaging.topics[0].endpoints[0] = "http://hooks.example.com/q": must use the https scheme'],
    ),
    "endpoint credentials": (
        lambda: _topics([{"name": "cdc-dev", "endpoints": ["https://u:p@hooks.example.com/q"]}]),
        ['endpoints[0] = "https://u:p@hooks.example.com/q": must not embed credentials'],
    ),
    "endpoint list empty": (
        lambda: _topics([{"name": "cdc-dev", "endpoints": []}]),
        ["messaging.topics[0].endpoints = []: must be a non-empty list of https URLs"],
    ),
    "topic names": (
        lambda: _topics(
            [
                {"name": "cdc-dev", "endpoints": [URL]},
                {"name": "cdc-dev", "endpoints": [URL]},
                {"name": "a b-dev", "endpoints": [URL]},
            ]
        ),
        [
            'topics[1].name = "cdc-dev": is used by another topic',
            'topics[2].name = "a b-dev": must be 1-64 letters',
        ],
    ),
    "protect type": (
        lambda: {"protect": "yes"},
        [f'{P}protect = "yes": must be true or false'],
    ),
    "reserved tag": (
        lambda: {"tags": {"environment": "production"}},
        [f"{P}tags.environment = \"production\": is a standard tag set by the program ('dev')"],
    ),
    "tag value": (
        lambda: {"tags": {"owner": 3}},
        [f"{P}tags.owner = 3: must be a non-empty string"],
    ),
    "unknown top-level key": (
        lambda: {"protected": True},
        [f'{P}protected = "true": is not a setting this program reads', "known keys:"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_rule_is_reported_with_key_value_and_fix(case: str) -> None:
    overrides, fragments = CASES[case]
    stack = "prod" if case.startswith("backup") or "on prod" in case else "dev"
    report = config_error(stack, overrides())
    for fragment in fragments:
        assert fragment in report, f"{fragment!r} missing from:\n{report}"
    assert "fix:" in report
    assert "Traceback" not in report


def test_all_problems_are_reported_together() -> None:
    overrides = {
        **_with("dataWarehouse", serviceName=DELETE, region="nowhere"),
        **_with("cache", budget=-1),
        "protect": "maybe",
        "salla-analytics-infra:clickhouseAdminPasswordHash": DELETE,
    }
    report = config_error("dev", overrides)
    assert report.startswith("stack 'dev' has 5 configuration problems:")
    for key in (
        "dataWarehouse.serviceName",
        "dataWarehouse.region",
        "cache.budget",
        ":protect",
        ":clickhouseAdminPasswordHash",
    ):
        assert key in report


def test_missing_secret_shows_the_exact_command() -> None:
    report = config_error("prod", {f"{P}clickhouseAdminPasswordHash": DELETE})
    assert f"{P}clickhouseAdminPasswordHash = (not set): is required (a secret)" in report
    assert f"pulumi config set --secret {P}clickhouseAdminPasswordHash '<value>' --stack prod" in report


def test_plaintext_secret_is_rejected_without_echoing_it() -> None:
    # A key set in the stack config map itself (not via --secret) arrives as plaintext.
    config = {**_stack_config("dev"), f"{P}clickhouseAdminPasswordHash": "tok-in-the-clear"}
    run = harness.run_program("dev", stack_config=config)
    assert run.error is not None
    assert f"{P}clickhouseAdminPasswordHash = <redacted>: is stored in plaintext" in run.error
    assert "tok-in-the-clear" not in run.error


def _stack_config(stack: str) -> dict[str, Any]:
    return harness.read_stack_config(stack)


def test_the_removed_provisioner_password_key_is_refused_without_echoing_it() -> None:
    # Even set in plaintext: the key is gone (the SQL login comes from the environment, settings.sql_login).
    password = "Plain-Pr0visioner-Pa55!"
    report = config_error("dev", {f"{P}clickhouseProvisionerPassword": password})
    assert f"{P}clickhouseProvisionerPassword = <redacted>: is no longer read" in report
    assert f"pulumi config rm {P}clickhouseProvisionerPassword --stack dev" in report
    assert password not in report


@pytest.mark.parametrize(
    "value",
    [
        "Sup3r-Secret-Adm1n-Passw0rd!",  # the password itself, not its hash
        "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg",  # padding lost: 43 characters
        "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCg==",  # 44 characters, 31 bytes
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",  # the hex form
        "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCg!=",  # not base64
    ],
)
def test_admin_password_hash_must_be_what_the_service_takes_and_is_never_echoed(value: str) -> None:
    report = config_error("dev", {f"{P}clickhouseAdminPasswordHash": value})
    assert f"{P}clickhouseAdminPasswordHash = <redacted>: is not a base64 SHA-256 digest" in report
    assert (
        f"make admin-hash` and set what it prints: pulumi config set --secret {P}clickhouseAdminPasswordHash"
        in report
    )
    assert value not in report and value[:12] not in report


def test_the_removed_admin_password_key_says_how_to_migrate_without_echoing_it() -> None:
    for value in ("Old-Adm1n-Passw0rd!", harness.Secret("Old-Adm1n-Passw0rd!")):
        report = config_error("dev", {f"{P}clickhouseAdminPassword": value})
        assert f"{P}clickhouseAdminPassword = <redacted>: is no longer read" in report
        assert f"pulumi config rm {P}clickhouseAdminPassword --stack dev" in report
        assert "Old-Adm1n-Passw0rd!" not in report


def test_the_provisioning_user_is_reserved() -> None:
    consumers = stack_value("dev", "consumers")
    consumers["provisioner"] = {"clickhouse": "read"}
    report = config_error("dev", {"consumers": consumers})
    assert (
        f'{P}consumers.provisioner = "provisioner": is reserved: its SQL user would be the provisioning user'
        in report
    )


def test_missing_provider_variables_are_one_clean_error() -> None:
    run = harness.run_program("dev", env={"CLICKHOUSE_TOKEN_SECRET": "", "UPSTASH_API_KEY": ""})
    assert run.error is not None and not run.resources
    assert run.error.startswith("stack 'dev' has 2 configuration problems:")
    assert "CLICKHOUSE_TOKEN_SECRET (environment variable) = (not set): is required" in run.error
    assert "export UPSTASH_API_KEY=... (locally), or set the secret UPSTASH_API_KEY" in run.error
    assert "Traceback" not in run.error


def test_missing_variables_and_config_problems_are_reported_together() -> None:
    run = harness.run_program("dev", {"protect": "maybe"}, env={"CLICKHOUSE_ORG_ID": ""})
    assert run.error is not None
    assert run.error.startswith("stack 'dev' has 2 configuration problems:")
    assert ":protect" in run.error and "CLICKHOUSE_ORG_ID" in run.error


def test_credentials_in_stack_config_are_not_read() -> None:
    # A credential left in stack config is ignored: the providers get no credential input.
    run = run_ok("dev", {"clickhouse:tokenSecret": harness.Secret("config-token-secret")})
    for provider in (harness.CLICKHOUSE_PROVIDER, harness.UPSTASH_PROVIDER):
        assert set(run.one(provider).inputs) <= {"version"}
    assert "config-token-secret" not in str([r.inputs for r in run.resources])


def test_valid_overrides_still_build(monkeypatch: pytest.MonkeyPatch) -> None:
    run = run_ok("prod", _with("cache", "prod", readRegions=["eu-central-1", "ap-southeast-1"]))
    assert run.named("cache-redis").inputs["readRegions"] == ["eu-central-1", "ap-southeast-1"]
    assert run.one(SERVICE).protect


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("10.0.0.0/8", None),
        ("2001:db8::/32", None),
        ("10.0.0.1", None),
        ("10.0.0.1/8", "has host bits set; did you mean 10.0.0.0/8?"),
        ("banana", "not a valid IP address or CIDR block"),
    ],
)
def test_cidr_rule(source: str, problem: str | None) -> None:
    found = cidr_problem(source)
    assert (found is None) if problem is None else (found is not None and problem in found)


@pytest.mark.parametrize(
    ("source", "expected"), [("0.0.0.0/0", True), ("::/0", True), ("0.0.0.0/1", False), ("10.0.0.0/8", False)]
)
def test_open_ingress_rule(source: str, expected: bool) -> None:
    assert is_open(source) is expected


def test_nested_secret_is_never_echoed() -> None:
    # `pulumi config set --secret --path dataWarehouse.adminPasswrd <pw>`: a typo under a
    # structured key. The engine reports the whole key as secret; its values stay redacted.
    dw = stack_value("dev", "dataWarehouse")
    dw["adminPasswrd"] = "Sup3r-Secret-Passw0rd!"
    dw["region"] = "nowhere-1"
    report = config_error("dev", {"dataWarehouse": harness.Secret(dw)})
    assert f"{P}dataWarehouse.adminPasswrd = <redacted>: is not a known key of dataWarehouse" in report
    assert "Sup3r-Secret-Passw0rd!" not in report
    assert "nowhere-1" not in report  # any value under a secret key, at any depth


def test_secret_set_in_a_stack_file_at_a_nested_path_is_redacted() -> None:
    config = _stack_config("dev")
    config[f"{P}cache"] = {**config[f"{P}cache"], "apiPassword": {"secure": "v1:ciphertext"}}
    run = harness.run_program("dev", stack_config=config)
    assert run.error is not None
    assert f"{P}cache.apiPassword = <redacted>: is not a known key of cache" in run.error
    assert "placeholder-secret" not in run.error


def test_unknown_secret_top_level_key_is_redacted() -> None:
    report = config_error("dev", {"adminPassword": harness.Secret("Top-Level-Secret-1!")})
    assert f"{P}adminPassword = <redacted>: is not a setting this program reads" in report
    assert "Top-Level-Secret-1!" not in report


def test_a_string_number_is_one_problem() -> None:
    report = config_error("prod", _backup(periodHours="24", retentionHours=168))
    assert report.startswith("stack 'prod' has 1 configuration problem:")
    assert f'{P}dataWarehouse.backup.periodHours = "24": must be a whole number' in report
    assert "pulumi config set --path 'dataWarehouse.backup.periodHours' 24 --stack prod" in report


def test_rules_that_quote_a_value_are_withheld_under_a_secret_key() -> None:
    # Under a key the engine reports as secret, neither the value nor a rule or fix derived from
    # it appears (the host-bits hint would otherwise spell the network out).
    dw = stack_value("dev", "dataWarehouse")
    dw["ipAllowList"] = ["10.77.66.5/24"]
    topics = {"topics": [{"name": "secret-topic-xyz", "endpoints": [URL]}]}
    report = config_error("dev", {"dataWarehouse": harness.Secret(dw), "messaging": harness.Secret(topics)})
    assert f"{P}dataWarehouse.ipAllowList[0] = <redacted>: is not a valid IP address or CIDR block" in report
    assert f"{P}messaging.topics[0].name = <redacted>: must carry the stack name 'dev'" in report
    for leaked in ("10.77.66", "secret-topic-xyz"):
        assert leaked not in report
    # The same problems under plain keys keep their precise hints.
    plain = config_error("dev", {"dataWarehouse": dw, "messaging": topics})
    assert "did you mean 10.77.66.0/24?" in plain and "rename it, e.g. secret-topic-xyz-dev" in plain


def test_a_consumer_cannot_take_over_the_admin_user() -> None:
    consumers = stack_value("dev", "consumers")
    consumers["default"] = {"clickhouse": "read"}
    report = config_error("dev", {"consumers": consumers})
    assert (
        f'{P}consumers.default = "default": is reserved: its SQL user would be the ClickHouse admin' in report
    )


def test_the_former_rotation_key_names_its_replacement() -> None:
    consumers = stack_value("dev", "consumers")
    consumers["app"]["rotation"] = "2026-11"
    report = config_error("dev", {"consumers": consumers})
    assert "1 configuration problem" in report
    assert 'salla-analytics-infra:consumers.app.rotation = "2026-11": was replaced by `passwords`' in report
    assert "fix: remove `rotation`" in report
