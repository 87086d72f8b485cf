"""Report a scheduled drift check in one GitHub issue per stack: open or update it, close it when clean.

    GH_TOKEN=... python3 -m tools.drift_issue --stack prod --log "$RUNNER_TEMP/drift.txt"
        (OUTCOMES: the drift steps' outcomes; GITHUB_* from Actions)

The issue is found by a marker in its body (and labelled `drift:<stack>`); at most one is open
per stack. Its body lists
what drifted as resource-level lines only (operation, type, name) and the preview's counts: no
property value, so no secret and no hash can reach it, whatever the preview printed. A run that
failed without a parsable drift (an error, a missing credential) is reported as such. The job's
own token needs `issues: write` and nothing else (tests/test_drift_issue.py, tests/test_workflow.py).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tools.github_api import Api, github_api

# `pulumi preview --diff` prints each changed resource as `<op> <type>: (<action>)` and its URN on
# a following `[urn=...]` line; the non-diff display prints `<op> <type> <name> <action>`.
_DIFF_LINE = re.compile(
    r"^\s*(?P<op>\+-|-\+|[-+~]|<=|=>)\s*(?P<type>[A-Za-z][\w-]*:[\w/.:$-]*):\s+\((?P<action>[\w-]+)\)"
)
_URN = re.compile(r"^\s*\[urn=(?P<urn>urn:pulumi:[^\]\s]+)\]")
_TREE_LINE = re.compile(
    r"^\s*(?P<op>\+-|-\+|[-+~])\s+(?:[│├└─\s]*)(?P<type>[A-Za-z][\w-]*:[\w/.:$-]*)\s+(?P<name>[\w.-]+)\s+"
    r"(?P<action>create|update|delete|replace|create-replacement|delete-replaced|refresh|read|import)\b"
)
_COUNT = re.compile(
    r"^\s*(?:[-+~]{1,2}\s*)?(?:\d+ changes?\. )?(?P<count>\d+) (?P<what>to \w+(?:-\w+)?|unchanged)\s*$"
)
_SAFE_NAME = re.compile(r"^[\w.:/$-]{1,200}$")
MARKER = "<!-- drift-report stack={stack} -->"
BOT = "github-actions%5Bbot%5D"
_SECRETISH = re.compile(r"[0-9a-fA-F]{32,}|[A-Za-z0-9+/=_-]{40,}")


@dataclass
class Drift:
    changes: list[tuple[str, str, str, str]] = field(default_factory=list)  # op, type, name, action
    counts: list[str] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return bool(self.changes) or any(not c.endswith("unchanged") for c in self.counts)


def _safe(text: str) -> str:
    return text if _SAFE_NAME.match(text) and not _SECRETISH.search(text) else "(name withheld)"


def parse(log: str) -> Drift:
    """Resource-level drift from preview output; property lines are never kept."""
    drift = Drift()
    pending: tuple[str, str, str] | None = None
    for line in log.splitlines():
        if pending and (urn := _URN.match(line)):
            op, type_, action = pending
            if type_ != "pulumi:pulumi:Stack":
                drift.changes.append((op, _safe(type_), _safe(urn["urn"].rsplit("::", 1)[-1]), action))
            pending = None
        elif match := _DIFF_LINE.match(line):
            pending = (match["op"], match["type"], match["action"])
        elif match := _TREE_LINE.match(line):
            if match["type"] != "pulumi:pulumi:Stack":
                drift.changes.append(
                    (match["op"], _safe(match["type"]), _safe(match["name"]), match["action"])
                )
        elif match := _COUNT.match(line):
            drift.counts.append(f"{match['count']} {match['what']}")
    drift.changes = list(dict.fromkeys(drift.changes))
    return drift


def body(stack: str, drift: Drift, outcomes: str, environ: Mapping[str, str]) -> str:
    server, repo, run_id = (
        environ.get(k, "?") for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    run = f"{server}/{repo}/actions/runs/{run_id}"
    commit = environ.get("GITHUB_SHA", "?")[:12]
    lines = [
        MARKER.format(stack=stack),
        f"The scheduled drift check of stack `{stack}` failed in [run {run_id}]({run})"
        f" at commit {commit} (step outcomes: {outcomes}).",
        "",
    ]
    if drift.found:
        lines += ["| change | type | name | action |", "|---|---|---|---|"]
        lines += [
            f"| `{op}` | `{type_}` | `{name}` | {action} |" for op, type_, name, action in drift.changes
        ]
        if drift.counts:
            lines += ["", "Resources: " + ", ".join(drift.counts)]
    else:
        lines.append("No drift could be read from the output: the check itself failed (see the run's log).")
    lines += [
        "",
        "Property values are not copied here (no secret, no hash); the run's log has the diff.",
        "To repair through the approved deploy path, dispatch the workflow on `main` with `repair: true`",
        "(plan-prod shows the plan, deploy-prod applies it after an approval). This issue closes itself",
        "after the next clean drift run.",
    ]
    return "\n".join(lines)


def report(
    api: Api, repo: str, stack: str, drift: Drift | None, outcomes: str, environ: Mapping[str, str]
) -> str:
    """Open, update or close the stack's drift issue. `drift` None: the run was clean."""
    # Found by the marker in its body, among the open issues this workflow's token opened: a label
    # set with a token that has `issues: write` only may be dropped, so it is not relied on.
    marker = MARKER.format(stack=stack)
    listed = api("GET", f"/repos/{repo}/issues?state=open&creator={BOT}&per_page=100", None)
    open_issues = [i for i in listed if "pull_request" not in i and marker in (i.get("body") or "")]
    if drift is None:
        for issue in open_issues:
            run = environ.get("GITHUB_RUN_ID", "?")
            api(
                "POST",
                f"/repos/{repo}/issues/{issue['number']}/comments",
                {"body": f"Clean drift run {run}: closing."},
            )
            api(
                "PATCH",
                f"/repos/{repo}/issues/{issue['number']}",
                {"state": "closed", "state_reason": "completed"},
            )
        return f"closed {[i['number'] for i in open_issues]}" if open_issues else "clean, nothing open"
    text = body(stack, drift, outcomes, environ)
    if open_issues:
        number = open_issues[0]["number"]
        api("PATCH", f"/repos/{repo}/issues/{number}", {"body": text})
        return f"updated #{number}"
    title = f"Drift in stack {stack}"
    created = api(
        "POST", f"/repos/{repo}/issues", {"title": title, "body": text, "labels": [f"drift:{stack}"]}
    )
    return f"opened #{created['number']}"


def main(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None, api: Api | None = None
) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tools.drift_issue")
    parser.add_argument("--stack", required=True)
    parser.add_argument("--log", required=True, type=Path)
    args = parser.parse_args(argv)
    env = os.environ if environ is None else environ
    outcomes = env.get("OUTCOMES", "")
    clean = bool(outcomes) and all(o == "success" for o in outcomes.split())
    log = args.log.read_text(errors="replace") if args.log.exists() else ""
    try:
        result = report(
            api or github_api(env),
            env["GITHUB_REPOSITORY"],
            args.stack,
            None if clean else parse(log),
            outcomes,
            env,
        )
    except (KeyError, OSError, ValueError) as exc:
        print(f"::error::cannot report drift ({type(exc).__name__}: {exc})", file=sys.stderr)
        return 1
    print(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
