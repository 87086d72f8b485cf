"""Pinned tools in credentialed jobs: the CLI at PULUMI_VERSION, every provider plugin at the lock's
version with its archive checksum verified (tools/pulumi_plugins.py, .github/pulumi-plugins.lock),
and nothing resolved at run time.

The tool runs for real against virtualenv layouts built here (SDK dist-info + pulumi-plugin.json);
only the `pulumi plugin install` process is replaced by a recorder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name

from tests.test_workflow import (
    INFRA,
    PULUMI_ACTION,
    ROOT,
    action_name,
    environment,
    load,
    mutated,
    pulumi_steps,
    steps,
    with_,
)
from tools import pulumi_plugins
from tools.pulumi_plugins import Plugin, PluginError

LOCK_OF_SET = {"program": "requirements.txt", "bootstrap": "bootstrap/requirements.txt"}
VENV_OF_SET = {"program": ".venv", "bootstrap": "bootstrap/.venv"}
INSTALL = re.compile(r"^python -m tools\.pulumi_plugins install --set (?P<set>\w+) --venv (?P<venv>\S+)$")


def pins(lock: str) -> dict[str, str]:
    text = (ROOT / lock).read_text()
    return {canonicalize_name(m[0]): m[1] for m in re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)", text, re.M)}


def test_each_plugin_is_pinned_to_its_sdks_version_in_the_lock() -> None:
    plugins = pulumi_plugins.load()
    assert {p.set for p in plugins} == set(LOCK_OF_SET)
    for plugin in plugins:
        assert pins(LOCK_OF_SET[plugin.set]).get(canonicalize_name(plugin.package)) == plugin.version, plugin


def _for_this_python(lock: str, name: str) -> bool:
    """Whether the lock's line for `name` applies here (`async-timeout ; python_full_version < ...`)."""
    from packaging.markers import Marker

    for line in (ROOT / lock).read_text().splitlines():
        if canonicalize_name(line.split("==", 1)[0].strip()) == name and "==" in line:
            marker = line.split(";", 1)[1].split("\\")[0].strip() if ";" in line else ""
            return not marker or Marker(marker).evaluate()
    return True


def test_every_resource_plugin_of_a_lock_is_pinned() -> None:
    """Any SDK in a lock that ships a resource plugin (pulumi-plugin.json) has a pin: a new provider
    cannot be added without one. The test virtualenv holds every SDK of every lock."""
    import importlib.metadata

    pinned = {(p.set, canonicalize_name(p.package)) for p in pulumi_plugins.load()}
    for set_, lock in LOCK_OF_SET.items():
        for name in pins(lock):
            try:
                dist = importlib.metadata.distribution(name)
            except importlib.metadata.PackageNotFoundError:  # debugpy: bootstrap's lock only
                assert name == "debugpy" or not _for_this_python(lock, name), name
                continue
            shipped = [f for f in dist.files or [] if f.name == "pulumi-plugin.json"]
            if shipped and json.loads(shipped[0].read_text()).get("resource"):
                assert (set_, name) in pinned, f"{name} ({lock}) ships a resource plugin without a pin"


# -- the tool ---------------------------------------------------------------------------------------
def fake_venv(root: Path, packages: dict[str, tuple[str, dict[str, Any]]]) -> Path:
    site = root / "lib" / "python3.11" / "site-packages"
    for package, (version, metadata) in packages.items():
        (site / f"{package}-{version}.dist-info").mkdir(parents=True)
        (site / package).mkdir(parents=True)
        (site / package / "pulumi-plugin.json").write_text(json.dumps(metadata))
    return root


