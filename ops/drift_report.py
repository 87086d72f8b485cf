"""Report a drift check in one GitHub issue per stack: open or update it on drift, close it when clean.

    pulumi preview --refresh --expect-no-changes --json --stack prod > preview.json; echo $? > rc
    python -m ops.drift_report --stack prod --preview preview.json --preview-exit "$(cat rc)"

Run by the scheduled drift jobs (.github/workflows/infra.yml) with the workflow's own token
(`GITHUB_TOKEN`, permission `issues: write` and nothing else of GitHub's). Standard library only:
the step needs no virtualenv and runs none of the program's code.

What reaches the issue is built from names only: each changed resource's operation, type and name
(from its URN), the names of the properties that differ (`diffReasons`), and the `drift` lines the
project's SQL and Redis providers store (descriptions that hold no secret by design). Property
values never do, and every line is scrubbed again (64-hex runs: password hashes; anything quoted
after `BY`; `[secret]` placeholders are dropped). The issue is found by a marker in its body
(`<!-- drift-report:stack=<stack> -->`), so no label or search permission is needed.

Exit status: 0 when the stack is clean, 1 when drift was found or the check itself failed (the job
fails as well as the issue being written), 2 for a usage problem.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_LINES = 200
MAX_LINE = 300
_HEX_RUN = re.compile(r"[0-9a-fA-F]{32,}")
_QUOTED_AFTER_BY = re.compile(r"(\bBY\s*)(?:'(?:[^'\\]|\\.)*'?|\"[^\"]*\"?)", re.IGNORECASE)
_CREDENTIAL_URL = re.compile(r"([a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)


def marker(stack: str) -> str:
    return f"<!-- drift-report:stack={stack} -->"


def scrub(text: str) -> str:
    """One line, without anything that could be a secret or a hash of one."""
    text = " ".join(text.split())
    text = _CREDENTIAL_URL.sub(r"\1<redacted>@", text)
    text = _QUOTED_AFTER_BY.sub(lambda m: f"{m.group(1)}'<redacted>'", text)
    text = _HEX_RUN.sub("<redacted>", text)
    return text if len(text) <= MAX_LINE else text[: MAX_LINE - 1] + "…"


@dataclass(frozen=True)
class Finding:
    op: str
    type: str
    name: str
    properties: tuple[str, ...]
    drift: tuple[str, ...]


def _urn_parts(urn: str) -> tuple[str, str]:
    """(type, name) of `urn:pulumi:<stack>::<project>::<parent$type>::<name>`."""
    parts = urn.split("::")
    if len(parts) < 4:
        return "?", scrub(urn)
    return parts[2].rsplit("$", 1)[-1], parts[3]


def _drift_lines(step: Mapping[str, Any]) -> tuple[str, ...]:
    lines: list[str] = []
    for state in ("oldState", "newState"):
        outputs = (step.get(state) or {}).get("outputs") or {}
        drift = outputs.get("drift") if isinstance(outputs, Mapping) else None
        if isinstance(drift, list):
            lines += [scrub(d) for d in drift if isinstance(d, str) and d != "[secret]"]
    return tuple(dict.fromkeys(lines))  # old and new state may both hold them


def findings(preview: Mapping[str, Any]) -> list[Finding]:
    """Every step of the preview that is not `same`, described by names only."""
    found: list[Finding] = []
    for step in preview.get("steps") or []:
        op = str(step.get("op", "?"))
        if op in {"same", "read"}:
            continue
        type_, name = _urn_parts(str(step.get("urn", "")))
        reasons = step.get("diffReasons") or sorted((step.get("detailedDiff") or {}).keys())
        found.append(Finding(op, type_, name, tuple(scrub(str(r)) for r in reasons), _drift_lines(step)))
    return found


def errors(preview: Mapping[str, Any]) -> list[str]:
    return [
        scrub(str(d.get("message", "")).strip().splitlines()[0] if d.get("message") else "")
        for d in preview.get("diagnostics") or []
        if d.get("severity") == "error" and d.get("message")
    ]


def summary(stack: str, preview: Mapping[str, Any] | None, exit_code: int, run_url: str) -> str | None:
    """The issue body, or None when the check ran clean."""
    found = findings(preview) if preview is not None else []
    problems = errors(preview) if preview is not None else []
    if exit_code == 0 and not found:
        return None
    lines = [marker(stack), f"# Drift in stack `{stack}`", ""]
    if preview is None:
        lines.append("The drift check produced no readable preview (it failed before planning).")
    lines.append(f"Latest check: {run_url} (exit {exit_code}).")
    lines.append("")
    if found:
        lines.append(f"{len(found)} resource(s) differ from the declaration:")
        lines.append("")
        for f in found:
            props = f" ({', '.join(f.properties)})" if f.properties else ""
            lines.append(f"- **{f.op}** `{f.type}` `{f.name}`{props}")
            lines += [f"  - {d}" for d in f.drift]
    if problems:
        lines += ["", "Errors:", ""] + [f"- {p}" for p in problems]
    lines += [
        "",
        "Repair: the next deploy of this stack converges it (deploys refresh first); to run it now, "
        "dispatch the workflow with `repair` set to this stack (prod: after approval). See docs/drift.md.",
    ]
    if len(lines) > MAX_LINES:
        lines = [*lines[:MAX_LINES], f"… {len(lines) - MAX_LINES} more lines (see the run's log)."]
    return "\n".join(lines) + "\n"


class GitHub:
    """The few issue calls, over the REST API with the workflow's token (never printed)."""

    def __init__(self, api: str, repo: str, token: str) -> None:
        self._api, self._repo, self._token = api.rstrip("/"), repo, token

    def call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            f"{self._api}/repos/{self._repo}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {self._token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def find(self, stack: str) -> int | None:
        """The open drift issue of the stack (by its marker), None if there is none."""
        page = 1
        while True:
            issues = self.call("GET", f"/issues?state=open&per_page=100&page={page}")
            for issue in issues:
                if "pull_request" not in issue and marker(stack) in (issue.get("body") or ""):
                    return int(issue["number"])
            if len(issues) < 100:
                return None
            page += 1


