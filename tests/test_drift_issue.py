"""The drift issue (tools/drift_issue.py): one per stack, opened, updated, closed; never a value.

GitHub is replaced by an in-memory issue tracker that answers the same REST calls; the parsing
runs on preview output in the CLI's `--diff` and tree formats.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tools import drift_issue
from tools.github_api import github_api

REPO = "salla/salla-analytics-infra"
ENV = {
    "GITHUB_REPOSITORY": REPO,
    "GITHUB_SERVER_URL": "https://github.example.test",
    "GITHUB_RUN_ID": "4242",
    "GITHUB_SHA": "c0ffee" * 6 + "abcd",
}
SECRET = "s3cr3t-Placeholder-Pa55"
HASH = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
DIFF_OUTPUT = f"""Previewing update (prod):
  pulumi:pulumi:Stack: (same)
    [urn=urn:pulumi:prod::salla-analytics-infra::pulumi:pulumi:Stack::salla-analytics-infra-prod]
    ~ clickhouse:index/service:Service: (update)
        [id=svc-1]
        [urn=urn:pulumi:prod::salla-analytics-infra::salla:analytics:DataWarehouse$clickhouse:index/service:Service::warehouse]
      ~ ipAccesses: [
          ~ [0]: {{ source: "10.0.0.0/8" => "0.0.0.0/0" }}
        ]
      ~ passwordHash: "{HASH}" => [secret]
    +-pulumi-python:dynamic:Resource: (replace)
        [urn=urn:pulumi:prod::salla-analytics-infra::salla:analytics:Consumer$pulumi-python:dynamic:Resource::salla_app]
      ~ password: "{SECRET}"
Resources:
    ~ 1 to update
    +-1 to replace
    2 changes. 40 unchanged
