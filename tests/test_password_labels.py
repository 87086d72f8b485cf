"""The rotation runbook's config commands, as the engine applies them, on a stack without `passwords`.

`pulumi config set --path 'consumers.app.passwords[1]' x` on a consumer without the key writes
[null, x] (the CLI pads a list up to the index with nulls; an established fact of the real engine).
`apply` below does what the CLI does with `--path` (documented: "true"/"false" become booleans,
integers numbers, anything else a string; `rm --path` deletes one element); the program, its
validation and the report run for real.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

import pytest

from tests.helpers import config_error, run_ok, stack_value
from tools.harness import PROJECT, ROOT

PASSWORD = "random:index/randomPassword:RandomPassword"
PATH = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


def _parts(path: str) -> list[str | int]:
    return [int(index) if index else key for key, index in PATH.findall(path)]


def _typed(value: str) -> Any:
    if value in ("true", "false"):
        return value == "true"
    return int(value) if re.fullmatch(r"-?\d+", value) else value


def apply(config: dict[str, Any], command: list[str]) -> None:
    """One `pulumi config set|set-all|rm --path '<key>...[<index>]'` command on the project's keys."""
    verb, args = command[2], command[3:]
    args = args[: args.index("--stack")] if "--stack" in args else args
    if verb == "set-all":
        pairs = [args[i + 1].split("=", 1) for i, a in enumerate(args) if a == "--plaintext"]
    elif verb == "set":
        pairs = [[args[1], args[2]]]
    else:
        pairs = [[args[1], ""]]
    for path, value in pairs:
        *keys, index = _parts(path)  # e.g. consumers, app, passwords, 1
        assert isinstance(index, int), path
        node: Any = config
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        if verb == "rm":
            del node[keys[-1]][index]
            continue
        items = node.setdefault(keys[-1], [])
        items.extend([None] * (index + 1 - len(items)))  # the CLI pads with nulls up to the index
        items[index] = _typed(value)


def commands(text: str) -> list[list[str]]:
    """Every `pulumi config ...` command in a fix (joined with &&)."""
    return [shlex.split(c.strip()) for c in text.split("&&")]


def _config(stack: str, passwords: list[str] | None) -> dict[str, Any]:
    consumers = stack_value(stack, "consumers")
    consumers["app"].pop("passwords", None)
    if passwords is not None:
        consumers["app"]["passwords"] = passwords
    return {"consumers": consumers}


def _labels(stack: str, config: dict[str, Any]) -> list[str]:
    run = run_ok(stack, config)
    return sorted(p.name for p in run.of_type(PASSWORD) if p.name.startswith("warehouse-access-app-"))


def test_the_old_runbook_command_writes_null_and_is_one_clean_error() -> None:
    config = _config("dev", None)
    apply(config, shlex.split("pulumi config set --path 'consumers.app.passwords[1]' 2026-12 --stack dev"))
    assert config["consumers"]["app"]["passwords"] == [None, "2026-12"]
    report = config_error("dev", config)
    assert report.startswith("stack 'dev' has 1 configuration problem:"), report
    assert (
        f"{PROJECT}:consumers.app.passwords = [None, '2026-12']: has an empty (null) entry: "
        "`pulumi config set --path '...passwords[1]'` on a consumer without a `passwords` key writes "
        "[null, <label>]"
    ) in report
    fix = report.split("fix: ", 1)[1]
    assert fix.startswith("pulumi config set --path 'consumers.app.passwords[0]' initial --stack dev (then")
    assert "Traceback" not in report


@pytest.mark.parametrize(
    ("broken", "repaired"),
    [([None, "2026-12"], ["initial", "2026-12"]), ([None, "2026-12", None], ["initial", "2026-12"])],
)
def test_the_fix_in_the_report_repairs_the_list(broken: list[Any], repaired: list[str]) -> None:
    config = _config("dev", broken)
    fix = config_error("dev", config).split("fix: ", 1)[1].split(" (then", 1)[0]
    for command in commands(fix):
        apply(config, command)
    assert config["consumers"]["app"]["passwords"] == repaired
    # The rotation started from the password the consumer had (`initial` keeps its resource name).
    assert _labels("dev", config) == [
        "warehouse-access-app-password",
        "warehouse-access-app-password-2026-12",
    ]


def _runbook_start() -> list[str]:
    """The runbook's start-a-rotation command, wherever the runbook lives (README or docs/)."""
    texts = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    found = {
        m.group(1)
        for path in texts
        for m in re.finditer(r"`(pulumi config set-all --path [^`]*passwords\[1\][^`]*)`", path.read_text())
    }
    assert len(found) == 1, found
    return shlex.split(found.pop())


@pytest.mark.parametrize("before", [None, ["initial"]], ids=["no passwords key", "passwords: [initial]"])
def test_the_runbook_start_command_works_with_and_without_the_key(before: list[str] | None) -> None:
    command = _runbook_start()
    stack = command[command.index("--stack") + 1]
    config = _config(stack, before)
    apply(config, command)
    assert config["consumers"]["app"]["passwords"] == ["initial", "2026-12"]
    assert _labels(stack, config) == [
        "warehouse-access-app-password",
        "warehouse-access-app-password-2026-12",
    ]