def sync(github: GitHub, stack: str, body: str | None, run_url: str) -> str:
    """Open, update or close the stack's drift issue; what was done."""
    number = github.find(stack)
    if body is None:
        if number is None:
            return "clean; no open drift issue"
        github.call("POST", f"/issues/{number}/comments", {"body": f"Clean drift check: {run_url}"})
        github.call("PATCH", f"/issues/{number}", {"state": "closed", "state_reason": "completed"})
        return f"clean; closed issue #{number}"
    if number is None:
        created = github.call("POST", "/issues", {"title": f"Drift in stack {stack}", "body": body})
        return f"drift; opened issue #{created['number']}"
    github.call("PATCH", f"/issues/{number}", {"body": body})
    return f"drift; updated issue #{number}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ops.drift_report", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--preview", required=True, type=Path, help="`pulumi preview --json` output")
    parser.add_argument("--preview-exit", required=True, type=int, help="the preview's exit code")
    return parser


def load(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = _parser().parse_args(argv)
    env = os.environ if environ is None else environ
    missing = [k for k in ("GITHUB_TOKEN", "GITHUB_REPOSITORY") if not env.get(k)]
    if missing:
        print(f"error: {', '.join(missing)} not set (the workflow passes them)", file=sys.stderr)
        return 2
    server, repo = env.get("GITHUB_SERVER_URL", "https://github.com"), env["GITHUB_REPOSITORY"]
    run_url = f"{server}/{repo}/actions/runs/{env.get('GITHUB_RUN_ID', '?')}"
    body = summary(args.stack, load(args.preview), args.preview_exit, run_url)
    github = GitHub(env.get("GITHUB_API_URL", "https://api.github.com"), repo, env["GITHUB_TOKEN"])
    try:
        print(sync(github, args.stack, body, run_url))
    except (urllib.error.URLError, OSError, KeyError, ValueError) as exc:
        print(
            f"error: could not write the drift issue: {type(exc).__name__}: {scrub(str(exc))}",
            file=sys.stderr,
        )
        return 1
    if body is not None:
        print(body, file=sys.stderr)
    return 0 if body is None else 1


if __name__ == "__main__":
    sys.exit(main())
