"""CODEOWNERS: every tracked file has an owner, computed with GitHub's own matching rules."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.codeowners import compile_pattern, matching_rule, owners_of, parse
from tools.harness import ROOT

CODEOWNERS = ROOT / ".github" / "CODEOWNERS"
SECURITY = "@salla/platform-security"
# Paths whose changes need the security team (not only the catch-all owner).
SECURITY_PATHS = (
    "policy/__main__.py",
    "policy/config/prod.json",
    "Pulumi.prod.yaml",
    "bootstrap/__main__.py",
    "bootstrap/requirements.txt",
    "requirements.txt",
    "tools/venv.sh",
    "requirements-dev.in",
    "Makefile",
    ".github/workflows/infra.yml",
    ".github/CODEOWNERS",
    ".github/credentials.yml",
    ".github/pulumi-plugins.lock",
    "clickhouse_sql/provider.py",
    "clickhouse_sql/user.py",
    "ops/provisioner.py",
    "ops/provisioner_sql.py",
    "ops/reviewed_code.py",
    "ops/provisioner_grants.py",  # any future operator module
    "upstash_access/acl.py",
    "settings/credentials.py",
    "tools/pulumi_plugins.py",
    "tools/main_head.py",
    "tools/drift_issue.py",
    "tools/github_api.py",
    "tests/test_workflow_trust.py",
    "tests/test_credentials_table.py",
    "tests/test_codeowners.py",
    "tests/test_sql_login.py",
    "policy/guardrails/access.py",
    "bootstrap/bootstrap_access.py",
)


def tracked_files() -> list[str]:
    result = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, f"git ls-files failed: {result.stderr}"
    return [path for path in result.stdout.split("\0") if path]


def unowned(text: str, paths: list[str]) -> list[str]:
    rules, problems = parse(text)
    return problems + [f"{path}: no code owner" for path in paths if not owners_of(rules, path)]


# -- the repository ------------------------------------------------------------------------------
def test_every_tracked_file_has_a_code_owner() -> None:
    paths = tracked_files()
    assert len(paths) > 50 and "__main__.py" in paths
    assert unowned(CODEOWNERS.read_text(), paths) == []


def test_the_catch_all_comes_first() -> None:
    rules, _ = parse(CODEOWNERS.read_text())
    assert rules[0].pattern == "*" and rules[0].owners, "the first rule must be a catch-all `*` with owners"
    assert all(rule.pattern != "*" for rule in rules[1:]), "a later `*` would override every narrower owner"


def security_violations(text: str) -> list[str]:
    """Sensitive paths whose deciding line is not the security team alone."""
    rules, _ = parse(text)
    found = []
    for path in SECURITY_PATHS:
        rule = matching_rule(rules, path)
        if rule is None or rule.pattern == "*":
            found.append(f"{path} is owned by the catch-all only")
        # Any ONE owner of a line can approve: only a security-only line makes that review required.
        elif rule.owners != (SECURITY,):
            found.append(f"{path}: {rule.owners} (line {rule.line}) can approve without {SECURITY}")
    return found


def test_sensitive_paths_need_the_security_team() -> None:
    assert security_violations(CODEOWNERS.read_text()) == []


@pytest.mark.parametrize(
    "line",
    [
        "/clickhouse_sql/ @salla/data-platform @salla/platform-security",
        "/tools/ @salla/data-platform",
        "*.py @salla/data-platform",
        "/.github/workflows/",
    ],
)
def test_the_security_check_catches(line: str) -> None:
    assert security_violations(CODEOWNERS.read_text() + "\n" + line + "\n")


def test_placeholder_teams_are_flagged() -> None:
    assert "PLACEHOLDER" in CODEOWNERS.read_text()


def test_the_docs_state_the_branch_protection_they_rely_on() -> None:
    # README's "Security model" points to docs/security-model.md, which lists the settings.
    assert "(docs/security-model.md)" in ROOT.joinpath("README.md").read_text()
    doc = " ".join(ROOT.joinpath("docs", "security-model.md").read_text().split())
    for setting in (
        "Require a pull request before merging",
        "Require review from Code Owners",
        "Dismiss stale pull request approvals when new commits are pushed",
        "Require approval of the most recent reviewable push",
        "Require status checks to pass",
        "Restrict who can push to matching branches",
        "Do not allow bypassing the above settings",
        "Allow force pushes",
    ):
        assert setting in doc, f"docs/security-model.md lacks the branch-protection setting {setting!r}"


# -- the check fails when it should --------------------------------------------------------------
BREAK = {
    "no-catch-all": (lambda t: re.sub(r"(?m)^\*\s.*$", "", t), "__main__.py: no code owner"),
    "ownerless-line": (lambda t: t + "\n/components/\n", "components/redis.py: no code owner"),
    "negation": (lambda t: t + "\n!/settings/ @salla/x\n", "does not support"),
    "bad-owner": (lambda t: t + "\n/tools/ salla-team\n", "invalid owner"),
}


@pytest.mark.parametrize(("change", "expected"), BREAK.values(), ids=BREAK.keys())
def test_the_ownership_check_catches(change: object, expected: str) -> None:
    assert callable(change)
    found = unowned(change(CODEOWNERS.read_text()), tracked_files())
    assert any(expected in problem for problem in found), found


# -- the matcher itself (cases from GitHub's CODEOWNERS documentation and gitignore) ------------
MATCHES = [
    ("*", "README.md", True),
    ("*", "a/b/c.py", True),
    ("*.js", "app.js", True),
    ("*.js", "src/deep/app.js", True),
    ("*.js", "app.jsx", False),
    ("/build/logs/", "build/logs/x.log", True),
    ("/build/logs/", "build/logs/deep/x.log", True),
    ("/build/logs/", "src/build/logs/x.log", False),
    ("/build/logs/", "build/logs", False),  # a directory pattern never matches a file
    ("docs/*", "docs/getting-started.md", True),
    ("docs/*", "docs/build-app/troubleshooting.md", False),
    ("docs/*", "src/docs/a.md", False),  # a middle slash anchors
    ("apps/", "apps/a.py", True),
    ("apps/", "src/apps/deep/a.py", True),  # only a trailing slash: any depth
    ("apps/", "myapps/a.py", False),
    ("/docs/", "docs/a/b.md", True),
    ("/docs/", "src/docs/a.md", False),
    ("/apps/github", "apps/github/x.rb", True),
    ("/apps/github", "apps/github", True),
    ("/apps/github", "apps/githubber/x.rb", False),
    ("**/logs", "build/logs/x", True),
    ("**/logs", "deeply/nested/logs/x", True),
    ("**/logs", "logs/x", True),
    ("**/logs", "catalogs/x", False),
    ("/scripts/**", "scripts/a/b.sh", True),
    ("/scripts/**", "scripts", False),
    ("a/**/b", "a/b", True),
    ("a/**/b", "a/x/y/b", True),
    ("a/**/b", "a/xb", False),
    ("Makefile", "Makefile", True),
    ("Makefile", "sub/Makefile", True),  # no slash: any depth
    ("/Makefile", "sub/Makefile", False),
    ("/Pulumi.prod.yaml", "Pulumi.prodXyaml", False),  # a dot is literal
    ("requirements*.txt", "policy/requirements.txt", True),
    ("requirements*.txt", "requirements-dev.txt", True),
    ("file?.py", "file1.py", True),
    ("file?.py", "file/.py", False),
    ("/Docs/", "docs/a.md", False),  # case-sensitive
]


@pytest.mark.parametrize(("pattern", "path", "expected"), MATCHES)
def test_matcher(pattern: str, path: str, expected: bool) -> None:
    assert bool(compile_pattern(pattern).fullmatch(path)) is expected


def test_the_last_matching_rule_wins() -> None:
    rules, problems = parse("* @org/all\n/docs/ @org/docs\n*.md @org/writers\n/docs/internal/\n")
    assert problems == []
    assert owners_of(rules, "src/x.py") == ("@org/all",)
    assert owners_of(rules, "docs/guide.txt") == ("@org/docs",)
    assert owners_of(rules, "docs/guide.md") == ("@org/writers",)
    assert owners_of(rules, "docs/internal/a.md") == ()  # an ownerless line un-owns
    commented, _ = parse("*.py @org/a # the Python owners\n")
    assert owners_of(commented, "x.py") == ("@org/a",)