"""


class FakeGitHub:
    def __init__(self, issues: list[dict[str, Any]] | None = None) -> None:
        self.issues = issues or []
        self.calls: list[tuple[str, str]] = []

    def __call__(self, method: str, path: str, body: Mapping[str, Any] | None) -> Any:
        self.calls.append((method, path))
        if method == "GET":
            assert "state=open" in path and "creator=github-actions%5Bbot%5D" in path
            return [i for i in self.issues if i["state"] == "open"]
        if method == "POST" and path.endswith("/issues"):
            assert body is not None
            issue = {"number": len(self.issues) + 1, "state": "open", "comments": [], **body}
            self.issues.append(issue)
            return issue
        number = int(path.split("/issues/")[1].split("/")[0])
        issue = next(i for i in self.issues if i["number"] == number)
        assert body is not None
        if path.endswith("/comments"):
            issue["comments"].append(body["body"])
        else:
            issue.update(body)
        return issue


def test_the_summary_holds_resources_and_counts_never_values() -> None:
    drift = drift_issue.parse(DIFF_OUTPUT)
    assert drift.changes == [
        ("~", "clickhouse:index/service:Service", "warehouse", "update"),
        ("+-", "pulumi-python:dynamic:Resource", "salla_app", "replace"),
    ]
    assert drift.counts == ["1 to update", "1 to replace", "40 unchanged"]
    text = drift_issue.body("prod", drift, "failure success", ENV)
    assert "`warehouse`" in text and "`salla_app`" in text
    for leaked in (SECRET, HASH, "0.0.0.0/0", "10.0.0.0/8", "svc-1"):
        assert leaked not in text, leaked
    assert "https://github.example.test/salla/salla-analytics-infra/actions/runs/4242" in text


def test_tree_output_is_read_too() -> None:
    drift = drift_issue.parse(
        "     Type                                Name        Plan       Info\n"
        "     pulumi:pulumi:Stack                 infra-prod\n"
        " ~   └─ upstash:index/redisDatabase:RedisDatabase  cache  update  [diff: ~eviction]\n"
    )
    assert drift.changes == [("~", "upstash:index/redisDatabase:RedisDatabase", "cache", "update")]


def test_a_name_that_looks_like_a_secret_is_withheld() -> None:
    drift = drift_issue.parse(f" ~   └─ random:index/randomPassword:RandomPassword  {HASH}  update\n")
    assert drift.changes == [("~", "random:index/randomPassword:RandomPassword", "(name withheld)", "update")]


def test_drift_opens_one_issue_then_updates_it() -> None:
    github = FakeGitHub()
    drift = drift_issue.parse(DIFF_OUTPUT)
    assert drift_issue.report(github, REPO, "prod", drift, "failure success", ENV) == "opened #1"
    assert github.issues[0]["title"] == "Drift in stack prod"
    assert github.issues[0]["labels"] == ["drift:prod"]
    assert drift_issue.report(github, REPO, "prod", drift, "failure success", ENV) == "updated #1"
    assert len(github.issues) == 1
    # Another stack's issue, and unrelated issues, are separate.
    assert drift_issue.report(github, REPO, "dev", drift, "failure success", ENV) == "opened #2"


def test_a_clean_run_closes_the_open_issue_and_only_it() -> None:
    other = {"number": 7, "state": "open", "body": "a bug report", "comments": []}
    github = FakeGitHub([other])
    drift_issue.report(github, REPO, "prod", drift_issue.parse(DIFF_OUTPUT), "failure", ENV)
    (opened,) = [i for i in github.issues if i["number"] != 7]
    assert (
        drift_issue.report(github, REPO, "prod", None, "success success", ENV)
        == f"closed [{opened['number']}]"
    )
    assert opened["state"] == "closed" and opened["comments"] == ["Clean drift run 4242: closing."]
    assert other["state"] == "open"
    assert drift_issue.report(github, REPO, "prod", None, "success success", ENV) == "clean, nothing open"


def test_a_failed_check_without_drift_is_reported_as_a_failure() -> None:
    github = FakeGitHub()
    drift_issue.report(
        github, REPO, "prod", drift_issue.parse("error: AccessDenied\n"), "failure skipped", ENV
    )
    assert "the check itself failed" in github.issues[0]["body"]


def test_main_reads_the_outcomes(tmp_path: Path) -> None:
    log = tmp_path / "drift.txt"
    log.write_text(DIFF_OUTPUT)
    github = FakeGitHub()
    args = ["--stack", "prod", "--log", str(log)]
    assert drift_issue.main(args, {**ENV, "OUTCOMES": "failure success"}, github) == 0
    assert github.issues[0]["state"] == "open"
    assert drift_issue.main(args, {**ENV, "OUTCOMES": "success success"}, github) == 0
    assert github.issues[0]["state"] == "closed"
    # No outcome at all (the drift steps never ran) is not clean.
    assert drift_issue.main(args, {**ENV, "OUTCOMES": ""}, github) == 0
    assert github.issues[-1]["state"] == "open"


def test_main_fails_closed_without_the_api(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def broken(method: str, path: str, body: Mapping[str, Any] | None) -> Any:
        raise OSError("unreachable")

    args = ["--stack", "prod", "--log", str(tmp_path / "missing.txt")]
    assert drift_issue.main(args, {**ENV, "OUTCOMES": "failure"}, broken) == 1
    assert "cannot report drift" in capsys.readouterr().err
    assert drift_issue.main(args, {"OUTCOMES": "failure"}, FakeGitHub()) == 1  # no GITHUB_REPOSITORY


def test_the_github_api_is_called_with_the_jobs_token(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []

    class Response:
        def __enter__(self) -> Response:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def read(self) -> bytes:
            return json.dumps([]).encode()

    def urlopen(request: Any, timeout: int) -> Response:
        seen.append(request)
        return Response()

    monkeypatch.setattr("urllib.request.urlopen", urlopen)
    api = github_api({"GH_TOKEN": "ghs_x", "GITHUB_API_URL": "https://api.example.test"})
    assert api("GET", "/repos/o/r/issues?state=open", None) == []
    assert seen[0].full_url == "https://api.example.test/repos/o/r/issues?state=open"
    assert seen[0].get_header("Authorization") == "Bearer ghs_x"