SHA = "ab" * 32
PLUGINS = [
    Plugin("program", "upstash", "upstash_pulumi", "0.5.0", SHA),
    Plugin("program", "random", "pulumi_random", "4.21.4", SHA),
    Plugin("bootstrap", "aws", "pulumi_aws", "7.51.1", pulumi_plugins.UNRECORDED),
]
SERVER = "github://example.test/upstash/pulumi-upstash"


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    return fake_venv(
        tmp_path,
        {
            "upstash_pulumi": ("0.5.0", {"resource": True, "name": "upstash", "server": SERVER}),
            "pulumi_random": ("4.21.4", {"resource": True, "name": "random", "version": "4.21.4"}),
            "pulumi_aws": ("7.51.1", {"resource": True, "name": "aws", "version": "7.51.1"}),
        },
    )


def test_exact_versions_with_checksums_and_the_sdks_server(venv: Path) -> None:
    commands, warnings = pulumi_plugins.commands(
        PLUGINS, "program", venv, ci=True, platform_name="linux-amd64"
    )
    assert warnings == []
    assert commands == [
        ["pulumi", "plugin", "install", "resource", "upstash", "0.5.0", "--exact", "--reinstall",
         "--server", SERVER, "--checksum", SHA],
        ["pulumi", "plugin", "install", "resource", "random", "4.21.4", "--exact", "--reinstall",
         "--checksum", SHA],
    ]  # fmt: skip


def test_an_unrecorded_checksum_is_refused_everywhere_without_the_flag(venv: Path) -> None:
    for ci, platform_name in ((True, "linux-amd64"), (False, "linux-amd64"), (False, "darwin-arm64")):
        with pytest.raises(
            PluginError, match=r"unverified install: no SHA-256 recorded for aws .*Recording a"
        ):
            pulumi_plugins.commands(PLUGINS, "bootstrap", venv, ci=ci, platform_name=platform_name)


def test_another_platform_than_the_recorded_one_is_refused_off_ci_too(venv: Path) -> None:
    with pytest.raises(PluginError, match=r"recorded for linux-amd64 only, and this machine is darwin-arm64"):
        pulumi_plugins.commands(PLUGINS, "program", venv, ci=False, platform_name="darwin-arm64")


def test_unverified_off_ci_installs_the_pin_and_names_the_risk(venv: Path) -> None:
    commands, warnings = pulumi_plugins.commands(
        PLUGINS, "bootstrap", venv, ci=False, platform_name="darwin-arm64", unverified=True
    )
    assert commands == [
        ["pulumi", "plugin", "install", "resource", "aws", "7.51.1", "--exact", "--reinstall"]
    ]
    assert len(warnings) == 1 and "NOT verified" in warnings[0] and "credentials" in warnings[0]
    # Recorded checksums are still verified on the recorded platform, whatever the flag.
    commands, warnings = pulumi_plugins.commands(
        PLUGINS, "program", venv, ci=False, platform_name="linux-amd64", unverified=True
    )
    assert warnings == [] and all(c[-2:] == ["--checksum", SHA] for c in commands)


def test_ci_refuses_the_unverified_flag_even_with_every_checksum_recorded(venv: Path) -> None:
    with pytest.raises(PluginError, match=r"--unverified is refused in CI"):
        pulumi_plugins.commands(
            PLUGINS, "program", venv, ci=True, platform_name="linux-amd64", unverified=True
        )


@pytest.mark.parametrize(
    ("ci", "flag", "message"),
    [
        ("true", ["--unverified"], "::error::--unverified is refused in CI"),
        ("", [], "error: refusing an unverified install: no SHA-256 recorded for aws"),
    ],
    ids=["ci-with-flag", "operator-without-flag"],
)
def test_main_refuses_before_installing_anything(
    venv: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    ci: str,
    flag: list[str],
    message: str,
) -> None:
    lock = tmp_path / "plugins.lock"
    lock.write_text("\n".join(" ".join(vars(p).values()) for p in PLUGINS))
    monkeypatch.setattr(pulumi_plugins, "LOCK", lock)
    monkeypatch.setattr(pulumi_plugins, "current_platform", lambda: "linux-amd64")
    monkeypatch.setenv("CI", ci)
    ran: list[list[str]] = []
    args = ["install", "--set", "bootstrap", "--venv", str(venv), *flag]

    def run(command: list[str]) -> int:
        ran.append(command)
        return 0

    assert pulumi_plugins.main(args, run) == 1
    assert ran == [] and message in capsys.readouterr().err


def test_make_bootstrap_does_not_pass_the_unverified_flag() -> None:
    """`make bootstrap` installs the aws plugin only with its checksum recorded (README)."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^bootstrap:.*?\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe is not None
    installs = [line for line in recipe[1].split("&&") if "tools.pulumi_plugins install" in line]
    assert len(installs) == 1 and "--set bootstrap" in installs[0]
    assert "unverified" not in recipe[1].lower()


def test_ci_refuses_another_platform(venv: Path) -> None:
    with pytest.raises(PluginError, match="CI runs on linux-amd64"):
        pulumi_plugins.commands(PLUGINS, "program", venv, ci=True, platform_name="linux-arm64")


def test_an_sdk_at_another_version_than_the_pin_is_refused(tmp_path: Path) -> None:
    moved = fake_venv(tmp_path, {"upstash_pulumi": ("0.6.0", {"resource": True, "name": "upstash"})})
    with pytest.raises(PluginError, match=r"upstash_pulumi: installed \['0.6.0'\], pinned 0.5.0"):
        pulumi_plugins.commands(PLUGINS[:1], "program", moved, ci=True, platform_name="linux-amd64")


def test_the_lock_file_format_is_enforced() -> None:
    assert pulumi_plugins.parse("program x pkg 1.2.3 UNRECORDED  # comment\n")[0].recorded is False
    for bad in ("program x pkg 1.2 UNRECORDED", "program x pkg ^1.2.3 UNRECORDED", "program x pkg 1.2.3 abc"):
        with pytest.raises(PluginError):
            pulumi_plugins.parse(bad)


def test_main_runs_each_install_and_stops_at_the_first_failure(
    venv: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    lock = tmp_path / "plugins.lock"
    lock.write_text("\n".join(" ".join(vars(p).values()) for p in PLUGINS[:2]))
    monkeypatch.setattr(pulumi_plugins, "LOCK", lock)
    monkeypatch.setattr(pulumi_plugins, "current_platform", lambda: "linux-amd64")
    monkeypatch.setenv("CI", "true")
    ran: list[list[str]] = []

    def recorder(status: int) -> Callable[[list[str]], int]:
        def run(command: list[str]) -> int:
            ran.append(command)
            return status

        return run

    args = ["install", "--set", "program", "--venv", str(venv)]
    assert pulumi_plugins.main(args, recorder(0)) == 0
    assert [c[4] for c in ran] == ["upstash", "random"]
    ran.clear()
    assert pulumi_plugins.main(args, recorder(1)) == 1
    assert len(ran) == 1


# -- the workflow -----------------------------------------------------------------------------------
def tool_violations(workflow: dict[str, Any]) -> list[str]:
    """Credentialed jobs that run Pulumi install the pinned CLI and plugins first; nothing else installs."""
    found: list[str] = []
    env = workflow.get("env") or {}
    if env.get("PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION") != "true":
        found.append("the workflow must set PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: 'true'")
    for job_id, job in workflow["jobs"].items():
        for where in [job, *steps(job)]:
            if "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION" in (where.get("env") or {}):
                found.append(f"{job_id}: overrides PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION")
        for step in steps(job):
            script = str(step.get("run", ""))
            if re.search(r"\bpulumi\s+(plugin\s+install|install|package\s+add)\b", script):
                found.append(f"{job_id}: installs plugins outside tools.pulumi_plugins: {script.strip()!r}")
        commands = pulumi_steps(job)
        if not commands:
            continue
        credentialed = environment(job) or (job.get("permissions") or {}).get("id-token") == "write"
        if not credentialed:
            found.append(f"{job_id}: runs Pulumi without credentials?")
        work_dirs = {str(with_(s).get("work-dir", ".")).strip("./") or "." for s in commands}
        expected = "bootstrap" if work_dirs == {"bootstrap"} else "program"
        first = min(steps(job).index(s) if s in steps(job) else _index_of(job, s) for s in commands)
        cli = [
            i
            for i, s in enumerate(steps(job))
            if action_name(s) == PULUMI_ACTION
            and not with_(s).get("command")
            and with_(s).get("pulumi-version") == "${{ env.PULUMI_VERSION }}"
        ]
        plugins = [
            (i, match)
            for i, s in enumerate(steps(job))
            if (match := INSTALL.match(str(s.get("run", "")).strip()))
        ]
        if not cli or cli[0] > first:
            found.append(f"{job_id}: no pinned CLI install before its first Pulumi command")
        if not plugins or plugins[0][0] > first:
            found.append(f"{job_id}: no pinned plugin install before its first Pulumi command")
        elif (plugins[0][1]["set"], plugins[0][1]["venv"]) != (expected, VENV_OF_SET[expected]):
            found.append(f"{job_id}: installs plugin set {plugins[0][1]['set']!r}, needs {expected!r}")
    return sorted(set(found))


def _index_of(job: dict[str, Any], command_step: dict[str, Any]) -> int:
    """The index of the run step a synthesized Pulumi command step came from."""
    return next(i for i, s in enumerate(steps(job)) if s.get("run") == command_step.get("run"))


@pytest.fixture(scope="module")
def infra() -> dict[str, Any]:
    return load(INFRA)


def test_credentialed_jobs_install_pinned_tools_only(infra: dict[str, Any]) -> None:
    assert tool_violations(infra) == []
    runners = {job_id for job_id, job in infra["jobs"].items() if pulumi_steps(job)}
    assert runners == set(infra["jobs"]) - {"test", "validate"}, "every credentialed job is checked"


def _drop_plugins(job_id: str) -> Callable[[dict[str, Any]], Any]:
    def change(wf: dict[str, Any]) -> None:
        wf["jobs"][job_id]["steps"] = [
            s for s in steps(wf["jobs"][job_id]) if not INSTALL.match(str(s.get("run", "")))
        ]

    return change


def _plugin_step(wf: dict[str, Any], job_id: str) -> dict[str, Any]:
    return next(s for s in steps(wf["jobs"][job_id]) if INSTALL.match(str(s.get("run", ""))))


def _plugins_last(wf: dict[str, Any]) -> None:
    job = wf["jobs"]["deploy-dev"]
    step = _plugin_step(wf, "deploy-dev")
    job["steps"].remove(step)
    job["steps"].append(step)


BREAK_TOOLS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "no-plugins": _drop_plugins("deploy-prod"),
    "plugins-after-pulumi": _plugins_last,
    "wrong-set": lambda wf: _plugin_step(wf, "preview-bootstrap").update(
        run="python -m tools.pulumi_plugins install --set program --venv .venv"
    ),
    "runtime-download": lambda wf: wf["env"].pop("PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"),
    "step-override": lambda wf: _plugin_step(wf, "drift-prod").update(
        env={"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "false"}
    ),
    "ad-hoc-install": lambda wf: wf["jobs"]["plan-prod"]["steps"].insert(
        3, {"run": "pulumi plugin install resource upstash"}
    ),
    "unpinned-cli": lambda wf: next(
        s for s in steps(wf["jobs"]["drift-dev"]) if action_name(s) == PULUMI_ACTION
    )["with"].update({"pulumi-version": "latest"}),
}


@pytest.mark.parametrize("change", BREAK_TOOLS.values(), ids=BREAK_TOOLS.keys())
def test_tool_check_catches(infra: dict[str, Any], change: Callable[[dict[str, Any]], Any]) -> None:
    assert tool_violations(mutated(infra, change))
